"""Make the user guide's screenshots: the whole path through the four docks, real results.

Run it under a (virtual) X server from the repository root::

    xvfb-run -a python docs/scripts/make_screenshots.py

It opens napari with the built-in sample data, drives the dock widgets exactly as a user
would (fit a noise model from the calibration frames, train with a time budget, sample,
run quality control) and saves one PNG of the full window per step into ``docs/images``.
Training runs for ``--train-minutes`` (5 by default) on the CPU; ``--quick`` uses tiny
settings to check that the script works (the pictures are then not worth keeping).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

PLUGIN = "napari-divnoising"
WINDOW_SIZE = (1600, 1000)


def wait(runner, *, timeout_s: float = 1800.0) -> None:
    """Let Qt run until the dock's job has finished."""
    start = time.monotonic()
    while runner.running:
        QApplication.processEvents()
        time.sleep(0.02)
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"job still running after {timeout_s} s")
    QApplication.processEvents()


def run_for(seconds: float, runner) -> None:
    """Let Qt run for `seconds`, or until the dock's job has finished."""
    start = time.monotonic()
    while runner.running and time.monotonic() - start < seconds:
        QApplication.processEvents()
        time.sleep(0.02)


def show_only(viewer: napari.Viewer, *names: str) -> None:
    """Make only the named layers visible, the first one selected."""
    for layer in viewer.layers:
        layer.visible = layer.name in names
    viewer.layers.selection.active = viewer.layers[names[0]]
    viewer.dims.current_step = (0,) * viewer.dims.ndim
    viewer.reset_view()


def snap(viewer: napari.Viewer, dock, path: Path) -> None:
    """Raise `dock`'s tab, let the window settle and save it as a PNG."""
    dock.raise_()
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.02)
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")


def main(out: Path, *, train_minutes: float, quick: bool) -> None:
    from napari.settings import get_settings

    # Pop-up notifications would cover the canvas in the pictures; errors still show.
    # napari saves its settings, so the user's own level is put back afterwards.
    settings = get_settings().application
    level = settings.gui_notification_level
    settings.gui_notification_level = "error"
    try:
        make_screenshots(out, train_minutes=train_minutes, quick=quick)
    finally:
        settings.gui_notification_level = level


def make_screenshots(out: Path, *, train_minutes: float, quick: bool) -> None:  # noqa: PLR0915 - one scripted walk through the docks
    out.mkdir(parents=True, exist_ok=True)
    viewer = napari.Viewer(title="napari-divnoising", show=True)
    viewer.window.resize(*WINDOW_SIZE)
    viewer.open_sample(PLUGIN, "noisy")
    viewer.open_sample(PLUGIN, "calibration")
    docks = {
        name: viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=True)
        for name in ("Noise model", "Training", "Sampling", "Quality control")
    }

    # 1. Noise model from the calibration frames.
    dock, widget = docks["Noise model"]
    # The dock picks the calibration stack itself; the fit ends once its loss levels off.
    if quick:
        widget.form.n_iterations.value = 20
    widget.runner.run_button.click()
    wait(widget.runner)
    show_only(viewer, "calibration frames")
    snap(viewer, dock, out / "noise-model.png")

    # 2. Training with a live loss plot.
    dock, widget = docks["Training"]
    form = widget.form
    # As a user finds it: the dock preselected the noisy frames, not the calibration
    # frames opened after them.
    assert form.layers.value == [viewer.layers["noisy frames"]], form.layers.value
    if quick:
        form.patch_size.value, form.batch_size.value = 32, 4
        form.max_epochs.value, form.steps_per_epoch.value = 2, 2
        form.n_filters.value, form.z_dim.value = 8, 8
    else:
        # A time budget switches the form to the core's faster settings (64², batch 32,
        # learning rate 3e-3 with a cosine decay over the budget).
        form.time_budget.value = train_minutes
        form.max_epochs.value = form.patience.value = 10_000
    show_only(viewer, "noisy frames")
    widget.runner.run_button.click()
    run_for(0.6 * 60 * train_minutes, widget.runner)
    snap(viewer, dock, out / "training-live.png")
    wait(widget.runner)
    snap(viewer, dock, out / "training.png")

    # 3. Sampling: MMSE, MAP, uncertainty and a few raw samples.
    dock, widget = docks["Sampling"]
    assert widget.image.value is viewer.layers["noisy frames"], widget.image.value
    widget.n_samples.value = 4 if quick else 50
    widget.keep_samples.value = 3
    widget.map.value = True
    widget.interval.value = 0.9
    widget.runner.run_button.click()
    wait(widget.runner)
    show_only(viewer, "noisy frames", "noisy frames_mmse")
    viewer.canvas.grid.enabled = True
    snap(viewer, dock, out / "sampling.png")
    show_only(viewer, "noisy frames_uncertainty", "noisy frames_map")
    snap(viewer, dock, out / "sampling-map-uncertainty.png")
    viewer.canvas.grid.enabled = False

    # 4. Quality control against the simulated ground truth.
    dock, widget = docks["Quality control"]
    # Every column preselected: the newest MMSE, the ground truth, the MMSE's own input.
    for field, name in (
        (widget.prediction, "noisy frames_mmse"),
        (widget.ground_truth, "ground truth"),
        (widget.noisy, "noisy frames"),
        (widget.uncertainty, "noisy frames_uncertainty"),
    ):
        assert field.value is viewer.layers[name], (field.label, field.value)
    widget.runner.run_button.click()
    wait(widget.runner)
    show_only(viewer, "noisy frames_mmse_ssim_map", "noisy frames_mmse_rse_map")
    viewer.canvas.grid.enabled = True
    snap(viewer, dock, out / "quality-control.png")
    print_table(widget.table)
    steps = docks["Training"][1].store.model.provenance.get("n_steps")
    print(f"training: {steps} steps in {train_minutes:g} min")
    viewer.close()


def print_table(table) -> None:
    """Print the quality-control table, to quote its figures in the user guide."""
    columns = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    print("quality control:", " | ".join(columns))
    for row in range(table.rowCount()):
        cells = [
            table.item(row, c).text() if table.item(row, c) else "" for c in range(len(columns))
        ]
        print(f"  {table.verticalHeaderItem(row).text()}: {' | '.join(cells)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "images")
    parser.add_argument("--train-minutes", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="tiny settings, ugly pictures")
    arguments = parser.parse_args()
    main(arguments.out, train_minutes=arguments.train_minutes, quick=arguments.quick)
