"""The files of a bioimage.io package: test tensors, cover, documentation, attachments."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, RunFailedError
from ._architecture import architecture_source

if TYPE_CHECKING:
    from ..model.trained import TrainedModel

__all__ = ["BUNDLE", "CITATION", "CITATION_DOI", "CONFIG_KEY", "test_tile", "write_package_files"]

#: The key of the package's ``config`` that marks it as ours and names the attached bundle.
CONFIG_KEY = "napari_divnoising"
BUNDLE = "model.divnoising"
CITATION = (
    "Prakash, M., Krull, A. & Jug, F. Fully unsupervised diversity denoising with "
    "convolutional variational autoencoders. ICLR 2021."
)
CITATION_DOI = "10.48550/arXiv.2006.06072"


def test_tile(image: np.ndarray, multiple: int, side: int = 128) -> np.ndarray:
    """A central tile of the first plane, sides multiples of `multiple`, ``(1, 1, Y, X)``."""
    plane = np.asarray(image, dtype=np.float32).reshape((-1, *np.shape(image)[-2:]))[0]
    sizes = [min(side, n) // multiple * multiple for n in plane.shape]
    if min(sizes) < multiple:
        raise InputError(
            f"the test image is {plane.shape[0]}×{plane.shape[1]} pixels; at least "
            f"{multiple}×{multiple} is needed for the package's test tile"
        )
    top, left = ((n - s) // 2 for n, s in zip(plane.shape, sizes, strict=True))
    return np.ascontiguousarray(plane[top : top + sizes[0], left : left + sizes[1]])[None, None]


def _run_exported(source: Path, model: TrainedModel, tile: np.ndarray, kwargs: dict) -> np.ndarray:
    """Run the architecture file as a bioimage.io tool would: the test output."""
    import torch

    spec = importlib.util.spec_from_file_location("_divnoising_export", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    wrapper = module.DivNoisingMMSE(**kwargs)
    wrapper.network.load_state_dict(model.network.state_dict())
    with torch.no_grad():
        x = torch.from_numpy((tile - model.data_mean) / model.data_std).float()
        out = wrapper.eval()(x).numpy()
    return (out * model.data_std + model.data_mean).astype(np.float32)


def _cover(path: Path, noisy: np.ndarray, mmse: np.ndarray) -> Path:
    """Write noisy | MMSE side by side as an 8-bit PNG (shared contrast limits)."""
    import imageio.v3 as iio

    low, high = np.percentile(noisy, [0.5, 99.5])
    pair = np.concatenate([noisy, mmse], axis=1)
    scaled = np.clip((pair - low) / max(high - low, 1e-12), 0, 1)
    iio.imwrite(path, (scaled * 255).astype(np.uint8))
    return path


def _documentation(model: TrainedModel, n_samples: int) -> str:
    network = model.network_config.model_dump(mode="json")
    return f"""# DivNoising denoiser

Trained with napari-divnoising (unsupervised: noisy images and a camera noise model only).

**What this package computes**: the **MMSE estimate — the mean of {n_samples} posterior
samples** of the DivNoising VAE, drawn with a fixed seed, so the output is reproducible.
A single package run is one denoised image, not a posterior: for posterior samples, the
MAP estimate and the per-pixel uncertainty, open the package in napari-divnoising
(`divnoising predict package.zip …` or the Sampling dock), which reads the full model
attached to it.

- Input: one raw camera image (single channel), sides multiples of {model.size_multiple}
  (`2**depth`); pad or crop other sizes. Intensities in raw camera units; the package
  normalises them (mean {model.data_mean:.6g}, std {model.data_std:.6g}).
- Network: {json.dumps(network)}
- Attached: the noise model, the training settings and loss history, the napari-divnoising
  model bundle.

Cite: {CITATION} doi:{CITATION_DOI}
"""


def write_package_files(
    folder: Path, model: TrainedModel, tile: np.ndarray, kwargs: dict, save: Any
) -> dict[str, Path]:
    """Write every file of the package into `folder`; return them by role."""
    import torch

    files = {"architecture": folder / "divnoising_architecture.py"}
    files["architecture"].write_text(architecture_source(), encoding="utf-8")
    files["weights"] = folder / "weights.pt"
    # The keys of the wrapper, which holds the network as `network`.
    state = {f"network.{k}": v.detach().cpu() for k, v in model.network.state_dict().items()}
    torch.save(state, files["weights"])
    output = _run_exported(files["architecture"], model, tile, kwargs)
    if not np.isfinite(output).all():  # a package whose test output is NaN helps nobody
        raise RunFailedError(
            "the exported model's output on the test tile holds NaN or infinite values; "
            "nothing was written — check the model on this image with divnoising predict"
        )
    np.save(files.setdefault("test_input", folder / "test_input.npy"), tile)
    np.save(files.setdefault("test_output", folder / "test_output.npy"), output)
    files["cover"] = _cover(folder / "cover.png", tile[0, 0], output[0, 0])
    files["documentation"] = folder / "README.md"
    files["documentation"].write_text(_documentation(model, kwargs["n_samples"]), "utf-8")
    files["noise_model"] = model.noise_model.save(folder / "noise_model")
    files["training"] = folder / "training.json"
    training = {"training_config": model.training_config.model_dump(mode="json")}
    training |= {"history": model.history, "provenance": model.provenance}
    files["training"].write_text(json.dumps(training, indent=1), encoding="utf-8")
    files["bundle"] = save(model, folder / BUNDLE)
    return files
