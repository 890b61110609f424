"""Export a trained model as a bioimage.io model package (format 0.5); read ours back.

The package is built with ``bioimageio.spec`` (the ``bioimageio`` extra), not written by
hand, and holds:

- ``pytorch_state_dict`` weights with their architecture source (one file needing only
  torch, see :mod:`._architecture`): the **posterior mean of a fixed number of samples with
  a fixed seed**, so the package's test output is reproducible anywhere;
- input and output axes ``batch, channel, y, x`` whose sides step in ``2**depth``, the
  normalisation as pre-processing (and its inverse as post-processing);
- test tensors and a cover (noisy | MMSE) from the user's own data;
- attached: the noise model, the training settings and loss history, and this package's
  own ``.divnoising`` bundle, from which napari-divnoising reads the package back with the
  full posterior (samples, MAP, uncertainty).

TorchScript weights are not added: the latent noise's shape follows the input's size, which
a trace would freeze.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from ..errors import InputError, OutputError, SettingsError
from ..events import Progress, blocking
from ..io import atomic_path
from ..optional import import_optional
from ..outputs import plan_outputs
from ..provenance import package_version
from ..validation import as_image_stack
from ._package_files import (
    BUNDLE,
    CITATION,
    CITATION_DOI,
    CONFIG_KEY,
    test_tile,
    write_package_files,
)
from .bundle import save_model
from .export_defaults import EXPORT_SAMPLES

if TYPE_CHECKING:
    from ..model.trained import TrainedModel

__all__ = ["EXPORT_SAMPLES", "export_bioimageio", "iter_export_bioimageio"]

_PURPOSE = "exporting to bioimage.io"


def iter_export_bioimageio(
    model: TrainedModel,
    test_image: np.ndarray,
    path: str | os.PathLike[str],
    *,
    license: str,
    authors: list[str],
    name: str = "DivNoising denoiser",
    n_samples: int = EXPORT_SAMPLES,
    seed: int = 0,
) -> Generator[Progress, None, Path]:
    """Write `model` as a bioimage.io model package (zip), atomically, step by step.

    Yields a :class:`~napari_divnoising.core.events.Progress` before each step (checking,
    the weights and the test output, the description, the package), so a caller can show
    progress and stop between steps; stopping leaves no file behind.

    Parameters
    ----------
    model : TrainedModel
        The trained model; it must have a noise model.
    test_image : ndarray
        The user's own noisy data; a central tile of its first plane becomes the test input.
    path : path-like
        The ``.zip`` to write.
    license : str
        An SPDX license identifier (``"CC-BY-4.0"``, ``"MIT"``, …).
    authors : list of str
        Who made the model.
    name : str
        The model's name in the Model Zoo.
    n_samples, seed : int
        Posterior samples averaged by the exported MMSE, and their seed.

    Returns
    -------
    Path
        The package written (the generator's return value).

    Raises
    ------
    InputError
        If the model has no noise model, or the test image is missing or too small.
    SettingsError
        If the license, authors or name are not valid for bioimage.io.
    OutputError
        If the package cannot be written.
    """
    yield _step("checking the model and the test image", 0)
    if getattr(model, "noise_model", None) is None:
        raise InputError(
            "this model has no noise model (it was trained with a Gaussian likelihood); "
            "bioimage.io packages of DivNoising carry the camera noise model: train with one"
        )
    if test_image is None:
        raise InputError("no test data: give a noisy image of your own for the package's test")
    as_image_stack(test_image, name="test image")
    if not license or not license.strip():
        raise SettingsError("give the model's license, an SPDX id such as CC-BY-4.0")
    if not authors:
        raise SettingsError("give at least one author (--author NAME)")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise SettingsError(
            f"the package's MMSE averages `n_samples` posterior samples: at least 1 (got "
            f"{n_samples!r})"
        )
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise SettingsError(f"the package must be a .zip file (got {path.name})")
    plan_outputs([("the model", path)], overwrite=True)  # a writable place, before any work
    tile = test_tile(test_image, model.size_multiple)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        kwargs = {"n_samples": n_samples, "seed": seed, **model.network_config.network_kwargs()}
        yield _step(f"writing the weights and the test output ({n_samples} samples)", 1)
        files = write_package_files(folder, model, tile, kwargs, save_model)
        yield _step("describing the model for bioimage.io", 2)
        descr = _describe(model, files, kwargs, license=license, authors=authors, name=name)
        yield _step("writing the package", 3)
        with atomic_path(path) as temporary:
            _save_package(descr, temporary)
    yield _step("package written", _EXPORT_STEPS)
    return path


#: Steps of :func:`iter_export_bioimageio`.
_EXPORT_STEPS = 4


def _step(status: str, step: int) -> Progress:
    return Progress("exporting to bioimage.io", step, _EXPORT_STEPS, status=status)


#: The blocking form of :func:`iter_export_bioimageio`: returns the package written.
export_bioimageio = blocking(iter_export_bioimageio)


def _describe(model, files, kwargs, *, license, authors, name) -> Any:
    """Return the bioimageio.spec ModelDescr of the package (validated by the library)."""
    import torch

    spec = import_optional("bioimageio.spec.model.v0_5", extra="bioimageio", purpose=_PURPOSE)

    multiple = model.size_multiple
    y, x = spec.AxisId("y"), spec.AxisId("x")
    size = spec.ParameterizedSize(min=multiple * max(1, 16 // multiple), step=multiple)
    mean, std = float(model.data_mean), float(model.data_std)

    def same(axis: Any) -> Any:  # an output side: that of the input
        return spec.SizeReference(tensor_id=spec.TensorId("noisy"), axis_id=axis)

    try:
        return spec.ModelDescr(
            name=name,
            description="DivNoising (unsupervised diversity denoising): the MMSE of "
            f"{kwargs['n_samples']} posterior samples, trained with napari-divnoising",
            authors=[spec.Author(name=author) for author in authors],
            cite=[spec.CiteEntry(text=CITATION, doi=spec.Doi(CITATION_DOI))],
            license=license,
            documentation=spec.FileDescr(source=files["documentation"]),
            covers=[spec.FileDescr(source=files["cover"])],
            tags=["denoising", "divnoising", "unsupervised", "vae", "2d", "pytorch"],
            inputs=[
                spec.InputTensorDescr(
                    id=spec.TensorId("noisy"),
                    description="raw camera image",
                    axes=_axes(spec, "raw", [size, size], spec.SpaceInputAxis),
                    test_tensor=spec.FileDescr(source=files["test_input"]),
                    preprocessing=[
                        spec.EnsureDtypeDescr(kwargs=spec.EnsureDtypeKwargs(dtype="float32")),
                        spec.FixedZeroMeanUnitVarianceDescr(
                            kwargs=spec.FixedZeroMeanUnitVarianceKwargs(mean=mean, std=std)
                        ),
                    ],
                )
            ],
            outputs=[
                spec.OutputTensorDescr(
                    id=spec.TensorId("mmse"),
                    description=f"posterior mean of {kwargs['n_samples']} samples, raw units",
                    axes=_axes(spec, "mmse", [same(y), same(x)], spec.SpaceOutputAxis),
                    test_tensor=spec.FileDescr(source=files["test_output"]),
                    postprocessing=[
                        spec.ScaleLinearDescr(kwargs=spec.ScaleLinearKwargs(gain=std, offset=mean))
                    ],
                )
            ],
            weights=spec.WeightsDescr(
                pytorch_state_dict=spec.PytorchStateDictWeightsDescr(
                    source=files["weights"],
                    architecture=spec.ArchitectureFromFileDescr(
                        source=files["architecture"], callable="DivNoisingMMSE", kwargs=kwargs
                    ),
                    pytorch_version=spec.Version(torch.__version__.split("+")[0]),
                )
            ),
            attachments=[
                spec.FileDescr(source=files[key]) for key in ("noise_model", "training", "bundle")
            ],
            config={CONFIG_KEY: {"bundle": BUNDLE, "package_version": package_version()}},
        )
    except ValidationError as err:
        raise SettingsError(f"not a valid bioimage.io model: {_first_error(err)}") from err


def _axes(spec: Any, channel: str, sizes: list[Any], space: Any) -> list[Any]:
    """Return the axes ``batch, channel, y, x`` of a one-channel image tensor."""
    return [
        spec.BatchAxis(),
        spec.ChannelAxis(channel_names=[spec.Identifier(channel)]),
        *(space(id=spec.AxisId(a), size=n) for a, n in zip("yx", sizes, strict=True)),
    ]


def _first_error(error: Any) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem.get("loc", ()))
    return f"{where}: {problem.get('msg')}"


def _save_package(descr: Any, path: Path) -> None:
    library = import_optional("bioimageio.spec", extra="bioimageio", purpose=_PURPOSE)
    try:
        library.save_bioimageio_package(descr, output_path=path)
    except OSError as err:
        raise OutputError(f"cannot write the package: {err}") from err
