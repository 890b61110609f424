"""Small helpers for noise model files: atomic writes, suffixes and JSON metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import SettingsError
from ..io import atomic_path
from ..limits import check_nesting

#: Key of the JSON metadata inside our `.npz` files; the reference tools never read it.
METADATA_KEY = "metadata"


def resolve_suffix(path: str | Path, *, allowed: tuple[str, ...], default: str) -> Path:
    """Return `path` with `default` appended when it has no suffix; check the suffix."""
    path = Path(path)
    if path.suffix == "":
        path = path.with_name(path.name + default)
    if path.suffix.lower() not in allowed:
        raise SettingsError(
            f"cannot save this noise model as {path.name!r}: the file name must end in "
            f"{' or '.join(allowed)} (got {path.suffix!r})"
        )
    return path


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(file)`` on a temporary file beside `path`, then move it into place.

    A crash or a full disk never leaves a half-written model under the final name.
    """
    with atomic_path(path) as temporary, open(temporary, "wb") as file:
        write(file)
    return path


def encode_metadata(metadata: dict[str, Any]) -> np.ndarray:
    """Encode metadata as a 0-d unicode array (loads without pickle)."""
    return np.array(json.dumps(metadata, sort_keys=True, default=str))


def decode_metadata(value: np.ndarray | None) -> dict[str, Any]:
    """Decode what :func:`encode_metadata` wrote; unreadable metadata give ``{}``."""
    if value is None:
        return {}
    try:
        decoded = json.loads(str(np.asarray(value).item()))
        check_nesting(decoded, file="noise model", what="its metadata")
    except (ValueError, TypeError, RecursionError):  # also ModelFileError, a ValueError
        return {}
    return decoded if isinstance(decoded, dict) else {}
