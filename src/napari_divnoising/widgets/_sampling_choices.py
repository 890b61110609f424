"""The Sampling dock's fixed choices, and how its results are named."""

from __future__ import annotations

__all__ = ["FOLDER_TIP", "INTERVALS", "SCOPES", "SCOPE_TIP", "output_name"]

#: Interval choices of the form: (label, probability).
INTERVALS = [("none", None), ("50%", 0.5), ("80%", 0.8), ("90%", 0.9), ("95%", 0.95)]
#: What the Sample button denoises.
SCOPES = ("whole layer", "current plane", "whole stack → OME-Zarr")
SCOPE_TIP = (
    "whole layer: every plane, in memory; current plane: only the plane on display (a big "
    "or lazy stack's preview, the same result as in the whole stack); whole stack → "
    "OME-Zarr: plane by plane into the folder below, resumable, added back as lazy layers "
    "(kept samples are not written)"
)
FOLDER_TIP = "where 'whole stack → OME-Zarr' writes <layer>_mmse.ome.zarr and the others"


def output_name(source: str, output: str, interval: float | None) -> str:
    """Return the layer (and exported file) name of one result of `source`.

    The interval bounds carry their probability: ``cells_lower_90%``.
    """
    if output in ("lower", "upper") and interval is not None:
        return f"{source}_{output}_{interval:.0%}"
    return f"{source}_{output}"
