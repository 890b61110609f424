"""Uncertainty calibration: from held-back training planes only, stored, applied, optional."""

from __future__ import annotations

import inspect
import zipfile

import numpy as np
import pytest

from napari_divnoising.core.errors import ModelFileError
from napari_divnoising.core.events import run_generator
from napari_divnoising.core.model.uncertainty_calibration import UncertaintyCalibration
from napari_divnoising.core.model_files.bundle import load_model, save_model
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.training import uncertainty_calibration as calibration_module
from napari_divnoising.core.training.trainer import Trainer
from napari_divnoising.core.training.uncertainty_calibration import (
    calibration_crops,
    iter_calibrate_uncertainty,
)

from ..prediction.test_sampling import _tiny_model
from ..training.test_trainer import TINY_NET, run_all, tiny_config


@pytest.fixture
def noisy_stack(rng) -> np.ndarray:
    """Four distinct noisy 32×32 planes (a bright square on a dark background)."""
    signal = np.full((4, 32, 32), 20.0)
    signal[:, 8:24, 8:24] = 80.0
    return (signal + rng.normal(0, 10, signal.shape)).astype(np.float32)


@pytest.fixture
def planes(rng) -> list[np.ndarray]:
    yy, xx = np.mgrid[:64, :64]
    signal = 100.0 + 30.0 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    return [(signal + rng.normal(0, 5.0, signal.shape)).astype(np.float32) for _ in range(3)]


def test_crops_respect_the_pixel_budget_and_the_size_multiple(rng):
    planes = [rng.normal(size=(300, 200)).astype(np.float32) for _ in range(5)]
    crops = calibration_crops(planes, max_pixels=3 * 96 * 96, multiple=32)
    assert len(crops) == 5 and sum(crop.size for crop in crops) <= 3 * 96 * 96
    few = calibration_crops(planes, max_pixels=2 * 64 * 64, multiple=32)
    assert len(few) == 2  # beyond the budget, planes are left out
    assert all(side % 32 == 0 and side >= 64 for crop in crops for side in crop.shape)
    small = calibration_crops([np.zeros((40, 50), np.float32)], multiple=4)
    assert small[0].shape == (40, 48)


def test_calibration_is_reproducible_and_records_how_it_was_made(planes):
    model = _tiny_model()
    found = [
        run_generator(iter_calibrate_uncertainty(model, planes, n_samples=12, seed=3))
        for _ in range(2)
    ]
    assert found[0] == found[1]
    calibration = found[0]
    assert 0.1 <= calibration.scale <= 10.0
    assert calibration.n_pixels == sum(p.size for p in planes) and calibration.n_samples == 12
    assert "σ-scaling" in calibration.method and "held-back" in calibration.source
    assert set(calibration.coverage_before) == {"0.5", "0.8", "0.9", "0.95"}
    # Scaling by the maximum-likelihood factor moves the simulated 90% coverage to nominal.
    before = abs(calibration.coverage_before["0.9"] - 0.9)
    assert abs(calibration.coverage_after["0.9"] - 0.9) <= before + 1e-9


def test_the_estimator_takes_noisy_planes_and_no_ground_truth():
    parameters = set(inspect.signature(iter_calibrate_uncertainty).parameters)
    assert parameters == {"model", "planes", "n_samples", "max_pixels", "seed", "source", "device"}
    assert not any("truth" in name or "clean" in name for name in parameters)


def test_training_calibrates_on_its_held_back_validation_planes_only(
    noisy_stack, monkeypatch, tmp_path
):
    seen = []
    estimate = calibration_module.iter_calibrate_uncertainty

    def spy(model, planes, **options):
        seen.append([np.array(plane, copy=True) for plane in planes])
        return (yield from estimate(model, planes, **options))

    monkeypatch.setattr(calibration_module, "iter_calibrate_uncertainty", spy)
    trainer = Trainer(
        noisy_stack, gaussian_sigma=10.0, config=tiny_config(), network_config=TINY_NET
    )
    events, model = run_all(trainer)
    (used,) = seen
    split = trainer.data.split
    assert not split.validation_is_training
    assert len(used) == len(split.validation) == 1
    np.testing.assert_array_equal(used[0], np.asarray(split.validation[0]))
    for plane in split.train:  # never a plane the network was trained on
        assert not np.array_equal(used[0], np.asarray(plane))
    assert isinstance(model.uncertainty_calibration, UncertaintyCalibration)
    assert any(e.message.startswith("calibrated: uncertainty scale") for e in events)
    # Stored in the bundle with how it was made, and read back.
    loaded = load_model(save_model(model, tmp_path / "m.divnoising"))
    assert loaded.uncertainty_calibration == model.uncertainty_calibration


def test_nothing_held_back_means_no_calibration_and_says_so(noisy_stack):
    trainer = Trainer(
        noisy_stack,
        gaussian_sigma=10.0,
        config=tiny_config(train_fraction=1.0),
        network_config=TINY_NET,
    )
    events, model = run_all(trainer)
    assert model.uncertainty_calibration is None
    assert any("not calibrated" in e.message for e in events)


def test_calibration_can_be_turned_off_in_training(noisy_stack):
    config = tiny_config(calibrate_uncertainty=False)
    trainer = Trainer(noisy_stack, gaussian_sigma=10.0, config=config, network_config=TINY_NET)
    _, model = run_all(trainer)
    assert model.uncertainty_calibration is None


def test_sampling_applies_the_scale_unless_turned_off(planes):
    model = _tiny_model()
    model.uncertainty_calibration = UncertaintyCalibration(scale=1.7, source="test")
    kept = sample_posterior(planes[0], model, n_samples=8, device="cpu", interval=0.8)
    raw = sample_posterior(
        planes[0], model, n_samples=8, device="cpu", calibrate_uncertainty=False
    )
    np.testing.assert_allclose(kept.mmse, raw.mmse)
    np.testing.assert_allclose(kept.uncertainty, 1.7 * raw.uncertainty, rtol=1e-5)
    assert (kept.lower <= kept.mmse).all() and (kept.mmse <= kept.upper).all()
    np.testing.assert_allclose(kept.upper - kept.mmse, 1.2816 * kept.uncertainty, rtol=1e-3)
    assert raw.lower is None and raw.upper is None


def test_a_damaged_calibration_in_a_bundle_is_a_model_file_error(tmp_path):
    model = _tiny_model()
    model.uncertainty_calibration = UncertaintyCalibration(scale=1.2, source="test")
    path = save_model(model, tmp_path / "m.divnoising")
    damaged = tmp_path / "damaged.divnoising"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "model.json":
                data = data.replace(b'"scale": 1.2', b'"scale": -4')
            target.writestr(item, data)
    with pytest.raises(ModelFileError, match="uncertainty calibration is damaged"):
        load_model(damaged)


def test_the_calibration_is_part_of_what_a_prediction_depends_on():
    from napari_divnoising.core.provenance import model_fingerprint

    model = _tiny_model()
    plain = model_fingerprint(model)
    model.uncertainty_calibration = UncertaintyCalibration(scale=1.2, source="test")
    calibrated = model_fingerprint(model)
    model.uncertainty_calibration = UncertaintyCalibration(scale=0.8, source="test")
    assert len({plain, calibrated, model_fingerprint(model)}) == 3
    model.uncertainty_calibration = None
    assert model_fingerprint(model) == plain  # an uncalibrated model keeps its fingerprint
