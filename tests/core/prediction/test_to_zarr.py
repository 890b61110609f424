"""Stacks into OME-Zarr: same result in process and on a dask cluster, resumable runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from napari_divnoising.core.errors import InputError, OutputError
from napari_divnoising.core.model_files.bundle import save_model
from napari_divnoising.core.prediction import cluster as _cluster
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.prediction.to_zarr import iter_predict_to_zarr, predict_to_zarr

from ...waiting import EVENT_WAIT_S
from .test_sampling import DATA_MEAN, _tiny_model

OPTIONS = {"n_samples": 4, "seed": 3, "uncertainty": True, "device": "cpu"}


@pytest.fixture
def stack_path(tmp_path, rng):
    data = rng.normal(DATA_MEAN, 10.0, (6, 64, 96)).astype(np.float32)
    array = zarr.create_array(
        str(tmp_path / "stack.zarr"), shape=data.shape, chunks=(1, 64, 96), dtype="float32"
    )
    array[:] = data
    return tmp_path / "stack.zarr"


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local


def _result(folder, name="mmse", stem="stack"):
    return zarr.open_array(str(folder / f"{stem}_{name}.ome.zarr" / "0"), mode="r")[:]


def test_in_process_equals_sample_posterior_and_records_the_run(stack_path, tmp_path):
    model = _tiny_model()
    result = predict_to_zarr(stack_path, model, tmp_path / "out", **OPTIONS)
    reference = sample_posterior(zarr.open_array(str(stack_path))[:], model, **OPTIONS)
    assert result.computed == result.n_planes == 6
    assert set(result.images) == {"mmse", "restored", "uncertainty"}
    for name in result.images:
        np.testing.assert_array_equal(_result(tmp_path / "out", name), getattr(reference, name))
    record = zarr.open_group(str(result.images["mmse"])).attrs["napari_divnoising"]
    assert record["settings"]["n_samples"] == 4 and len(record["model_fingerprint"]) == 64
    assert "package_version" in record["software"]
    assert not (tmp_path / "out" / "stack_prediction.done").exists()  # complete


def test_interval_bounds_are_written_plane_by_plane_too(stack_path, tmp_path):
    model = _tiny_model()
    result = predict_to_zarr(stack_path, model, tmp_path / "out", **OPTIONS, interval=0.8)
    assert {"lower", "upper"} <= set(result.images)
    lower, mmse, upper = (_result(tmp_path / "out", name) for name in ("lower", "mmse", "upper"))
    assert lower.shape == mmse.shape == (6, 64, 96)
    assert (lower <= mmse).all() and (mmse <= upper).all() and (upper > lower).any()


@pytest.mark.slow
def test_cluster_prediction_equals_in_process(stack_path, tmp_path, cluster):
    model = _tiny_model()
    predict_to_zarr(stack_path, model, tmp_path / "here", **OPTIONS)
    result = predict_to_zarr(
        stack_path, model, tmp_path / "there", scheduler=cluster.scheduler_address, **OPTIONS
    )
    assert result.computed == 6
    for name in ("mmse", "restored", "uncertainty"):
        np.testing.assert_allclose(
            _result(tmp_path / "there", name), _result(tmp_path / "here", name), rtol=1e-6
        )


@pytest.mark.slow
def test_a_killed_worker_changes_nothing(tmp_path, rng, cluster):
    from distributed import Client

    data = rng.normal(DATA_MEAN, 10.0, (8, 128, 128)).astype(np.float32)
    np.save(tmp_path / "big.npy", data)
    model, options = _tiny_model(), {**OPTIONS, "n_samples": 48}
    predict_to_zarr(tmp_path / "big.npy", model, tmp_path / "ref", **options)
    run = iter_predict_to_zarr(
        tmp_path / "big.npy", model, tmp_path / "out", scheduler=cluster.scheduler_address,
        **options,
    )  # fmt: skip
    while next(run).step < 1:  # the first plane is done; both workers are busy with the next
        pass
    with Client(cluster.scheduler_address) as client:
        busy = {address for address, tasks in client.processing().items() if tasks}
        victims = [pid for address, pid in client.run(os.getpid).items() if address in busy]
    assert victims, "no worker was running a plane"
    os.kill(victims[0], signal.SIGKILL)
    while True:
        try:
            next(run)
        except StopIteration as stop:
            result = stop.value
            break
    assert result.computed == 8
    np.testing.assert_allclose(
        _result(tmp_path / "out", stem="big"), _result(tmp_path / "ref", stem="big"), rtol=1e-6
    )


@pytest.mark.slow
@pytest.mark.parametrize("cluster_options", [[], ["--scheduler", "local", "--workers", "2"]])
def test_a_killed_run_resumes_computing_only_the_missing_planes(tmp_path, rng, cluster_options):
    data = rng.normal(DATA_MEAN, 10.0, (10, 128, 128)).astype(np.float32)
    np.save(tmp_path / "tl.npy", data)
    save_model(_tiny_model(), tmp_path / "m.divnoising")
    options = ["--samples", "24", "--seed", "3", "--device", "cpu", "--quiet"]
    command = [
        sys.executable,
        "-m",
        "napari_divnoising.cli",
        "predict",
        str(tmp_path / "m.divnoising"),
    ]
    command += [str(tmp_path / "tl.npy"), "--out", str(tmp_path / "out"), "--format", "ome-zarr"]
    # Its own process group, killed whole, as a batch system kills a job (with its workers).
    process = subprocess.Popen([*command, *options, *cluster_options], start_new_session=True)
    done = tmp_path / "out" / "tl_prediction.done"
    deadline = time.monotonic() + EVENT_WAIT_S
    while len(list(done.glob("[0-9]*"))) < 2 and process.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(done.glob("[0-9]*")))
    assert 2 <= finished < 10, "the run ended before it could be killed"
    result = predict_to_zarr(
        tmp_path / "tl.npy", tmp_path / "m.divnoising", tmp_path / "out", n_samples=24,
        seed=3, device="cpu", uncertainty=False,
    )  # fmt: skip
    assert result.computed == 10 - finished
    reference = predict_to_zarr(
        tmp_path / "tl.npy", tmp_path / "m.divnoising", tmp_path / "ref", n_samples=24,
        seed=3, device="cpu", uncertainty=False,
    )  # fmt: skip
    assert reference.computed == 10
    for name in ("mmse", "restored"):
        np.testing.assert_array_equal(
            _result(tmp_path / "out", name, "tl"), _result(tmp_path / "ref", name, "tl")
        )


def test_outputs_of_another_model_or_settings_are_never_overwritten(stack_path, tmp_path):
    out = tmp_path / "out"
    predict_to_zarr(stack_path, _tiny_model(), out, **OPTIONS)
    before = _result(out)
    with pytest.raises(OutputError, match="holds the prediction of a different model"):
        iter_predict_to_zarr(stack_path, _tiny_model(seed=9), out, **OPTIONS)
    with pytest.raises(OutputError, match="predicted with other settings"):
        iter_predict_to_zarr(stack_path, _tiny_model(), out, **{**OPTIONS, "seed": 4})
    np.testing.assert_array_equal(_result(out), before)
    again = predict_to_zarr(stack_path, _tiny_model(seed=9), out, overwrite=True, **OPTIONS)
    assert again.computed == 6 and not np.array_equal(_result(out), before)


def test_a_foreign_store_is_refused_even_with_overwrite(stack_path, tmp_path):
    foreign = tmp_path / "out" / "stack_mmse.ome.zarr"
    zarr.open_group(str(foreign), mode="w").attrs["theirs"] = 1
    for overwrite in (False, True):
        with pytest.raises(OutputError, match="not written by napari-divnoising"):
            iter_predict_to_zarr(stack_path, _tiny_model(), tmp_path / "out", overwrite=overwrite)
    assert zarr.open_group(str(foreign), mode="r").attrs["theirs"] == 1


def test_a_cluster_needs_a_stack_on_disk(rng):
    with pytest.raises(InputError, match="a dask cluster reads the stack from disk"):
        iter_predict_to_zarr(np.ones((2, 32, 32)), _tiny_model(), "out", scheduler="local")


def test_an_unreachable_scheduler_is_one_clear_error(stack_path, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(_cluster, "CONNECT_TIMEOUT_S", 1)
    run = iter_predict_to_zarr(
        stack_path, _tiny_model(), tmp_path / "out", scheduler="tcp://127.0.0.1:9", **OPTIONS
    )
    with pytest.raises(InputError, match=r"cannot reach the dask scheduler at tcp://127.0.0.1:9"):
        next(run)


@pytest.mark.slow
def test_the_direct_mmse_on_a_cluster_equals_in_process_and_in_memory(
    stack_path, tmp_path, cluster
):
    from napari_divnoising.core.prediction.sampling import predict_direct

    from .test_direct import with_direct_network

    model = with_direct_network(_tiny_model())
    here = predict_to_zarr(stack_path, model, tmp_path / "here", direct=True, device="cpu")
    there = predict_to_zarr(
        stack_path,
        model,
        tmp_path / "there",
        direct=True,
        device="cpu",
        scheduler=cluster.scheduler_address,
    )
    assert set(here.images) == set(there.images) == {"direct_mmse"}
    in_memory = predict_direct(zarr.open_array(str(stack_path))[:], model, device="cpu")
    # float rounding may differ by an ulp between thread counts (a worker has one thread)
    here_mmse = _result(tmp_path / "here", "direct_mmse")
    np.testing.assert_allclose(here_mmse, in_memory.direct_mmse, rtol=1e-6)
    np.testing.assert_allclose(_result(tmp_path / "there", "direct_mmse"), here_mmse, rtol=1e-6)
