"""``divnoising predict`` into OME-Zarr: format choice, a local cluster, clear errors."""

import shutil

import numpy as np
import pytest
import tifffile
import zarr

from napari_divnoising.cli import main


def _mmse(folder, stem):
    return zarr.open_array(str(folder / f"{stem}_mmse.ome.zarr" / "0"), mode="r")[:]


@pytest.fixture
def stack_zarr(sample, tmp_path):
    noisy = tifffile.imread(sample["noisy"])
    array = zarr.create_array(
        str(tmp_path / "noisy.zarr"), shape=noisy.shape, chunks=(1, *noisy.shape[1:]),
        dtype=noisy.dtype,
    )  # fmt: skip
    array[:] = noisy
    return tmp_path / "noisy.zarr"


@pytest.mark.slow
def test_zarr_input_writes_ome_zarr_and_a_local_cluster_gives_the_same(
    stack_zarr, model_file, tmp_path, capsys
):
    argv = ["predict", str(model_file), str(stack_zarr), "--samples", "3", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0
    assert "3 of 3 planes computed" in capsys.readouterr().out
    cluster = ["--scheduler", "local", "--workers", "2"]
    assert main([*argv, "--out", str(tmp_path / "there"), *cluster]) == 0
    np.testing.assert_allclose(
        _mmse(tmp_path / "there", "noisy"), _mmse(tmp_path / "here", "noisy"), rtol=1e-6
    )
    assert main([*argv, "--out", str(tmp_path / "here")]) == 0  # the same run: nothing to do
    assert "0 of 3 planes computed, 3 done by an earlier run" in capsys.readouterr().out


def test_tiff_input_can_be_written_as_ome_zarr(sample, model_file, tmp_path):
    argv = ["predict", str(model_file), str(sample["noisy"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "2", "--format", "ome-zarr", "--quiet"]) == 0
    assert _mmse(tmp_path, "noisy").shape == tifffile.imread(sample["noisy"]).shape


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--format", "tiff", "--scheduler", "local"], "--scheduler writes OME-Zarr"),
        (["--workers", "2"], "--workers sets the size of --scheduler local"),
        (["--scheduler", "no-such-file.json"], "not 'local', an address like tcp://"),
    ],
)
def test_cluster_options_that_cannot_work_are_one_line_errors(
    sample, model_file, tmp_path, capsys, options, message
):
    argv = ["predict", str(model_file), str(sample["noisy"]), "--out", str(tmp_path)]
    assert main([*argv, *options, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_two_inputs_with_one_stem_are_refused(stack_zarr, model_file, tmp_path, capsys):
    twins = [tmp_path / folder / "noisy.zarr" for folder in ("a", "b")]
    for twin in twins:
        shutil.copytree(stack_zarr, twin)
    argv = ["predict", str(model_file), *map(str, twins), "--out", str(tmp_path / "o")]
    assert main([*argv, "--quiet"]) == 2
    assert "would both write noisy_*.ome.zarr" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
