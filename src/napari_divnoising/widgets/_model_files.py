"""Load and save trained models from a dock: a small form bound to the shared store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import Container, FileEdit, PushButton

from napari_divnoising.core.errors import InputError

from ._workers import guarded

if TYPE_CHECKING:
    from ._store import ModelStore

__all__ = ["ModelFiles"]


def _model_suffix() -> str:
    # Imported when a form is built, not with this module: the bundle brings in torch.
    from napari_divnoising.core.model.config import MODEL_SUFFIX

    return MODEL_SUFFIX


class ModelFiles:
    """A "load model" row, and optionally a "save model" row, acting on `store`.

    Parameters
    ----------
    store : ModelStore
        Where the loaded model goes and the saved model comes from.
    save : bool
        Also offer saving the store's model.
    """

    def __init__(self, store: ModelStore, *, save: bool = False) -> None:
        self.store = store
        suffix = _model_suffix()
        self.load_path = FileEdit(
            label="load from",
            mode="r",
            filter=f"*{suffix} *.zip",
            tooltip=f"A trained model file ({suffix}), or a bioimage.io package exported by "
            "napari-divnoising",
        )
        self.load_button = PushButton(
            text="Load model", tooltip="Load a saved model (.divnoising or bioimage.io .zip)"
        )
        self.load_button.changed.connect(self.load)
        widgets: list = [self.load_path, self.load_button]
        if save:
            self.save_path = FileEdit(
                label="save to",
                mode="w",
                filter=f"*{suffix}",
                tooltip=f"Where to write the current model: one {suffix} file with weights, "
                "settings, noise model, loss history and uncertainty calibration",
            )
            self.save_button = PushButton(
                text="Save model", tooltip="Write the current model to the file above"
            )
            self.save_button.changed.connect(self.save)
            widgets = [self.save_path, self.save_button, *widgets]
        self.container = Container(widgets=widgets)

    @guarded
    def load(self) -> None:
        """Load the model file chosen in the form and offer it to every widget."""
        from napari_divnoising.core.model_files.bundle import load_model

        path = Path(self.load_path.value)
        self.store.set_model(load_model(path), label=f"loaded from {path.name}")

    @guarded
    def save(self) -> None:
        """Save the store's model to the file chosen in the form."""
        from napari.utils.notifications import show_info

        from napari_divnoising.core.model.config import MODEL_SUFFIX
        from napari_divnoising.core.model_files.bundle import save_model

        if self.store.model is None:
            raise InputError("No trained model to save yet: train or load one first")
        path = Path(self.save_path.value)
        if path.suffix == "":
            path = path.with_suffix(MODEL_SUFFIX)
        show_info(f"Saved the model to {save_model(self.store.model, path)}")
