"""Stacks in layers that do not fit in memory: one plane at a time, results read lazily."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from napari_divnoising.core.errors import InputError

from ._layers import checked_image_layer, push_image

if TYPE_CHECKING:
    import napari
    from napari.layers import Image, Layer

    from napari_divnoising.core.stacks import Stack

__all__ = [
    "IN_MEMORY_LIMIT_BYTES",
    "current_plane",
    "layer_stack",
    "plane_name",
    "push_lazy",
    "push_lazy_results",
    "push_plane",
]

#: A lazy (dask, zarr) layer larger than this is not read whole into memory.
IN_MEMORY_LIMIT_BYTES = 2**30


def layer_stack(layer: Layer | None, *, role: str) -> Stack:
    """Return an image layer's data as a lazy :class:`~napari_divnoising.core.stacks.Stack`."""
    from napari_divnoising.core.axes import layer_axes
    from napari_divnoising.core.stacks import stack_from_array

    layer = checked_image_layer(layer, role=role)
    data = layer.data[0] if layer.multiscale else layer.data
    return stack_from_array(data, axes=layer_axes(data.ndim), name=layer.name)


def check_fits_in_memory(layer: Image) -> None:
    """Refuse to read a large lazy layer whole; name the choices that do not need to."""
    data = layer.data[0] if layer.multiscale else layer.data
    nbytes = int(np.prod(data.shape, dtype=np.int64)) * np.dtype(data.dtype).itemsize
    if not isinstance(data, np.ndarray) and nbytes > IN_MEMORY_LIMIT_BYTES:
        raise InputError(
            f"'{layer.name}' is a lazy layer of {nbytes / 2**30:.1f} GiB, too large to denoise "
            "in memory: choose 'current plane', or 'whole stack → OME-Zarr' and a folder"
        )


def current_plane(viewer: napari.viewer.Viewer, layer: Image, stack: Stack) -> tuple[int, ...]:
    """Return the position (over the leading axes) of the plane of `layer` on display."""
    leading = stack.layout[:-2]
    point = layer.world_to_data(viewer.dims.point[-layer.ndim :])
    return tuple(
        int(np.clip(round(float(p)), 0, n - 1)) for p, n in zip(point, leading, strict=False)
    )


def push_plane(
    viewer: napari.viewer.Viewer,
    plane: np.ndarray,
    *,
    name: str,
    source: Image,
    position: tuple[int, ...],
    **kwargs: Any,
) -> Image:
    """Add the result of one plane, placed at that plane of `source` (shown there only).

    The layer is named ``<name> (plane)``: it replaces the previous plane's, never a
    result of the whole layer or stack (which has another extent).
    """
    lead = len(position)
    scale = np.asarray(source.scale)
    # A copy: napari hands out the layer's own array, and the input must never move.
    translate = np.array(source.translate, dtype=float)
    translate[:lead] += np.asarray(position) * scale[:lead]
    data = plane.reshape((1,) * lead + plane.shape)
    return push_image(
        viewer, data, name=plane_name(name), source=source, translate=tuple(translate), **kwargs
    )


def plane_name(name: str) -> str:
    """Return the layer name of one plane's result, beside the whole layer's `name`."""
    return f"{name} (plane)"


def push_lazy(
    viewer: napari.viewer.Viewer, image: Path, *, name: str, source: Image, **kwargs: Any
) -> Image:
    """Add a result image written as OME-Zarr as a lazy (dask) layer.

    With a colormap (the uncertainty), the contrast limits come from its first plane, not
    the source's intensities, and never from the whole stack.
    """
    import dask.array as da

    data = da.from_zarr(str(Path(image) / "0"))
    if "colormap" in kwargs:
        first = np.asarray(data[(0,) * (data.ndim - 2)])
        kwargs.setdefault("contrast_limits", (0.0, float(np.percentile(first, 99.9)) or 1.0))
    return push_image(viewer, data, name=name, source=source, **kwargs)


def push_lazy_results(
    viewer: napari.viewer.Viewer, images: dict[str, Any], names: dict[str, str], *, source: Image
) -> dict[str, Path]:
    """Add the OME-Zarr results named in `names` as lazy layers; return their paths.

    The first result ends on top and shown, the others under it, hidden: a click away.
    """
    written = {output: Path(images[output]) for output in names}
    first = next(iter(written), None)
    for output, image in reversed(written.items()):
        options: dict[str, Any] = {"colormap": "magma"} if output == "uncertainty" else {}
        options["visible"] = output == first
        push_lazy(viewer, image, name=names[output], source=source, kind=output, **options)
    return written
