"""End-to-end runs of every ``divnoising`` command on tiny data."""

import numpy as np
import pytest
import tifffile

from napari_divnoising.cli import main
from napari_divnoising.core.io import write_tiff
from napari_divnoising.core.model_files import load_noise_model
from napari_divnoising.core.model_files.bundle import load_model


@pytest.mark.parametrize("command", ["fit-noise-model", "train", "predict", "evaluate", "demo"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: divnoising" in capsys.readouterr().out


def test_fit_noise_model_from_calibration_writes_a_loadable_model(noise_model_file, capsys):
    model = load_noise_model(noise_model_file)
    assert model.min_signal < model.max_signal
    assert np.all(model.variance(np.linspace(model.min_signal, model.max_signal, 5)) > 0)


def test_fit_histogram_noise_model(sample, tmp_path, capsys):
    out = tmp_path / "hist.npy"
    argv = ["fit-noise-model", "--calibration", str(sample["calibration"]), "--kind", "histogram"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    assert type(load_noise_model(out)).__name__ == "HistogramNoiseModel"


def test_fit_noise_model_by_bootstrap(sample, tmp_path, capsys):
    out = tmp_path / "boot.npz"
    argv = ["fit-noise-model", "--bootstrap", str(sample["first_frame"]), "--out", str(out)]
    assert main([*argv, "--iterations", "30", "--quiet"]) == 0
    assert "variance" in capsys.readouterr().out
    assert out.is_file()


def test_bad_input_exits_2_with_a_one_line_reason(sample, tmp_path, capsys):
    out = tmp_path / "nm.npz"
    # a single 2D frame is no calibration stack
    argv = ["fit-noise-model", "--calibration", str(sample["first_frame"]), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("divnoising fit-noise-model: error:")
    assert "\n" not in error
    assert not out.exists()


def test_missing_input_file_is_a_clear_error(tmp_path, capsys):
    argv = ["fit-noise-model", "--calibration", str(tmp_path / "nope.tif")]
    assert main([*argv, "--out", str(tmp_path / "nm.npz")]) == 2
    assert "not found" in capsys.readouterr().err


def test_existing_output_is_not_overwritten(sample, tmp_path, capsys):
    out = tmp_path / "nm.npz"
    out.write_bytes(b"precious")
    argv = ["fit-noise-model", "--calibration", str(sample["calibration"]), "--out", str(out)]
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"precious"


def test_output_with_the_wrong_suffix_is_refused(sample, capsys):
    argv = ["train", str(sample["noisy"]), "--gaussian-sigma", "5", "--out", str(sample["noisy"])]
    assert main(argv) == 2
    assert "must end in .divnoising" in capsys.readouterr().err


def test_train_writes_a_model_with_its_history(model_file):
    model = load_model(model_file)
    assert [epoch["epoch"] for epoch in model.history] == [1, 2]
    assert model.noise_model is not None


def test_train_without_likelihood_is_refused(sample, tmp_path, capsys):
    assert main(["train", str(sample["noisy"]), "--out", str(tmp_path / "m.divnoising")]) == 2
    assert "--noise-model" in capsys.readouterr().err


def test_predict_writes_every_requested_result(sample, model_file, tmp_path, capsys):
    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    options = ["--samples", "6", "--map", "--uncertainty", "--keep-samples", "3", "--quiet"]
    assert main([*argv, *options]) == 0
    shapes = {
        name: tifffile.imread(tmp_path / f"frame0_{name}.tif").shape
        for name in ("mmse", "restored", "map", "uncertainty", "samples")
    }
    assert shapes == {
        "mmse": (64, 64),
        "restored": (64, 64),
        "map": (64, 64),
        "uncertainty": (64, 64),
        "samples": (3, 64, 64),
    }


def test_predict_writes_interval_bounds_around_the_mmse(sample, model_file, tmp_path):
    import json

    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "6", "--uncertainty", "--interval", "0.9", "--quiet"]) == 0
    mmse, lower, upper, spread = (
        tifffile.imread(tmp_path / f"frame0_{name}.tif")
        for name in ("mmse", "lower", "upper", "uncertainty")
    )
    assert (lower <= mmse).all() and (mmse <= upper).all() and (upper > lower).any()
    np.testing.assert_allclose(upper - mmse, 1.6449 * spread, rtol=1e-3, atol=1e-4)
    record = json.loads((tmp_path / "frame0_prediction.json").read_text())
    assert record["settings"]["interval"] == 0.9
    assert record["settings"]["calibrate_uncertainty"] is True


def test_trained_models_carry_their_uncertainty_calibration(model_file):
    calibration = load_model(model_file).uncertainty_calibration
    assert calibration is not None and "held-back" in calibration.source


def test_predict_names_the_outputs_as_asked(sample, model_file, tmp_path, capsys):
    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "2", "--name", "cells_day1", "--quiet"]) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == [
        "cells_day1_mmse.tif",
        "cells_day1_prediction.json",
        "cells_day1_restored.tif",
    ]
    images = [str(sample["first_frame"]), str(sample["noisy"])]
    two = ["predict", str(model_file), *images, "--out", str(tmp_path / "two"), "--name", "x"]
    assert main(two) == 2 and "--name" in capsys.readouterr().err


