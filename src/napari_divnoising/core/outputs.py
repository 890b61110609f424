"""Plan every output of a run before any work starts, so a typo never costs hours.

:func:`plan_outputs` checks, for all the files a run will write, that none is an input,
none collides with another, none exists (unless overwriting is allowed), and that each one's
folder exists or can be made and is writable. Only then does the work begin.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import OutputError, SettingsError

__all__ = ["check_output_name", "check_spares_inputs", "output_name_from", "plan_outputs"]

#: Characters no output name may hold: path separators, and what Windows forbids in names
#: (so that results copied to a Windows share keep their names).
_NOT_IN_NAMES = set('/\\<>:"|?*')
#: Names Windows keeps for devices, whatever follows their first dot ("CON.ome.zarr" is the
#: console there): results named so could not be written or copied to Windows.
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}
)
#: Bytes of a name: file systems allow 255 per file name, and results add up to ~30
#: (``_uncertainty.ome.zarr``, a temporary file's prefix and suffix).
MAX_NAME_BYTES = 200


def check_output_name(name: str) -> str:
    """Return `name` if it can prefix output files in a folder, else raise.

    A name is a name, not a path: it never climbs out of the output folder, and it never
    makes file names that a shell or another operating system cannot handle.

    Raises
    ------
    SettingsError
        If `name` is empty, ``.`` or ``..``, starts with a dot or ends with a space or dot,
        holds a path separator, a control character (a newline) or a character Windows
        forbids, is a name Windows keeps for a device (``CON``, ``NUL``, ``COM1``…), or
        is longer than :data:`MAX_NAME_BYTES` bytes.

    Examples
    --------
    >>> check_output_name("embryo_day2")
    'embryo_day2'
    >>> check_output_name("../../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    napari_divnoising.core.errors.SettingsError: the output name '../../x' is a path, ...
    """
    shown = repr(name)
    if not isinstance(name, str) or not name.strip():
        raise SettingsError(f"the output name must be a non-empty name (got {shown})")
    if set(name) & {"/", "\\"} or os.path.isabs(name) or name in (".", ".."):
        raise SettingsError(
            f"the output name {shown} is a path, not a name; give a plain name such as "
            "'embryo_day2' (the folder is --out)"
        )
    bad = sorted({c for c in name if c in _NOT_IN_NAMES or ord(c) < 32 or ord(c) == 127})
    if bad:
        raise SettingsError(
            f"the output name {shown} holds {', '.join(map(repr, bad))}; use letters, digits, "
            "spaces and - _ . ( ) +"
        )
    if name.startswith(".") or name[-1] in " .":
        raise SettingsError(
            f"the output name {shown} starts with a dot or ends with a space or dot "
            "(hidden or, on Windows, renamed files); drop them"
        )
    if _is_windows_device(name):
        raise SettingsError(
            f"the output name {shown} is the name of a device on Windows, where its results "
            "could be neither written nor copied; add to it (e.g. 'con_1')"
        )
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise SettingsError(
            f"the output name is {len(name.encode('utf-8'))} bytes long; at most "
            f"{MAX_NAME_BYTES} fit in a file name with the results' suffixes"
        )
    return name


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


def output_name_from(text: str) -> str:
    """Return an output name made from `text`, such as a layer's name.

    What a name may not hold is replaced by ``_``, so that a default name is always one
    :func:`check_output_name` accepts.

    Examples
    --------
    >>> output_name_from("../day 1: embryo")
    'day 1_ embryo'
    """
    kept = "".join("_" if c in _NOT_IN_NAMES or ord(c) < 32 or ord(c) == 127 else c for c in text)
    kept = kept.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", "ignore")
    kept = kept.lstrip("._ ").rstrip(". ")
    if _is_windows_device(kept):
        kept += "_"
    return kept or "image"


def _is_windows_device(name: str) -> bool:
    """Whether Windows takes `name` (or `name` with any suffix) for a device."""
    return name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES


def _touched_input(output: Path, inputs: list[Path]) -> Path | None:
    """Return the input that writing or replacing `output` would change, if any."""
    for item in inputs:
        # The same path; an input inside an output replaced whole (a store, a folder); an
        # output written inside an input store or folder.
        if output == item or item.is_relative_to(output) or output.is_relative_to(item):
            return item
    return None


def check_spares_inputs(
    outputs: Iterable[str | os.PathLike[str]],
    *,
    inputs: Iterable[str | os.PathLike[str]],
    folder: str | os.PathLike[str] | None = None,
) -> None:
    """Raise if writing, or replacing, any of `outputs` could change one of `inputs`.

    Covers every format: an output that is an input, an output store or folder that holds
    an input (replacing it would delete the input), and an output, or the output `folder`,
    inside an input store or folder of images.

    Raises
    ------
    OutputError
        Naming the output and the input it would change.
    """
    protected = [Path(path).resolve() for path in inputs]
    if folder is not None:
        inside = next((i for i in protected if Path(folder).resolve().is_relative_to(i)), None)
        if inside is not None:
            raise OutputError(
                f"the output folder {folder} is inside the input {inside}; writing there "
                "would change the input — choose a folder outside it"
            )
    for path in outputs:
        touched = _touched_input(Path(path).resolve(), protected)
        if touched is not None:
            raise OutputError(
                f"{path} would overwrite or change the input {touched}; nothing was written "
                "— choose another output folder or name (--overwrite never replaces inputs)"
            )


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
    check_spares_inputs([path for _, path in items], inputs=inputs)
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
        if path.is_dir():
            raise OutputError(f"{path} is a folder; give a file name")
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass --overwrite to replace it")
        _writable_folder(path)
    return [path for _, path in items]
