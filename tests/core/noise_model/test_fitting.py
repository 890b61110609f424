from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import InputError, RunFailedError
from napari_divnoising.core.events import Progress
from napari_divnoising.core.noise_model import (
    GaussianMixtureNoiseModel,
    HistogramNoiseModel,
    fit_noise_model,
    iter_fit_noise_model,
)
from napari_divnoising.core.noise_model.pair_sampler import PairSampler

QUICK = {"n_iterations": 30, "batch_size": 2000}


def _analytic_variance(signal, camera):
    # Poisson–Gaussian, then rounding to integers (+1/12).
    return camera["gain"] * (signal - camera["offset"]) + camera["read_noise"] ** 2 + 1 / 12


@pytest.mark.parametrize("scale", [1.0, 25.0], ids=["8-bit-like", "16-bit-like"])
def test_gmm_variance_matches_poisson_gaussian_within_5_percent(rng, scale):
    # Same photon statistics at two camera scales: no constant may suit only one of them.
    camera = {"gain": 2.0 * scale, "offset": 100.0 * scale, "read_noise": 3.0 * scale}
    photons = rng.uniform(2.0, 200.0, (48, 48))
    frames = camera["gain"] * rng.poisson(np.broadcast_to(photons, (40, 48, 48)))
    frames = frames + camera["offset"] + rng.normal(0.0, camera["read_noise"], frames.shape)
    signal = np.broadcast_to(camera["offset"] + camera["gain"] * photons, frames.shape)
    model = fit_noise_model(
        signal, np.round(frames).astype(np.uint16), n_iterations=150, batch_size=10000
    )
    levels = np.percentile(signal[0], np.linspace(5, 95, 19))
    error = model.variance(levels) / _analytic_variance(levels, camera) - 1
    assert np.max(np.abs(error)) < 0.05, error
    assert model.min_sigma < 0.5 * _analytic_variance(levels[0], camera)


def test_histogram_fit_matches_poisson_gaussian(calibration_stack, camera):
    signal, observation = calibration_stack
    model = fit_noise_model(signal, observation, kind="histogram")
    assert isinstance(model, HistogramNoiseModel)
    assert model.width == 2.0  # integer data: bins aligned on whole values, ≤ 256 of them
    levels = np.percentile(signal[0], [20, 50, 80])
    error = model.variance(levels) / _analytic_variance(levels, camera) - 1
    assert np.max(np.abs(error)) < 0.1, error
    assert (model.min_signal, model.max_signal) == (signal.min(), signal.max())


def test_fit_yields_progress_and_records_its_settings(calibration_stack):
    events = list(iter_fit_noise_model(*calibration_stack, **QUICK, n_gaussian=2))
    assert [e.step for e in events] == list(range(1, 31))
    assert all(isinstance(e, Progress) and e.total == 30 and np.isfinite(e.loss) for e in events)
    calls = []
    model = fit_noise_model(*calibration_stack, **QUICK, n_gaussian=2, progress=calls.append)
    assert len(calls) == 30
    assert isinstance(model, GaussianMixtureNoiseModel)
    assert model.weight.shape == (6, 2)
    fit = model.metadata["fit"]
    assert (fit["n_iterations"], fit["saturation"], fit["min_sigma"]) == (
        30,
        65535.0,
        model.min_sigma,
    )
    assert model.metadata["kind"] == "gmm"
    assert model.metadata["provenance"]["package"] == "napari-divnoising"


def test_fit_is_reproducible_and_seeded(calibration_stack):
    first = fit_noise_model(*calibration_stack, **QUICK, seed=3)
    again = fit_noise_model(*calibration_stack, **QUICK, seed=3)
    other = fit_noise_model(*calibration_stack, **QUICK, seed=4)
    assert torch.equal(first.weight, again.weight)
    assert not torch.equal(first.weight, other.weight)


def test_fit_can_be_stopped_at_any_step(calibration_stack):
    fit = iter_fit_noise_model(*calibration_stack, n_iterations=1000, batch_size=2000)
    for event in fit:
        if event.step == 3:
            break
    fit.close()  # stopping is just not iterating further
    assert event.step == 3