def test_bootstrap_from_a_share_of_the_planes(sample, tmp_path, capsys):
    out = tmp_path / "nm.npz"
    argv = ["fit-noise-model", "--bootstrap", str(sample["noisy"]), "--out", str(out)]
    options = ["--subset", "34", "--iterations", "20", "--name", "scope A, 100 ms", "--quiet"]
    assert main([*argv, *options]) == 0
    assert load_noise_model(out).metadata["fit"]["name"] == "scope A, 100 ms"
    wrong = ["fit-noise-model", "--calibration", str(sample["calibration"]), "--subset", "50"]
    assert main([*wrong, "--out", str(tmp_path / "c.npz")]) == 2
    assert "--subset goes with --bootstrap" in capsys.readouterr().err


def test_predict_refuses_an_interval_outside_0_to_1(sample, model_file, tmp_path, capsys):
    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--interval", "90", "--quiet"]) == 2
    assert "--interval" in capsys.readouterr().err


def test_predict_leaves_out_the_restored_mmse_when_asked(sample, model_file, tmp_path):
    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "2", "--no-restore-detail", "--quiet"]) == 0
    assert (tmp_path / "frame0_mmse.tif").is_file()
    assert not (tmp_path / "frame0_restored.tif").exists()


def test_predict_records_its_settings_beside_the_results(sample, model_file, tmp_path):
    import json

    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "3", "--seed", "7", "--tta", "--quiet"]) == 0
    record = json.loads((tmp_path / "frame0_prediction.json").read_text())
    assert record["settings"]["n_samples"] == 3 and record["settings"]["seed"] == 7
    assert record["settings"]["tta"] is True
    assert record["settings"]["uncertainty"] is False  # the command writes it on request
    assert record["model_file"] == str(model_file.resolve())
    assert record["software"]["package"] == "napari-divnoising"
    assert not (tmp_path / "frame0_uncertainty.tif").exists()


@pytest.mark.parametrize(
    ("options", "flag"),
    [(["--samples", "0"], "--samples"), (["--tile-size", "3"], "--tile-size")],
)
def test_predict_names_a_bad_option_before_reading_the_model(
    sample, tmp_path, capsys, options, flag
):
    missing = tmp_path / "no_such_model.divnoising"
    argv = ["predict", str(missing), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, *options]) == 2
    error = capsys.readouterr().err.strip()
    assert flag in error and "no_such_model" not in error
    assert "\n" not in error


def test_predict_keeps_an_existing_record(sample, model_file, tmp_path, capsys):
    record = tmp_path / "frame0_prediction.json"
    record.write_text("precious")
    argv = ["predict", str(model_file), str(sample["first_frame"]), "--out", str(tmp_path)]
    assert main([*argv, "--samples", "2", "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert record.read_text() == "precious"
    assert not (tmp_path / "frame0_mmse.tif").exists()


def test_predict_refuses_a_corrupt_model(sample, tmp_path, capsys):
    broken = tmp_path / "broken.divnoising"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    argv = ["predict", str(broken), str(sample["first_frame"]), "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "broken.divnoising" in capsys.readouterr().err


def test_evaluate_prints_scores_and_writes_maps(sample, tmp_path, capsys):
    argv = ["evaluate", str(sample["first_frame"]), str(sample["ground_truth"])]
    assert main([*argv, "--noisy", str(sample["first_frame"]), "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    assert "PSNR" in output and "noisy" in output and "prediction" in output
    assert tifffile.imread(tmp_path / "frame0_ssim_map.tif").shape == (64, 64)
    assert tifffile.imread(tmp_path / "frame0_rse_map.tif").shape == (64, 64)


def test_evaluate_prints_the_coverage_of_the_uncertainty(sample, tmp_path, capsys):
    truth = tifffile.imread(sample["ground_truth"])
    spread = write_tiff(tmp_path / "spread.tif", np.full(truth.shape, 1e-3, np.float32))
    argv = ["evaluate", str(sample["ground_truth"]), str(sample["ground_truth"])]
    assert main([*argv, "--uncertainty", str(spread), "--out", str(tmp_path)]) == 0
    output = capsys.readouterr().out
    # The prediction is the truth itself: every interval holds it everywhere.
    assert "90% interval 100.0%" in output


def test_demo_runs_the_whole_path(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--quiet"]) == 0
    output = capsys.readouterr().out
    for expected in ("calibrated", "bootstrapped", "DivNoising MMSE", "DivNoising MAP", "± z·"):
        assert expected in output
    written = {path.name for path in (tmp_path / "demo").iterdir()}
    assert {"noise_model_calibrated.npz", "model.divnoising", "noisy_mmse.tif"} <= written


def test_demo_refuses_a_folder_it_did_not_make(tmp_path, capsys):
    (tmp_path / "thesis.docx").write_text("years of work")
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
    assert "holds files the demo did not write" in capsys.readouterr().err
    assert (tmp_path / "thesis.docx").read_text() == "years of work"
