"""Catalogue rows: images whose axes are not a plain stack of planes, and unreadable formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_divnoising.cli import main
from napari_divnoising.core.io import write_tiff

from .conftest import refused

TINY = ["--max-epochs", "1", "--patch-size", "32", "--batch-size", "4", "--quiet"]
SPLIT = "split the channels (e.g. in Fiji: Image ▸ Color ▸ Split Channels) and denoise each"


def _argv(workspace, command: str, image) -> list:
    """The command line of `command` on `image`, with the tiny settings of the catalogue."""
    if command == "train":
        out = workspace.path("m.divnoising")
        return ["train", image, "--noise-model", workspace.noise_model, "--out", out, *TINY]
    if command == "predict":
        out = workspace.path("results")
        return ["predict", workspace.model, image, "--out", out, "--samples", "2", "--quiet"]
    out = workspace.path("boot.npz")
    return ["fit-noise-model", "--bootstrap", image, "--out", out, "--iterations", "5", "--quiet"]


def _outputs_absent(workspace) -> bool:
    return not any(
        workspace.path(name).exists() for name in ("m.divnoising", "results", "boot.npz")
    )


def _predict(workspace, image, *options) -> Path:
    """Predict `image` into a fresh folder; return the folder."""
    out = workspace.path(f"results_{image.stem}")
    argv = ["predict", workspace.model, image, "--out", out, "--samples", "2", *options]
    assert main([str(part) for part in [*argv, "--quiet"]]) == 0
    return out


COMMANDS = ["train", "predict", "fit-noise-model"]


def test_a_tzyx_ome_tiff_is_denoised_plane_by_plane_in_its_own_shape(workspace):
    noisy = tifffile.imread(workspace.noisy)
    hyperstack = np.stack([noisy, noisy[::-1]], axis=1)  # T=3, Z=2
    ome = workspace.path("timelapse.ome.tif")
    tifffile.imwrite(ome, hyperstack, ome=True, metadata={"axes": "TZYX"})
    flat = write_tiff(workspace.path("flat.tif"), hyperstack.reshape(6, 64, 64))
    mmse = tifffile.imread(_predict(workspace, ome) / "timelapse.ome_mmse.tif")
    assert mmse.shape == hyperstack.shape
    flat_mmse = tifffile.imread(_predict(workspace, flat) / "flat_mmse.tif")
    np.testing.assert_array_equal(mmse.reshape(6, 64, 64), flat_mmse)


def test_an_image_with_time_last_comes_back_time_first(workspace):
    noisy = tifffile.imread(workspace.noisy)
    path = workspace.path("yxt.tif")
    tifffile.imwrite(path, np.moveaxis(noisy, 0, -1), metadata={"axes": "YXT"})
    assert tifffile.imread(_predict(workspace, path) / "yxt_mmse.tif").shape == (3, 64, 64)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_two_channel_image_is_refused_with_the_advice_to_split_it(workspace, capsys, command):
    noisy = tifffile.imread(workspace.noisy)
    path = workspace.path("two_channels.tif")
    tifffile.imwrite(path, noisy[:2], imagej=True, metadata={"axes": "CYX"})
    reason = refused(capsys, _argv(workspace, command, path))
    assert reason.endswith(f"two_channels.tif has 2 channels (axes CYX): DivNoising denoises "
                           f"one channel at a time; {SPLIT}")  # fmt: skip
    assert _outputs_absent(workspace)


def test_a_single_channel_hyperstack_is_denoised_without_its_channel_axis(workspace):
    noisy = tifffile.imread(workspace.noisy)
    path = workspace.path("one_channel.tif")
    tifffile.imwrite(path, noisy[None], photometric="minisblack", metadata={"axes": "CZYX"})
    assert tifffile.imread(_predict(workspace, path) / "one_channel_mmse.tif").shape == noisy.shape


@pytest.mark.parametrize("command", COMMANDS)
def test_a_5d_array_without_axes_is_refused_and_names_the_option(workspace, capsys, command):
    noisy = tifffile.imread(workspace.noisy)
    np.save(workspace.path("five.npy"), noisy.reshape(3, 1, 1, 64, 64))
    reason = refused(capsys, _argv(workspace, command, workspace.path("five.npy")))
    assert "five.npy is a 5-D image (shape (3, 1, 1, 64, 64)) without axes metadata" in reason
    assert "pass its axes, one letter per axis, e.g. --axes TZCYX" in reason
    assert _outputs_absent(workspace)


def test_a_5d_array_with_its_axes_is_trained_on_and_denoised(workspace, capsys):
    noisy = tifffile.imread(workspace.noisy)
    np.save(workspace.path("five.npy"), np.stack([noisy, noisy], axis=1)[:, :, None])
    five = workspace.path("five.npy")  # T=3, Z=2, C=1
    assert main([str(part) for part in [*_argv(workspace, "train", five), "--axes", "TZCYX"]]) == 0
    assert workspace.path("m.divnoising").is_file()
    mmse = tifffile.imread(_predict(workspace, five, "--axes", "tzcyx") / "five_mmse.tif")
    assert mmse.shape == (3, 2, 64, 64)


BAD_AXES = [
    ("TZYX", "--axes TZYX has 4 letters but noisy.tif (shape (3, 64, 64)) has 3 axes"),
    ("TWX", "--axes TWX: unknown letter(s) W"),
    ("TTYX", "--axes TTYX names T more than once"),
    ("TZ", "--axes TZ lacks Y or X"),
    ("", "--axes is empty"),
]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("axes", "message"), BAD_AXES, ids=[row[0] or "empty" for row in BAD_AXES]
)
def test_bad_axes_are_refused_naming_the_option(workspace, capsys, command, axes, message):
    reason = refused(capsys, [*_argv(workspace, command, workspace.noisy), "--axes", axes])
    assert message in reason and "e.g. --axes" in reason
    assert _outputs_absent(workspace)


def test_axes_with_calibration_frames_are_refused(workspace, capsys):
    argv = ["fit-noise-model", "--calibration", workspace.calibration, "--axes", "TYX"]
    reason = refused(capsys, [*argv, "--out", workspace.path("nm2.npz")])
    assert "--axes goes with --bootstrap" in reason


@pytest.mark.parametrize("command", COMMANDS)
def test_an_rgb_tiff_is_refused_with_the_advice_to_split_it(workspace, capsys, command):
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    tifffile.imwrite(workspace.path("photo.tif"), rgb, photometric="rgb")
    reason = refused(capsys, _argv(workspace, command, workspace.path("photo.tif")))
    assert "photo.tif is an RGB colour image (3 samples per pixel, axes YXS)" in reason
    assert reason.endswith(SPLIT)
    assert _outputs_absent(workspace)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_16_bit_png_is_refused_naming_the_formats_read(workspace, capsys, command):
    image = pytest.importorskip("PIL.Image")
    png = workspace.path("camera.png")
    image.fromarray(tifffile.imread(workspace.first_frame).astype(np.uint16)).save(png)
    reason = refused(capsys, _argv(workspace, command, png))
    assert reason.endswith(
        "cannot read camera.png: .png files are not supported; expected one of .tif, .tiff, "
        ".npy (save it as TIFF, e.g. in Fiji: File ▸ Save As ▸ Tiff…)"
    )
