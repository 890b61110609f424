"""Plan every output of a run before any work starts, so a typo never costs hours.

:func:`plan_outputs` checks, for all the files a run will write, that none is an input,
none collides with another, none exists (unless overwriting is allowed), and that each one's
folder exists or can be made and is writable. Only then does the work begin.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import OutputError

__all__ = ["plan_outputs"]


def _writable_folder(path: Path) -> None:
    """Raise unless `path`'s folder exists as a writable folder or can be created."""
    folder = path.parent
    while not folder.exists():
        if folder.parent == folder:
            break
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: no permission to write in {folder}")


def plan_outputs(
    outputs: Mapping[str, Path] | Iterable[tuple[str, Path]],
    *,
    inputs: Iterable[Path] = (),
    overwrite: bool = False,
) -> list[Path]:
    """Check every output path of a run; return them in order.

    Parameters
    ----------
    outputs : mapping or iterable of (source, path)
        Each output file and what it is made from, for the messages (``"a/x.tif"``). The
        same source may have several outputs.
    inputs : iterable of Path
        The run's input files, which are never overwritten.
    overwrite : bool
        Whether existing outputs may be replaced.

    Returns
    -------
    list of Path
        The output paths.

    Raises
    ------
    OutputError
        If an output is an input, two outputs are the same file, an output exists (without
        `overwrite`) or is a folder, or its folder cannot be written.

    Examples
    --------
    >>> from pathlib import Path
    >>> same = Path("out/x_mmse.tif")
    >>> plan_outputs([("a/x.tif", same), ("b/x.tif", same)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    napari_divnoising.core.errors.OutputError: out/x_mmse.tif would be written twice, ...
    """
    items = list(outputs.items()) if isinstance(outputs, Mapping) else list(outputs)
    protected = {Path(path).resolve() for path in inputs}
    seen: dict[Path, str] = {}
    for source, path in items:
        path = Path(path)
        resolved = path.resolve()
        if resolved in seen and seen[resolved] != source:
            raise OutputError(
                f"{path} would be written twice, for {seen[resolved]} and for {source}; "
                "give the inputs different names or separate output folders"
            )
        seen[resolved] = source
        if resolved in protected:
            raise OutputError(f"{path} is one of the inputs; refusing to overwrite it")
        if path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name")
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass --overwrite to replace it")
        _writable_folder(path)
    return [path for _, path in items]
