"""The direct network on the command line: trained with the VAE or later, used by predict."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from napari_divnoising.cli import main
from napari_divnoising.core.model_files.bundle import load_model

from .conftest import TINY_TRAINING

DIRECT = ["--direct-steps", "30"]


@pytest.fixture(scope="module")
def direct_model(sample, model_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("direct") / "with_direct.divnoising"
    argv = ["train", str(sample["noisy"]), "--direct-from", str(model_file), *DIRECT]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


def test_direct_from_adds_a_direct_network_and_leaves_the_model_alone(
    direct_model, model_file, capsys
):
    assert load_model(model_file).direct_network is None
    model = load_model(direct_model)
    assert model.direct_network is not None
    assert model.direct_config.max_steps == 30
    # the VAE is the one it was given
    original = load_model(model_file).network.state_dict()
    for name, value in model.network.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), original[name].numpy())


def test_train_with_direct_trains_both(sample, noise_model_file, tmp_path):
    out = tmp_path / "both.divnoising"
    argv = ["train", str(sample["noisy"]), "--noise-model", str(noise_model_file), "--direct"]
    assert main([*argv, *DIRECT, "--out", str(out), *TINY_TRAINING, "--quiet"]) == 0
    assert load_model(out).direct_network is not None


def test_direct_from_refuses_to_write_over_its_model(sample, model_file, capsys):
    argv = ["train", str(sample["noisy"]), "--direct-from", str(model_file), *DIRECT]
    assert main([*argv, "--out", str(model_file), "--overwrite", "--quiet"]) == 2
    assert "input" in capsys.readouterr().err


@pytest.mark.parametrize("output_format", ["tiff", "ome-zarr"])
def test_predict_direct_writes_the_direct_mmse_only(sample, direct_model, tmp_path, output_format):
    out = tmp_path / "out"
    argv = ["predict", str(direct_model), str(sample["noisy"]), "--direct"]
    assert main([*argv, "--format", output_format, "--out", str(out), "--quiet"]) == 0
    written = sorted(p.name for p in out.iterdir() if not p.name.endswith(".json"))
    suffix = ".tif" if output_format == "tiff" else ".ome.zarr"
    assert written == [f"noisy_direct_mmse{suffix}"]
    if output_format == "tiff":
        result = tifffile.imread(out / written[0])
        noisy = tifffile.imread(sample["noisy"])
        assert result.shape == noisy.shape and np.isfinite(result).all()


def test_predict_direct_with_a_model_without_one_says_how_to_train_it(
    sample, model_file, tmp_path, capsys
):
    argv = ["predict", str(model_file), str(sample["noisy"]), "--direct"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "--direct-from" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_predict_direct_with_uncertainty_is_refused_before_any_work(
    sample, direct_model, tmp_path, capsys
):
    argv = ["predict", str(direct_model), str(sample["noisy"]), "--direct", "--uncertainty"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert "posterior sampler" in capsys.readouterr().err
