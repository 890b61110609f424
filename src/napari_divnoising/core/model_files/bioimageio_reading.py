"""Reading a bioimage.io package back: ours with the full posterior, others refused clearly.

Needs no bioimageio library: the package's description names the attached bundle. The
description is a foreign file: it is read with its size bounded, its YAML aliases unable to
multiply (:data:`~napari_divnoising.core.limits.MAX_DESCRIPTION_VALUES` values once
expanded) and its nesting bounded, and the attachment is checked against the largest model
file before it is copied out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ModelFileError
from ..limits import (
    MAX_DESCRIPTION_BYTES,
    MAX_DESCRIPTION_VALUES,
    MAX_MODEL_JSON_BYTES,
    MAX_NESTING,
    MAX_NETWORK_PARAMETERS,
    MAX_NOISE_MODEL_BYTES,
    PARAMETER_BYTES,
    WEIGHTS_SLACK_BYTES,
    check_member,
    read_member,
)
from ._package_files import BUNDLE, CONFIG_KEY

__all__ = ["is_bioimageio_package", "packaged_bundle"]

_RDF_NAMES = ("rdf.yaml", "bioimageio.yaml")
#: The largest model file we read: the largest network's weights, noise model and metadata.
_MAX_BUNDLE_BYTES = (
    MAX_NETWORK_PARAMETERS * PARAMETER_BYTES[1]
    + WEIGHTS_SLACK_BYTES
    + MAX_NOISE_MODEL_BYTES
    + MAX_MODEL_JSON_BYTES
)


def _expanded_size(root: Any) -> int | None:
    """Return how many YAML nodes `root` holds once aliases are expanded; None if cyclic."""
    sizes: dict[int, int | None] = {}

    def size(node: Any) -> int | None:
        if id(node) in sizes:
            return sizes[id(node)]  # None while in progress: an alias to an ancestor
        sizes[id(node)] = None
        children = node.value if isinstance(node.value, list) else []
        total: int | None = 1
        for child in children:
            for part in child if isinstance(child, tuple) else (child,):
                inner = size(part)
                total = None if inner is None or total is None else total + inner
                if total is None or total > MAX_DESCRIPTION_VALUES:
                    sizes[id(node)] = total
                    return total
        sizes[id(node)] = total
        return total

    return size(root)


def _parse_description(text: bytes, where: str) -> Any:
    """Parse a description's YAML with its nesting bounded and its aliases unable to multiply."""
    import yaml  # only to read a package, never on import

    class BoundedLoader(yaml.SafeLoader):
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise ModelFileError(
                    f"{where} nests deeper than {MAX_NESTING} levels, the most allowed"
                )
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node)
        if size is None or size > MAX_DESCRIPTION_VALUES:
            found = "refers to itself" if size is None else "has more values"
            raise ModelFileError(
                f"{where} {found} once its YAML aliases are expanded than the "
                f"{MAX_DESCRIPTION_VALUES:,} values a description may have at most"
            )
        return loader.construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError) as err:
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(f"{where} is not readable YAML ({type(err).__name__})") from err
    finally:
        loader.dispose()


def _rdf(archive: zipfile.ZipFile, path: Path) -> dict | None:
    for name in _RDF_NAMES:
        if name in archive.namelist():
            text = read_member(archive, name, limit=MAX_DESCRIPTION_BYTES, file=path.name)
            rdf = _parse_description(text, f"{path.name}: its {name}")
            if not isinstance(rdf, dict):
                raise ModelFileError(
                    f"{path.name}: its {name} is not a bioimage.io description (a mapping "
                    f"of fields), but {type(rdf).__name__}"
                )
            return rdf
    return None


def _short(value: Any) -> str:
    """Return a value of a foreign description, shortened for a one-line message."""
    text = " ".join(str(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


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
        rdf = _rdf(archive, path) or {}
        config = rdf.get("config")
        ours = config.get(CONFIG_KEY) if isinstance(config, dict) else None
        member = ours.get("bundle") if isinstance(ours, dict) else None
        if not isinstance(member, str) or member not in archive.namelist():
            weights = rdf.get("weights")
            formats = ", ".join(map(_short, weights)) if isinstance(weights, dict) else ""
            name = rdf.get("name")
            raise ModelFileError(
                f"{path.name} is a bioimage.io model "
                f"({_short(name) if isinstance(name, str) else 'unnamed'!r}, weights: "
                f"{formats or 'unknown'}) not made by napari-divnoising; run it with the tool "
                "that made it or with bioimageio.core (bioimageio predict)"
            )
        info = archive.getinfo(member)
        check_member(info, limit=_MAX_BUNDLE_BYTES, file=path.name)
        with tempfile.TemporaryDirectory() as folder:
            bundle = Path(folder) / BUNDLE
            try:
                with archive.open(info) as source, bundle.open("wb") as copy:
                    shutil.copyfileobj(source, copy)
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as err:
                raise ModelFileError(f"{path.name}: its {member} is damaged ({err})") from err
            yield bundle