def test_the_fit_ends_once_its_loss_levels_off_and_only_then(calibration_stack, camera):
    signal, observation = calibration_stack
    settings = {"n_iterations": 3000, "batch_size": 20_000, "seed": 1}
    events = list(iter_fit_noise_model(signal, observation, **settings))
    model = fit_noise_model(signal, observation, **settings)
    fit = model.metadata["fit"]
    assert fit["converged_at"] is not None and fit["iterations_run"] < 3000
    assert events[-1].step == events[-1].total == fit["iterations_run"]
    # The annealing after convergence takes a tenth of the iterations.
    assert fit["iterations_run"] - fit["converged_at"] == 300
    levels = np.percentile(signal[0], [20, 50, 80])
    error = model.variance(levels) / _analytic_variance(levels, camera) - 1
    assert np.max(np.abs(error)) < 0.05, error
    full = fit_noise_model(signal, observation, **settings, stop_when_converged=False)
    assert full.metadata["fit"]["iterations_run"] == 3000
    assert full.metadata["fit"]["converged_at"] is None


def test_every_step_offers_the_model_as_it_stands(calibration_stack):
    from napari_divnoising.core.noise_model import FitSoFar

    fit = iter_fit_noise_model(*calibration_stack, n_iterations=1000, batch_size=2000)
    for event in fit:
        if event.step == 5:
            break
    fit.close()
    assert isinstance(event.payload, FitSoFar) and event.payload.iteration == 5
    model = event.payload.model()
    assert isinstance(model, GaussianMixtureNoiseModel)
    assert model.metadata["fit"]["iterations_run"] == 5
    assert np.isfinite(model.variance(np.array([150.0]))).all()


def test_percentiles_bound_the_signal_range(calibration_stack):
    signal, observation = calibration_stack
    model = fit_noise_model(signal, observation, **QUICK, lower_percentile=5, upper_percentile=90)
    assert model.min_signal == pytest.approx(np.percentile(signal[0], 5))
    assert model.max_signal == pytest.approx(np.percentile(signal[0], 90))


def test_saturated_pixels_are_left_out(calibration_stack, rng):
    signal, observation = calibration_stack
    clipped = np.minimum(observation, 400).astype(np.uint16)  # a camera saturating at 400
    settings = {"lower_percentile": 0.0, "upper_percentile": 100.0, "rng": rng}
    _, drawn = PairSampler(signal, clipped, saturation=400, **settings).draw(50000)
    assert drawn.size == 50000 and drawn.max() < 400
    full_scale = np.minimum(observation, 255).astype(np.uint8)  # the dtype's maximum
    _, drawn = PairSampler(signal, full_scale, saturation=None, **settings).draw(50000)
    assert drawn.max() < 255
    model = fit_noise_model(signal, clipped, **QUICK, saturation=400)
    assert model.metadata["fit"]["saturation"] == 400


def test_nothing_usable_is_a_clear_error(calibration_stack):
    signal, _ = calibration_stack
    # Bright pixels saturate; dark ones fall below the percentile range.
    observation = np.where(signal < np.median(signal), 1000, 65535).astype(np.uint16)
    with pytest.raises(
        InputError, match=r"no usable .* saturated \(≥ 65535.0\) or its signal lies outside"
    ):
        iter_fit_noise_model(signal, observation, lower_percentile=50.0)


def test_default_variance_floor_scales_with_the_data(rng):
    signal = np.broadcast_to(rng.uniform(1.0, 10.0, (32, 32)), (20, 32, 32))
    noise = rng.normal(size=signal.shape) * np.sqrt(signal)
    small = fit_noise_model(signal, signal + noise, n_iterations=5, batch_size=1000)
    large = fit_noise_model(
        1000 * signal, 1000 * (signal + noise), n_iterations=5, batch_size=1000
    )
    assert large.min_sigma == pytest.approx(1e6 * small.min_sigma, rel=1e-3)
    integer = fit_noise_model(signal, np.round(signal + noise).astype(np.int16), **QUICK)
    assert integer.min_sigma >= 1 / 12  # never below the quantisation variance
    whole_floats = fit_noise_model(signal, np.round(signal + noise), **QUICK)
    assert whole_floats.min_sigma == integer.min_sigma  # counts stored as floats


