"""The benchmark scripts' own logic: seed statistics, JSON records and the time-to-quality plot.

The timed runs live in ``benchmarks/``; these tests check, in seconds, that what they print
and draw is computed right.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_shows_the_mean_and_spread_over_seeds(capsys):
    bench = load("bench_fmd_quality")
    base = {"noisy": [(30.0, 0.7), (32.0, 0.8)], "bm3d_seconds": 12.0}
    runs = [{"mmse": [(35.0, 0.9), (37.0, 0.9)]}, {"mmse": [(36.0, 0.9), (38.0, 0.9)]}]
    bench.print_table("title", base, runs)
    lines = capsys.readouterr().out.splitlines()
    view_1 = next(line for line in lines if line.strip().startswith("1 "))
    assert "35.50 ± 0.50" in view_1
    mean = next(line for line in lines if line.startswith("mean"))
    # Seed means are 36.0 and 37.0: their mean and standard deviation.
    assert "36.50 ± 0.50" in mean and "31.00" in mean
    assert "bm3d_seconds" not in "\n".join(lines)


def test_a_record_holds_the_mean_scores_and_the_baseline_timing():
    bench = load("bench_fmd_quality")
    args = bench.parse_args(["--minutes", "2"])
    from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig

    # The real settings classes: a record that reads a new setting is tested against it.
    model = SimpleNamespace(
        provenance={"n_steps": 40, "training_seconds": 120.0},
        network_config=NetworkConfig(n_filters=16, depth=1, z_dim=32),
        training_config=TrainingConfig(time_budget_minutes=2.0),
    )
    base = {"noisy": [(30.0, 0.7), (32.0, 0.8)], "bm3d_seconds": 12.0}
    run = {"mmse": [(35.0, 0.9), (37.0, 0.9)]}
    entry = bench.record(args, "calibrated", 2.0, 0, model, base, run)
    assert entry["noisy_psnr"] == 31.0 and entry["mmse_psnr"] == 36.0
    assert entry["bm3d_seconds"] == 12.0 and entry["depth"] == 1
    assert entry["res_blocks"] == 0 and entry["kl_weight"] == 1.0
    assert entry["per_view"] == {"mmse": [35.0, 37.0]}
    json.dumps(entry)  # a record must be writable as JSON


def test_records_append_atomically_and_keep_earlier_runs(tmp_path):
    bench = load("bench_fmd_quality")
    path = tmp_path / "results.json"
    bench.append_json(path, {"minutes": 1.0})
    bench.append_json(path, {"minutes": 2.0})
    assert [e["minutes"] for e in json.loads(path.read_text())] == [1.0, 2.0]
    assert list(tmp_path.iterdir()) == [path]


def test_time_to_quality_plot_is_drawn_from_records(tmp_path):
    pytest.importorskip("matplotlib")
    plot = load("plot_time_to_quality")
    records = [
        {
            "preset": preset,
            "noise_model": "calibrated",
            "minutes": minutes,
            "seed": seed,
            "mmse_psnr": 30.0 + minutes / 10 + seed / 10,
            "noisy_psnr": 30.0,
            "bm3d+vst_psnr": 37.7,
            "bm3d_seconds": 200.0,
            "cpu": "test",
        }
        for preset in ("auto", "reference")
        for minutes in (1.0, 5.0, 15.0)
        for seed in range(3)
    ]
    path = tmp_path / "ttq.json"
    path.write_text(json.dumps(records))
    grouped = plot.curves(plot.load_records([path]))
    assert np.allclose(grouped[("auto", "calibrated")][5.0], [30.5, 30.6, 30.7])
    out = tmp_path / "docs" / "ttq.png"
    assert plot.main([str(path), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_uncertainty_benchmark_pools_honest_intervals_to_nominal(rng):
    bench = load("bench_uncertainty")
    shape = (64, 64)
    pooled = bench.Pooled(2.0)  # samples half as wide as the truth's spread, scaled back
    for _ in range(2):
        mmse = rng.uniform(10, 50, shape)
        sigma = rng.uniform(0.5, 1.5, shape)
        stderr = np.full(shape, 0.3)
        truth = mmse + 2 * sigma * rng.standard_normal(shape) + stderr * rng.standard_normal(shape)
        samples = mmse + sigma * rng.standard_normal((200, *shape))
        pooled.add(samples, mmse, sigma, truth, stderr, np.round(truth), bench.COVERAGE_LEVELS)
    summary = pooled.summary()
    for level in bench.COVERAGE_LEVELS:
        assert summary["gaussian"][level] == pytest.approx(level, abs=0.03)
        assert summary["quantile"][level] == pytest.approx(level, abs=0.03)
    assert summary["spearman_ratio"] == pytest.approx(1.0, abs=0.1)
