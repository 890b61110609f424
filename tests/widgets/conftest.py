"""Fixtures for the dock-widget tests: a viewer, collected notifications, no leaked workers."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from ..waiting import EVENT_WAIT_MS


@pytest.fixture(autouse=True, scope="session")
def _few_torch_threads():
    """The machine's cores are shared: the core's torch work uses one thread here."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def viewer(make_napari_viewer, qtbot, request):
    """A napari viewer; after the test it is closed, and any widget left behind fails it."""
    from qtpy.QtWidgets import QApplication

    before = set(QApplication.topLevelWidgets())
    viewer = make_napari_viewer()
    yield viewer
    viewer.close()
    qtbot.wait(10)  # an event loop runs the deferred deletions of the closed window
    gc.collect()  # pyqtgraph's menus are parentless and go with their plot's Python object
    QApplication.processEvents()
    leaked = [
        widget
        for widget in set(QApplication.topLevelWidgets()) - before
        if type(widget).__name__ != "CanvasBackendDesktop"  # vispy's, as napari ignores it
    ]
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.passed:
        assert not leaked, f"widgets left behind: {leaked}"


@pytest.fixture
def notifications():
    """Every napari notification dispatched during the test, in order."""
    from napari.utils.notifications import notification_manager

    received = []
    notification_manager.notification_ready.connect(received.append)
    yield received
    notification_manager.notification_ready.disconnect(received.append)


@pytest.fixture(autouse=True)
def no_leaked_workers(qtbot):
    """Fail a test that leaves a thread worker running behind it."""
    from superqt.utils._qthreading import WorkerBase

    assert not WorkerBase._worker_set, "a worker from an earlier test is still running"
    yield
    qtbot.waitUntil(lambda: not WorkerBase._worker_set, timeout=EVENT_WAIT_MS)


def wait_for(qtbot, runner, timeout: int = EVENT_WAIT_MS) -> None:
    """Wait until `runner`'s job has ended and its signals have been delivered."""
    qtbot.waitUntil(lambda: not runner.running, timeout=timeout)


@pytest.fixture
def clean_image(rng) -> np.ndarray:
    """A smooth 64×64 image of blobs, in camera-like counts."""
    from scipy.ndimage import gaussian_filter

    spots = np.zeros((64, 64))
    spots[tuple(rng.integers(4, 60, size=(2, 25)))] = 1.0
    return (20 + 2000 * gaussian_filter(spots, 2.5)).astype(np.float32)


@pytest.fixture
def sample():
    """The built-in sample data, small: 64×64 frames and 12 calibration frames."""
    from napari_divnoising.core.sample_data import make_sample_data

    return make_sample_data(shape=(64, 64), n_frames=4, n_calibration_frames=12)


def make_tiny(form, *, max_epochs: int = 2, steps_per_epoch: int = 2) -> None:
    """Settings that train in well under a second per epoch on a CPU."""
    form.patch_size.value = 32
    form.batch_size.value = 4
    form.max_epochs.value = max_epochs
    form.steps_per_epoch.value = steps_per_epoch
    form.n_filters.value = 8
    form.z_dim.value = 8


@pytest.fixture(scope="module")
def tiny_model():
    """A barely trained model (Gaussian likelihood), shared by a module's tests."""
    from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
    from napari_divnoising.core.sample_data import make_sample_data
    from napari_divnoising.core.training.trainer import train

    sample = make_sample_data(shape=(64, 64), n_frames=4, n_calibration_frames=12)
    config = TrainingConfig(patch_size=32, batch_size=4, max_epochs=1, steps_per_epoch=2, seed=0)
    return train(
        sample.noisy,
        gaussian_sigma=10.0,
        config=config,
        network_config=NetworkConfig(n_filters=8, z_dim=8),
        device="cpu",
    )
