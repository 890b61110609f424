"""Hand the fitted noise model and the trained model from one dock widget to another.

Each viewer gets one :class:`ModelStore`. The noise-model widget puts its fitted model
there, the training widget offers it without the user saving a file, and the sampling
and quality-control widgets pick up the trained model the same way. The store holds
references only: everything in it can be rebuilt from a saved file.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from psygnal import Signal

if TYPE_CHECKING:
    import napari

    from napari_divnoising.core.model.trained import TrainedModel
    from napari_divnoising.core.noise_model import NoiseModel

__all__ = ["ModelStore", "store_for"]


class ModelStore:
    """The current noise model and trained model of one viewer, with change signals."""

    noise_model_changed = Signal(object)
    model_changed = Signal(object)

    def __init__(self) -> None:
        self._noise_model: NoiseModel | None = None
        self._model: TrainedModel | None = None
        self.noise_model_label = ""
        self.model_label = ""
        # Layers a noise model was calibrated from: the other docks do not offer them
        # first as the images to train on or denoise.
        self.calibration_layers: weakref.WeakSet[Any] = weakref.WeakSet()

    @property
    def noise_model(self) -> NoiseModel | None:
        """The noise model fitted or loaded last, or None."""
        return self._noise_model

    @property
    def model(self) -> TrainedModel | None:
        """The model trained or loaded last, or None."""
        return self._model

    def set_noise_model(self, noise_model: NoiseModel | None, *, label: str = "") -> None:
        """Offer `noise_model` to the other widgets; `label` says where it came from."""
        self._noise_model = noise_model
        self.noise_model_label = label
        self.noise_model_changed.emit(noise_model)

    def set_model(self, model: TrainedModel | None, *, label: str = "") -> None:
        """Offer `model` to the other widgets; `label` says where it came from."""
        self._model = model
        self.model_label = label
        self.model_changed.emit(model)


# napari viewers are not hashable (pydantic models), so key by id and drop the entry
# when the viewer is garbage collected.
_STORES: dict[int, ModelStore] = {}


def store_for(viewer: napari.viewer.Viewer | Any) -> ModelStore:
    """Return the :class:`ModelStore` shared by every dock widget of `viewer`.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose widgets share models.

    Returns
    -------
    ModelStore
        Created on first use.
    """
    # napari hands plugins a proxy of the viewer, a new one per widget: key by the viewer.
    viewer = getattr(viewer, "__wrapped__", viewer)
    key = id(viewer)
    if key not in _STORES:
        _STORES[key] = ModelStore()
        weakref.finalize(viewer, _STORES.pop, key, None)
    return _STORES[key]