def test_broadcast_signal_is_not_copied(rng):
    mean = rng.uniform(50.0, 200.0, (256, 256))
    frames = rng.poisson(mean, (200, 256, 256)).astype(np.uint8)
    signal = np.broadcast_to(mean, frames.shape)  # a full float64 copy would be 105 MB
    tracemalloc.start()
    try:
        fit_noise_model(signal, frames, n_iterations=3, batch_size=5000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * signal.size * 8, f"peak numpy allocation {peak / 1e6:.0f} MB"


def test_nonfinite_steps_restore_the_last_finite_weights(calibration_stack, monkeypatch):
    from napari_divnoising.core.noise_model import _mixture

    real = _mixture.log_likelihood_from_weight
    calls = {"n": 0}

    def sometimes_nan(*args, **kwargs):
        calls["n"] += 1
        result = real(*args, **kwargs)
        return result * np.nan if calls["n"] in (5, 6) else result

    monkeypatch.setattr(_mixture, "log_likelihood_from_weight", sometimes_nan)
    events = []
    model = fit_noise_model(*calibration_stack, **QUICK, progress=events.append)
    assert torch.isfinite(model.weight).all()
    assert model.metadata["fit"]["nonfinite_steps"] == 2
    assert [e.loss is None for e in events].count(True) == 2 and len(events) == 30

    monkeypatch.setattr(
        _mixture, "log_likelihood_from_weight", lambda *a, **k: real(*a, **k) * np.nan
    )
    with pytest.raises(RunFailedError, match=r"NaN/inf 6 times.*smaller learning_rate"):
        fit_noise_model(*calibration_stack, **QUICK)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            {"observation": np.zeros((40, 48, 47))},
            InputError,
            r"same shape.*\(40, 48, 48\) and \(40, 48, 47\)",
        ),
        ({"signal": "nan"}, InputError, r"`signal` contains NaN or infinite"),
        (
            {"observation": np.full((40, 48, 48), 7, dtype=np.uint8)},
            InputError,
            r"`observation` is constant",
        ),
        ({"signal": "constant"}, InputError, r"`signal` is constant"),
        (
            {"observation": np.zeros((40, 48, 48), dtype=bool)},
            InputError,
            "integer or floating-point",
        ),
        (
            {"kind": "poisson"},
            ValueError,
            r"`kind` must be one of 'gmm' or 'histogram' \(got 'poisson'\)",
        ),
        ({"n_gaussian": 0}, ValueError, r"`n_gaussian` must be ≥ 1 \(got 0\)"),
        ({"learning_rate": -1.0}, ValueError, r"`learning_rate` must be > 0.0 \(got -1.0\)"),
        ({"min_sigma": float("nan")}, ValueError, r"`min_sigma` must be a finite number"),
        (
            {"lower_percentile": 50, "upper_percentile": 40},
            ValueError,
            r"lower_percentile < upper_percentile \(got 50.0 and 40.0\)",
        ),
        ({"bins": 1}, ValueError, r"`bins` must be ≥ 2 \(got 1\)"),
    ],
)
def test_bad_inputs_fail_before_any_step(calibration_stack, change, error, match):
    signal, observation = calibration_stack
    arguments = {"signal": signal, "observation": observation}
    change = dict(change)
    if change.get("signal") == "nan":
        change["signal"] = np.where(signal == signal.max(), np.nan, signal)
    elif change.get("signal") == "constant":
        change["signal"] = np.ones(signal.shape)
    arguments.update(change)
    with pytest.raises(error, match=match):
        iter_fit_noise_model(arguments.pop("signal"), arguments.pop("observation"), **arguments)


def test_saturated_locations_are_left_out_of_the_range_and_of_every_frame(calibration_stack, rng):
    signal, observation = calibration_stack
    saturated = np.zeros((1, 48, 48), dtype=bool)
    saturated[0, :, 40:] = True  # whole columns: every frame there is left out
    kept = signal[0][~saturated[0]].astype(np.float32)
    settings = {"lower_percentile": 0.0, "upper_percentile": 100.0, "rng": rng}
    sampler = PairSampler(signal, observation, saturation=None, saturated=saturated, **settings)
    assert (sampler.min_signal, sampler.max_signal) == (kept.min(), kept.max())
    drawn, _ = sampler.draw(20000)
    assert np.isin(drawn, kept).all()
    total = sum(s.size for s, _ in sampler.iter_usable())
    assert total == 40 * kept.size
    model = fit_noise_model(signal, observation, **QUICK, saturated=saturated)
    assert model.metadata["fit"]["saturated_pixels"] == 48 * 8
    assert model.max_signal == pytest.approx(kept.max())
    assert (
        fit_noise_model(signal, observation, **QUICK).metadata["fit"]["saturated_pixels"] is None
    )
