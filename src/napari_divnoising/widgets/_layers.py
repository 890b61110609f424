"""Reading data from layers (with readable errors) and pushing results back as layers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.validation import as_image_stack

if TYPE_CHECKING:
    import napari
    from napari.layers import Image, Layer

__all__ = [
    "MARKER",
    "checked_image_layer",
    "data_layer_choices",
    "image_layers",
    "is_calibration",
    "is_result",
    "layer_image",
    "looks_like_calibration",
    "looks_like_ground_truth",
    "n_planes",
    "noisy_candidates",
    "push_image",
    "result_kind",
    "result_source",
    "upgrade_from_calibration",
]

#: Metadata key that marks the layers this plugin made, so that re-running replaces them.
MARKER = "napari_divnoising"
#: Metadata key of a result layer naming the layer it was computed from.
SOURCE_KEY = "napari_divnoising_source"


#: Words in a layer's name that say it is a ground truth (a clean reference).
GROUND_TRUTH_WORDS = ("ground truth", "ground_truth", "groundtruth", "gt", "clean", "truth")
#: Words in a layer's name that say it holds calibration frames, not the images to denoise.
CALIBRATION_WORDS = ("calibration", "calib", "calibrate")


def data_layer_choices(
    viewer: napari.viewer.Viewer, *, results: bool = True
) -> Callable[[Any], list[tuple[str, Any]]]:
    """Return a magicgui `choices` callable listing the viewer's image and labels layers.

    Labels layers are listed on purpose: intensity data opened as labels by some readers
    then gets a message that says how to convert it, rather than silently not showing up.
    With ``results=False`` the layers this plugin made (MMSE, maps, ...) are left out.
    """
    from napari.layers import Image, Labels

    def choices(_widget: Any = None) -> list[tuple[str, Any]]:
        return [
            (layer.name, layer)
            for layer in viewer.layers
            if isinstance(layer, Image | Labels) and (results or not is_result(layer))
        ]

    return choices


def is_result(layer: Layer) -> bool:
    """Whether this plugin made `layer` (a result or a map)."""
    return MARKER in layer.metadata


def result_kind(layer: Layer) -> str | None:
    """Which result this plugin's `layer` holds ("mmse", "uncertainty", ...), or None."""
    kind = layer.metadata.get(MARKER)
    return kind if isinstance(kind, str) else None


def result_source(layer: Layer, viewer: napari.viewer.Viewer) -> Layer | None:
    """Return the layer this plugin's result `layer` was computed from, if still open."""
    name = layer.metadata.get(SOURCE_KEY)
    return next((other for other in viewer.layers if other.name == name), None)


def image_layers(viewer: napari.viewer.Viewer, *, results: bool = True) -> list[Image]:
    """Return the single-channel image layers of `viewer`, oldest first."""
    from napari.layers import Image

    return [
        layer
        for layer in viewer.layers
        if isinstance(layer, Image) and not layer.rgb and (results or not is_result(layer))
    ]


def n_planes(layer: Image) -> int:
    """Return the number of 2D planes in an image layer (1 for a 2D image)."""
    shape = (layer.data[0] if layer.multiscale else layer.data).shape
    return int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1


def noisy_candidates(viewer: napari.viewer.Viewer) -> list[Image]:
    """Return the user's image layers that may be noisy data to train on or denoise.

    The active layer comes first, newest next; calibration frames (named so, or a noise
    model was calibrated from them) come last, whatever the order they were opened in.
    Results of this plugin and layers named like a ground truth are left out.
    """
    layers = [
        layer
        for layer in image_layers(viewer, results=False)[::-1]
        if not looks_like_ground_truth(layer)
    ]
    active = viewer.layers.selection.active
    if active in layers:
        layers.remove(active)
        layers.insert(0, active)

    # A stable sort: the order above holds within each group.
    return sorted(layers, key=lambda layer: is_calibration(layer, viewer))


def is_calibration(layer: Layer, viewer: napari.viewer.Viewer) -> bool:
    """Whether `layer` holds calibration frames: named so, or step 1 calibrated from it."""
    from ._store import store_for

    return layer in store_for(viewer).calibration_layers or looks_like_calibration(layer)


def upgrade_from_calibration(
    current: Layer | None, candidates: list[Image], viewer: napari.viewer.Viewer
) -> bool:
    """Whether a dock should replace `current` by ``candidates[0]`` without being asked.

    When `current` is no longer offered, or is calibration frames while noisy data is
    now open. A noisy layer is never swapped for another one behind the user's back.
    """
    if not candidates or current is candidates[0]:
        return False
    if current not in candidates:
        return True
    return is_calibration(current, viewer) and not is_calibration(candidates[0], viewer)


def looks_like_calibration(layer: Layer) -> bool:
    """Whether `layer`'s name says it holds calibration frames ("calibration frames", …)."""
    words = layer.name.lower().replace("-", " ").replace("_", " ").split()
    return any(word in CALIBRATION_WORDS for word in words)


def looks_like_ground_truth(layer: Layer) -> bool:
    """Whether `layer`'s name says it is a ground truth ("ground truth", "cells_gt", …)."""
    words = layer.name.lower().replace("-", " ").replace("_", " ").split()
    name = " ".join(words)
    return any(word in words or (" " in word and word in name) for word in GROUND_TRUTH_WORDS)


