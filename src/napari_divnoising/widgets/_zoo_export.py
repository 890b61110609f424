"""Export the current model to the bioimage.io format from a dock: a small form."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, Container, FileEdit, LineEdit

from napari_divnoising.core.errors import InputError

from ._layers import data_layer_choices, layer_image
from ._workers import guarded

if TYPE_CHECKING:
    import napari

    from ._store import ModelStore
    from ._workers import JobRunner

__all__ = ["ZooExport"]


class ZooExport:
    """License, authors, test image and package file; the export runs in a job runner.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Where the test image layer is chosen.
    store : ModelStore
        Where the model comes from.
    """

    runner: JobRunner

    def __init__(self, viewer: napari.viewer.Viewer, store: ModelStore) -> None:
        self.store = store
        self.license = LineEdit(
            label="license",
            tooltip="the license you give the model, as an SPDX id: CC-BY-4.0, MIT, …",
        )
        self.license.native.setPlaceholderText("required, e.g. CC-BY-4.0")
        self.authors = LineEdit(label="authors", tooltip="names, separated by commas")
        self.test_image = ComboBox(
            label="test image",
            choices=data_layer_choices(viewer),
            tooltip="noisy data of yours: its centre becomes the package's test tile and cover",
        )
        self.package = FileEdit(
            label="package",
            mode="w",
            filter="*.zip",
            tooltip="The bioimage.io model package (.zip) to write",
        )
        self.container = Container(
            widgets=[self.license, self.authors, self.test_image, self.package]
        )

    def use_runner(self, runner: JobRunner) -> None:
        """Export with `runner`: in a worker thread, with progress and Stop.

        Its status line says what went wrong or where the package went.
        """
        self.runner = runner
        runner.run_button.setToolTip(
            "Write the model as a bioimage.io package (.zip): the MMSE of fixed posterior "
            "samples, with your test image's centre as its test and cover"
        )
        runner.run_button.clicked.connect(self.export)

    @guarded
    def export(self) -> None:
        """Write the store's model as a bioimage.io package (the MMSE of fixed samples)."""
        from napari_divnoising.core.model_files.bioimageio import iter_export_bioimageio

        if self.store.model is None:
            raise InputError("No trained model to export yet: train or load one first")
        if not self.license.value.strip():
            raise InputError("Choose the model's license (e.g. CC-BY-4.0) before exporting")
        authors = [name.strip() for name in self.authors.value.split(",") if name.strip()]
        if not authors:
            raise InputError("Name at least one author before exporting")
        path = Path(self.package.value)
        if str(path) in ("", "."):
            raise InputError("Choose the package file (.zip) to write")
        if path.suffix == "":
            path = path.with_suffix(".zip")
        image = layer_image(self.test_image.value, role="test image")
        job = iter_export_bioimageio(
            self.store.model, image, path, license=self.license.value.strip(), authors=authors
        )
        self.runner.start(job, on_returned=self._written)

    def _written(self, path: Path) -> None:
        from napari.utils.notifications import show_info

        show_info(f"Wrote the bioimage.io package {path}")
        self.runner.status.setText(f"Wrote the bioimage.io package {path}")
