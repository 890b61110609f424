"""Load noise models from our files and from those of the reference tools.

A noise-model file may come from anywhere: every array's declared size is checked against
its file and :data:`~napari_divnoising.core.limits.MAX_NOISE_MODEL_BYTES` before numpy
allocates it, and every zip member against the same limit and deflate's largest ratio.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import ModelFileError
from ..headers import npy_declared
from ..limits import MAX_NOISE_MODEL_BYTES, check_member
from ..noise_model._file_format import METADATA_KEY, decode_metadata
from ..noise_model.base import NoiseModel
from ..noise_model.gmm import GaussianMixtureNoiseModel
from ..noise_model.histogram import HistogramNoiseModel

__all__ = ["load_noise_model"]

_GMM_KEYS = ("trained_weight", "min_signal", "max_signal", "min_sigma")
_EXPECTED = (
    "a Gaussian mixture noise model (.npz with 'trained_weight', 'min_signal', "
    "'max_signal' and 'min_sigma') or a histogram noise model (.npy array of shape "
    "(3, bins, bins), or .npz with 'histogram')"
)
#: What reading a damaged or foreign file can raise inside numpy and zipfile.
_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, zlib.error)
#: Arrays in a noise-model .npz: ours hold 5 or 6, the reference tools' 4.
_MAX_MEMBERS = 64


def _check_declared(path: Path, magic: bytes) -> None:
    """Refuse arrays that declare more bytes than their file holds, or than the limit."""
    limit = {"limit": MAX_NOISE_MODEL_BYTES, "error": ModelFileError}
    if magic.startswith(b"\x93NUMPY"):
        with path.open("rb") as handle:
            npy_declared(handle, available=path.stat().st_size, file=path, **limit)
        return
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > _MAX_MEMBERS:
            raise ModelFileError(
                f"{path} holds {len(members):,} arrays; a noise model has at most {_MAX_MEMBERS}"
            )
        for info in members:
            check_member(info, limit=MAX_NOISE_MODEL_BYTES, file=path)
            if info.filename.endswith(".npy"):
                with archive.open(info) as member:
                    where = f"{path} ({info.filename})"
                    npy_declared(member, available=info.file_size, file=where, **limit)


def _scalar(value: np.ndarray, key: str, path: Path) -> float:
    array = np.asarray(value)
    if array.size != 1 or not np.issubdtype(array.dtype, np.number):
        raise ModelFileError(
            f"{path}: '{key}' must hold one number (got shape {array.shape}, dtype {array.dtype})"
        )
    return float(array.ravel()[0])


def _from_npz(archive: np.lib.npyio.NpzFile, path: Path) -> NoiseModel:
    keys = set(archive.files)
    metadata = decode_metadata(archive[METADATA_KEY]) if METADATA_KEY in keys else {}
    if "trained_weight" in keys:
        missing = [key for key in _GMM_KEYS if key not in keys]
        if missing:
            raise ModelFileError(
                f"{path}: a Gaussian mixture noise model needs the keys {list(_GMM_KEYS)}; "
                f"{missing} are missing"
            )
        return GaussianMixtureNoiseModel(
            np.asarray(archive["trained_weight"], dtype=np.float32),
            min_signal=_scalar(archive["min_signal"], "min_signal", path),
            max_signal=_scalar(archive["max_signal"], "max_signal", path),
            min_sigma=_scalar(archive["min_sigma"], "min_sigma", path),
            metadata=metadata,
        )
    if "histogram" in keys:
        ranges = {
            key: _scalar(archive[key], key, path)
            for key in ("min_signal", "max_signal")
            if key in keys
        }
        return HistogramNoiseModel(archive["histogram"], metadata=metadata, **ranges)
    shown = sorted(keys)[:8]
    raise ModelFileError(f"{path} is a zip/.npz file with keys {shown}, not {_EXPECTED}")


def load_noise_model(path: str | Path) -> NoiseModel:
    """Load a Gaussian mixture or histogram noise model, detecting its kind.

    Reads our files and those written by the reference tools (juglab/PPN2V,
    juglab/DivNoising): a GMM `.npz` with only ``trained_weight``, ``min_signal``,
    ``max_signal`` and ``min_sigma`` gives the same likelihoods here as there.

    Parameters
    ----------
    path : str or Path
        A `.npz` (Gaussian mixture or histogram) or `.npy` (histogram) file.

    Returns
    -------
    NoiseModel
        A :class:`GaussianMixtureNoiseModel` or :class:`HistogramNoiseModel`.

    Raises
    ------
    FileNotFoundError
        If `path` does not exist.
    ModelFileError
        A ``ValueError`` raised for corrupt, truncated or foreign files; the message names
        the file and what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no noise model file at {path}")
    with path.open("rb") as file:
        magic = file.read(6)
    if magic != b"\x93NUMPY" and not magic.startswith(b"PK"):
        raise ModelFileError(f"{path} is not a NumPy .npy/.npz file; expected {_EXPECTED}")
    try:
        _check_declared(path, magic)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            # Values beyond float32 become inf, which the models refuse by name.
            with loaded, np.errstate(over="ignore", invalid="ignore"):
                return _from_npz(loaded, path)
        array = np.asarray(loaded)
        if array.ndim != 3 or array.shape[0] != 3 or array.shape[1] != array.shape[2]:
            raise ModelFileError(
                f"{path} holds an array of shape {array.shape}, dtype {array.dtype}; "
                f"expected {_EXPECTED}"
            )
        return HistogramNoiseModel(array)
    except ModelFileError:
        raise
    except _READ_ERRORS as err:
        raise ModelFileError(
            f"{path} could not be read as a noise model ({type(err).__name__}: {err}); "
            f"expected {_EXPECTED}"
        ) from err
