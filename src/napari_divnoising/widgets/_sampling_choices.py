"""The Sampling dock's fixed choices, how its results are named, and their TIFF export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from napari_divnoising.core.errors import InputError
from napari_divnoising.core.prediction.config import SamplingConfig, sampling_config

__all__ = [
    "FOLDER_TIP",
    "INTERVALS",
    "SCOPES",
    "SCOPE_TIP",
    "export_tiffs",
    "form_settings",
    "output_name",
]

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


def form_settings(form: Any) -> SamplingConfig:
    """Return the settings of the Sampling dock's `form` (SettingsError if one is out of range).

    With *direct MMSE* ticked, only what the direct network uses counts (tile size); the
    sampler's results are not asked for, so the fastest path runs.
    """
    if form.direct.value:
        return sampling_config(direct=True, tile_size=form.tile_size.value or None)
    return sampling_config(
        n_samples=form.n_samples.value,
        keep_samples=min(form.keep_samples.value, form.n_samples.value),
        map_estimate=form.map.value,
        uncertainty=form.uncertainty.value,
        calibrate_uncertainty=form.calibrate.value,
        interval=form.interval.value,
        restore_detail=form.restore_detail.value,
        tta=form.tta.value,
        tile_size=form.tile_size.value or None,
        seed=form.seed.value,
    )


def output_name(source: str, output: str, interval: float | None) -> str:
    """Return the layer (and exported file) name of one result of `source`.

    The interval bounds carry their probability: ``cells_lower_90%``.
    """
    if output in ("lower", "upper") and interval is not None:
        return f"{source}_{output}_{interval:.0%}"
    return f"{source}_{output}"


def export_tiffs(
    results: dict[str, np.ndarray],
    written: dict[str, Path],
    folder: Path,
    source: str,
    interval: float | None,
) -> int:
    """Write the in-memory `results` as ``<source>_<output>.tif`` into `folder`; return how many.

    Raises
    ------
    InputError
        With nothing in memory: where a whole-stack run's files (`written`) already are,
        or that there is nothing yet; or when `folder` does not exist.
    """
    from napari_divnoising.core.io import write_tiff
    from napari_divnoising.core.outputs import output_name_from

    if not results and written:
        where = next(iter(written.values())).parent
        raise InputError(
            f"The whole-stack results are already files: {len(written)} OME-Zarr "
            f"images in {where} (Fiji and napari open them). 'Export results as TIFF' "
            "writes the results of a whole-layer or current-plane run."
        )
    if not results:
        raise InputError("Nothing to export yet: run the sampling first")
    if not folder.is_dir():
        raise InputError(f"Export folder {str(folder)!r} does not exist; choose a folder")
    for output, data in results.items():
        # A metadata dict makes tifffile record the shape (the sample axis survives).
        description = {"source": source, "output": output}
        # A layer's name may hold what a file name must not ("../x", "a: b").
        name = output_name_from(output_name(source, output, interval))
        write_tiff(folder / f"{name}.tif", data, metadata=description)
    return len(results)
