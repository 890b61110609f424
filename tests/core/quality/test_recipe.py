"""The quality-control recipe: one validation, one computation, for dock, CLI and scripts."""

import itertools

import numpy as np
import pytest

from napari_divnoising.core.errors import DivNoisingError, InputError
from napari_divnoising.core.events import Progress
from napari_divnoising.core.quality import QualityResult, iter_quality_control, quality_control
from napari_divnoising.core.quality.metrics import quality_scores, rse_map, structural_similarity


@pytest.fixture
def clean(rng):
    yy, xx = np.mgrid[0:40, 0:32]
    return 100 + 50 * np.sin(yy / 6.0) * np.cos(xx / 5.0) + rng.normal(0, 1, (40, 32))


@pytest.fixture
def noisy(clean, rng):
    return clean + rng.normal(0, 10, clean.shape)


@pytest.fixture
def prediction(clean, rng):
    return clean + rng.normal(0, 2, clean.shape)


def test_scores_equal_quality_scores_on_the_same_data(prediction, clean, noisy):
    result = quality_control(prediction, clean, noisy)
    assert isinstance(result, QualityResult)
    assert result.prediction == quality_scores(prediction, clean)
    assert result.noisy == quality_scores(noisy, clean)
    np.testing.assert_array_equal(result.ssim_map, structural_similarity(prediction, clean).map)
    np.testing.assert_array_equal(result.rse_map, rse_map(prediction, clean))
    assert result.prediction.ssim > result.noisy.ssim


def test_noisy_is_optional(prediction, clean):
    assert quality_control(prediction, clean).noisy is None


def test_a_2d_ground_truth_is_compared_with_every_plane_of_a_stack(prediction, clean, noisy):
    frames = np.stack([prediction, noisy, prediction])
    result = quality_control(frames, clean, frames)
    assert result.ssim_map.shape == result.rse_map.shape == frames.shape
    stacked_truth = np.stack([clean] * 3)
    assert result.prediction == quality_scores(frames, stacked_truth)
    np.testing.assert_array_equal(result.ssim_map[1], structural_similarity(noisy, clean).map)
    np.testing.assert_array_equal(result.ssim_map[0], result.ssim_map[2])


def test_the_broadcast_ground_truth_is_a_view_not_a_copy(monkeypatch, prediction, clean):
    from napari_divnoising.core.quality import recipe

    seen = []
    real = recipe.structural_similarity
    monkeypatch.setattr(
        recipe,
        "structural_similarity",
        lambda p, gt: seen.append(gt) or real(p, gt),
    )
    quality_control(np.stack([prediction, prediction]), clean)
    (truth,) = seen
    assert truth.shape == (2, *clean.shape)
    assert np.shares_memory(truth, clean)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p, gt: (p[:, :20], gt, None), r"`prediction` and `ground truth`.*same shape"),
        (lambda p, gt: (np.stack([p, p]), gt[:, :20], None), r"same shape"),
        (lambda p, gt: (p, gt, p[:30]), r"`noisy input` and `prediction`.*same shape"),
    ],
)
def test_mismatched_shapes_are_refused(prediction, clean, make, match):
    with pytest.raises(InputError, match=match):
        iter_quality_control(*make(prediction, clean))


@pytest.mark.parametrize(
    ("role", "make"),
    [
        ("prediction", lambda p, gt: (p[:10, :10], gt, None)),
        ("ground truth", lambda p, gt: (p, gt[:, :8], None)),
        ("noisy input", lambda p, gt: (p, gt, p[:, :5])),
    ],
)
def test_images_smaller_than_the_ssim_window_are_refused_by_role(prediction, clean, role, make):
    with pytest.raises(InputError, match=rf"`{role}` is \d+×\d+ pixels.*11×11"):
        iter_quality_control(*make(prediction, clean))


def test_other_bad_inputs_are_user_errors(prediction, clean):
    with pytest.raises(InputError, match=r"`ground truth` is constant"):
        iter_quality_control(prediction, np.ones_like(clean))
    with pytest.raises(InputError, match=r"`prediction` contains 1 NaN"):
        bad = prediction.copy()
        bad[3, 4] = np.nan
        iter_quality_control(bad, clean)
    with pytest.raises(InputError, match=r"`prediction` must be 2D"):
        iter_quality_control(prediction[0], clean)
    with pytest.raises(DivNoisingError, match=r"`noisy input` must hold integer"):
        iter_quality_control(prediction, clean, prediction > 100)


def test_validation_happens_when_called_before_the_first_step(monkeypatch, prediction, clean):
    from napari_divnoising.core.quality import recipe

    def must_not_run(*_):
        raise AssertionError("computed before validation finished")

    monkeypatch.setattr(recipe, "structural_similarity", must_not_run)
    with pytest.raises(InputError):
        iter_quality_control(prediction, clean[:, :20])  # no next(): the call itself raises
    job = iter_quality_control(prediction, clean)  # valid: nothing computed yet
    job.close()


def test_events_are_progress_with_monotone_fractions_ending_at_one(prediction, clean, noisy):
    for args in ((prediction, clean), (prediction, clean, noisy)):
        events = []
        result = quality_control(*args, progress=events.append)
        assert isinstance(result, QualityResult)
        assert all(isinstance(event, Progress) for event in events)
        fractions = [event.fraction for event in events]
        assert fractions[0] == 0.0 and fractions[-1] == 1.0
        assert all(a < b for a, b in itertools.pairwise(fractions))
        assert {event.stage for event in events} == {"quality control"}


def test_stopping_early_computes_nothing_more(monkeypatch, prediction, clean):
    from napari_divnoising.core.quality import recipe

    calls = []
    real = recipe.rse_map
    monkeypatch.setattr(recipe, "rse_map", lambda *a: calls.append(1) or real(*a))
    job = iter_quality_control(prediction, clean)
    next(job)
    next(job)  # the SSIM map is done; the RSE map is next
    job.close()
    assert calls == []
