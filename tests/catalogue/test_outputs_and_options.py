"""Catalogue rows: outputs that would be lost or fail late, and bad numbers on the command line."""

from __future__ import annotations

import os
import stat
import warnings

import numpy as np
import pytest
import tifffile

from napari_divnoising.cli import main
from napari_divnoising.core.io import write_tiff

from .conftest import refused

TINY = ["--max-epochs", "1", "--patch-size", "32", "--batch-size", "4", "--quiet"]


def test_two_images_with_the_same_name_in_different_folders_are_refused(workspace, capsys):
    (workspace.folder / "a").mkdir()
    (workspace.folder / "b").mkdir()
    frame = tifffile.imread(workspace.first_frame)
    first = write_tiff(workspace.path("a/x.tif"), frame)
    second = write_tiff(workspace.path("b/x.tif"), frame)
    out = workspace.path("dup")
    reason = refused(capsys, ["predict", workspace.model, first, second, "--out", out])
    assert "would be written twice" in reason and "a/x.tif" in reason
    assert not out.exists()


def test_an_image_and_an_array_with_the_same_stem_are_refused(workspace, capsys):
    frame = tifffile.imread(workspace.first_frame)
    np.save(workspace.path("frame0.npy"), frame)
    out = workspace.path("out")
    argv = ["predict", workspace.model, workspace.first_frame, workspace.path("frame0.npy")]
    assert "would be written twice" in refused(capsys, [*argv, "--out", out])
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "fit-noise-model"])
def test_an_output_below_a_regular_file_is_refused_before_any_work(workspace, capsys, command):
    out = workspace.path(
        "frame0.tif/sub/result" + (".divnoising" if command == "train" else ".npz")
    )
    if command == "train":
        argv = ["train", workspace.noisy, "--noise-model", workspace.noise_model, *TINY]
    else:
        argv = ["fit-noise-model", "--calibration", workspace.calibration, "--quiet"]
    assert "is a file, not a folder" in refused(capsys, [*argv, "--out", out])


def test_predicting_into_a_regular_file_is_refused_before_sampling(workspace, capsys):
    argv = ["predict", workspace.model, workspace.first_frame, "--out", workspace.ground_truth]
    assert "is a file, not a folder" in refused(capsys, argv)


def test_an_existing_noise_model_is_refused_before_fitting(workspace, capsys):
    argv = ["fit-noise-model", "--calibration", workspace.calibration, "--quiet"]
    reason = refused(capsys, [*argv, "--out", workspace.noise_model])
    assert "exists; pass --overwrite" in reason


def test_an_existing_quality_map_is_not_replaced_without_overwrite(workspace, capsys):
    argv = ["evaluate", workspace.first_frame, workspace.ground_truth, "--out", workspace.folder]
    write_tiff(workspace.path("frame0_ssim_map.tif"), np.zeros((4, 4), np.float32))
    assert "exists" in refused(capsys, argv)


def test_an_output_that_is_a_folder_is_refused(workspace, capsys):
    workspace.path("model_folder.divnoising").mkdir()
    argv = ["train", workspace.noisy, "--noise-model", workspace.noise_model, *TINY]
    assert "is a folder" in refused(
        capsys, [*argv, "--out", workspace.path("model_folder.divnoising")]
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_output_folder_is_refused_before_any_work(workspace, capsys):
    locked = workspace.path("locked")
    locked.mkdir()
    locked.chmod(0o555)
    try:
        argv = ["predict", workspace.model, workspace.first_frame, "--out", locked]
        assert "no permission to write" in refused(capsys, argv)
    finally:
        locked.chmod(0o755)


BAD_TRAINING_NUMBERS = [
    ("--time-budget", "0", "--time-budget must be > 0.0 (got 0.0)"),
    ("--time-budget", "nan", "--time-budget: must be a finite number (got 'nan')"),
    ("--time-budget", "-1", "--time-budget must be > 0.0 (got -1.0)"),
    ("--batch-size", "0", "--batch-size must be ≥ 1 (got 0)"),
    ("--train-fraction", "1.5", "--train-fraction must be ≤ 1.0 (got 1.5)"),
    ("--learning-rate", "-1", "--learning-rate must be > 0.0 (got -1.0)"),
    ("--max-epochs", "2.5", "--max-epochs: must be a whole number (got '2.5')"),
]


@pytest.mark.parametrize(("flag", "value", "message"), BAD_TRAINING_NUMBERS)
def test_a_bad_training_number_names_the_flag_in_one_line(workspace, capsys, flag, value, message):
    argv = ["train", workspace.noisy, "--noise-model", workspace.noise_model]
    argv += ["--out", workspace.path("m.divnoising"), flag, value, "--quiet"]
    if "finite" in message or "whole" in message:  # refused by the option's own parser
        with pytest.raises(SystemExit) as stop:
            main([str(part) for part in argv])
        assert stop.value.code == 2
        assert message.split(": ", 1)[1] in capsys.readouterr().err
        return
    assert message in refused(capsys, argv)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tile-size", "3"], "--tile-size must be ≥ 32 (got 3)"),
        (["--samples", "0"], "--samples must be ≥ 1 (got 0)"),
        (["--samples", "4", "--keep-samples", "9"], "keep_samples"),
    ],
)
def test_a_bad_sampling_number_is_refused_before_loading_the_model(
    workspace, capsys, options, message
):
    argv = ["predict", workspace.model, workspace.first_frame, "--out", workspace.path("o")]
    assert message in refused(capsys, [*argv, *options])
    assert not workspace.path("o").exists()


def test_a_bad_noise_model_number_names_the_flag(workspace, capsys):
    argv = ["fit-noise-model", "--calibration", workspace.calibration, "--iterations", "0"]
    reason = refused(capsys, [*argv, "--out", workspace.path("nm2.npz")])
    assert "--iterations must be ≥ 1 (got 0)" in reason


def test_results_are_readable_by_colleagues_under_the_usual_umask(workspace, capsys):
    previous = os.umask(0o022)
    try:
        argv = ["fit-noise-model", "--calibration", workspace.calibration, "--iterations", "5"]
        assert (
            main([str(p) for p in [*argv, "--out", workspace.path("shared.npz"), "--quiet"]]) == 0
        )
    finally:
        os.umask(previous)
    mode = stat.S_IMODE(workspace.path("shared.npz").stat().st_mode)
    assert mode == 0o644


def test_warnings_reach_the_user_as_one_plain_line(workspace, capsys):
    bright = (tifffile.imread(workspace.first_frame).astype(np.float32) * 40).astype(np.float32)
    image = write_tiff(workspace.path("bright.tif"), bright)
    argv = ["predict", workspace.model, image, "--out", workspace.path("o"), "--samples", "2"]
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # the suite's settings turn our warnings into errors
        assert main([str(part) for part in [*argv, "--quiet"]]) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and ".py:" not in err
