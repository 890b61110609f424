"""Reading a bioimage.io package back: ours with the full posterior, others refused clearly.

Needs no bioimageio library: the package's description names the attached bundle.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelFileError
from ._package_files import BUNDLE, CONFIG_KEY

if TYPE_CHECKING:
    pass

__all__ = ["is_bioimageio_package", "packaged_bundle"]

_RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")


def _rdf(archive: zipfile.ZipFile) -> dict | None:
    import yaml

    for name in _RDF_NAMES:
        if name in archive.namelist():
            return yaml.safe_load(archive.read(name))
    return None


def is_bioimageio_package(path: str | os.PathLike[str]) -> bool:
    """Return whether `path` is a zip holding a bioimage.io description."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name in archive.namelist() for name in _RDF_NAMES)
    except (OSError, zipfile.BadZipFile):
        return False


@contextlib.contextmanager
def packaged_bundle(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the model file a package exported by napari-divnoising carries, extracted.

    Raises
    ------
    ModelFileError
        If the package comes from another tool, or its attachment is missing.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        rdf = _rdf(archive) or {}
        ours = (rdf.get("config") or {}).get(CONFIG_KEY)
        if not isinstance(ours, dict) or ours.get("bundle") not in archive.namelist():
            weights = ", ".join(rdf.get("weights") or {}) or "unknown"
            raise ModelFileError(
                f"{path.name} is a bioimage.io model ({rdf.get('name', 'unnamed')!r}, weights: "
                f"{weights}) not made by napari-divnoising; run it with the tool that made it "
                "or with bioimageio.core (bioimageio predict)"
            )
        with tempfile.TemporaryDirectory() as folder:
            bundle = Path(folder) / BUNDLE
            bundle.write_bytes(archive.read(ours["bundle"]))
            yield bundle