def layer_image(layer: Layer | None, *, role: str, min_size: int = 1) -> np.ndarray:
    """Return the pixel data of `layer` after the core's checks, or raise a readable error.

    Parameters
    ----------
    layer : napari.layers.Layer or None
        The layer the user picked.
    role : str
        What the layer is for, in words ("noisy image", "ground truth").
    min_size : int
        Smallest allowed height and width.

    Returns
    -------
    ndarray
        The layer's data (level 0 of a multiscale image), unchanged.

    Raises
    ------
    InputError
        For no layer, a labels or other non-image layer, an RGB layer, or data the core
        refuses (see :func:`~napari_divnoising.core.validation.as_image_stack`).
    """
    checked_image_layer(layer, role=role)
    data = np.asarray(layer.data[0] if layer.multiscale else layer.data)
    as_image_stack(data, name=layer.name, min_size=min_size)
    return data


def checked_image_layer(layer: Layer | None, *, role: str) -> Image:
    """Return `layer` if it is a single-channel image layer; raise a readable error if not.

    Raises
    ------
    InputError
        For no layer, a labels or other non-image layer, or an RGB layer.
    """
    from napari.layers import Image, Labels

    if layer is None:
        raise InputError(f"No {role} layer chosen: open an image and pick it in the list")
    if isinstance(layer, Labels):
        raise InputError(
            f"'{layer.name}' is a Labels layer, but the {role} must be an intensity image. "
            "If it holds camera intensities, right-click it and choose 'Convert to Image'"
        )
    if not isinstance(layer, Image):
        raise InputError(
            f"'{layer.name}' is a {type(layer).__name__} layer; the {role} must be an image"
        )
    if layer.rgb:
        raise InputError(
            f"'{layer.name}' is an RGB colour image; DivNoising needs single-channel camera "
            "data. Right-click the layer and choose 'Split RGB', then pick one channel"
        )
    return layer


def push_image(
    viewer: napari.viewer.Viewer,
    data: np.ndarray,
    *,
    name: str,
    source: Image | None = None,
    leading_axes: int = 0,
    kind: str = "result",
    **kwargs: Any,
) -> Image:
    """Add `data` as an image layer, replacing this plugin's earlier layer of that name.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        Where to add the layer.
    data : ndarray
        The pixels.
    name : str
        Layer name; an earlier layer of this name made by the plugin is replaced in place
        (same position in the layer list), a user's layer of that name is left alone.
    source : napari.layers.Image, optional
        The input layer: its scale and translate are carried over (with `leading_axes`
        extra axes of scale 1 in front), and its contrast limits unless given.
    leading_axes : int
        Axes in `data` before the source's axes (the sample axis of raw samples).
    kind : str
        Which result it is ("mmse", "ssim_map", ...), kept in the layer's metadata so the
        other docks can tell results apart from the user's data.
    **kwargs
        More keyword arguments for :meth:`napari.Viewer.add_image` (colormap, ...).

    Returns
    -------
    napari.layers.Image
        The new layer.
    """
    if source is not None:
        kwargs.setdefault("scale", (1.0,) * leading_axes + tuple(source.scale))
        kwargs.setdefault("translate", (0.0,) * leading_axes + tuple(source.translate))
        if not source.rgb:
            kwargs.setdefault("contrast_limits", tuple(source.contrast_limits))
    old = next(
        (layer for layer in viewer.layers if layer.name == name and MARKER in layer.metadata),
        None,
    )
    if old is not None:
        kwargs.pop("visible", None)  # a replaced layer keeps the user's choice
    if old is not None and _can_update(old, data, kwargs):
        # In place: removing and re-adding a layer blocks the event loop for about a second.
        _update(old, data, kind, kwargs)
        if source is not None:
            old.metadata = {**old.metadata, SOURCE_KEY: source.name}
        return old
    index = viewer.layers.index(old) if old is not None else None
    if old is not None:
        kwargs["visible"] = old.visible
        viewer.layers.remove(old)
    metadata = {MARKER: kind} | ({SOURCE_KEY: source.name} if source is not None else {})
    layer = viewer.add_image(data, name=name, metadata=metadata, **kwargs)
    if index is not None:
        viewer.layers.move(viewer.layers.index(layer), index)
    return layer


#: Image settings an existing layer can take in place.
_UPDATABLE = {"scale", "translate", "contrast_limits", "colormap", "visible"}


def _can_update(layer: Image, data: np.ndarray, kwargs: dict[str, Any]) -> bool:
    return set(kwargs) <= _UPDATABLE and np.ndim(layer.data) == np.ndim(data)


def _update(layer: Image, data: np.ndarray, kind: str, kwargs: dict[str, Any]) -> None:
    """Give an existing result layer new data and settings, keeping its place and view."""
    kwargs.pop("visible", None)  # the user's choice stays
    for name in ("scale", "translate"):
        if name in kwargs:
            setattr(layer, name, kwargs.pop(name))
    layer.data = data
    if "colormap" in kwargs:
        layer.colormap = kwargs.pop("colormap")
    layer.contrast_limits = kwargs.pop("contrast_limits", layer.contrast_limits)
    layer.metadata = {**layer.metadata, MARKER: kind}
