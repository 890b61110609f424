"""``divnoising predict``: posterior samples, MMSE, MAP and uncertainty of noisy images."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

import numpy as np

from ..core.prediction.config import SamplingConfig
from ._noise_model import add_axes_option, checked_axes
from ._progress import CommandError, drive, user_errors
from ._settings import add_setting, setting_flags, settings_from

#: Each SamplingConfig field the command sets: its option and metavar (help and default
#: come from the field; the interval's help says which files it adds).
SETTING_OPTIONS = [
    ("n_samples", "--samples", None, {"metavar": "N"}),
    ("map_estimate", "--map", None, {}),
    ("uncertainty", "--uncertainty", None, {}),
    (
        "interval",
        "--interval",
        "also write <stem>_lower.tif and <stem>_upper.tif, the bounds of the central "
        "posterior interval of probability P (0.9: the 90% interval)",
        {"metavar": "P"},
    ),
    ("calibrate_uncertainty", "--calibrate-uncertainty", None, {}),
    ("restore_detail", "--restore-detail", None, {}),
    ("keep_samples", "--keep-samples", None, {"metavar": "K"}),
    ("tta", "--tta", None, {}),
    ("tile_size", "--tile-size", None, {}),
    ("seed", "--seed", None, {}),
    (
        "direct",
        "--direct",
        "the direct network's MMSE (<stem>_direct_mmse), one pass per plane instead of "
        "sampling: dozens of times faster; needs a model trained with `train --direct` or "
        "`--direct-from`. Gives the MMSE only (no samples, MAP or uncertainty); --tta "
        "averages the 8 rotations and flips at 8 passes' cost",
        {},
    ),
]


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "predict",
        help="denoise images with a trained model",
        description=(
            "Draw posterior samples for each image and write <stem>_mmse.tif (their mean) and "
            "<stem>_restored.tif (the MMSE with the share of the residual that the noise "
            "model cannot explain added back), and on request <stem>_map.tif, "
            "<stem>_uncertainty.tif (their standard deviation, scaled by the model's "
            "calibration), <stem>_lower.tif and <stem>_upper.tif (the bounds of the "
            "central posterior interval of probability P: on data like the training data "
            "the clean signal lies between them on about P of the pixels) and "
            "<stem>_samples.tif (K raw samples, sample axis first). "
            "<stem>_prediction.json records the settings, the model file and the software."
        ),
    )
    parser.add_argument("model", type=Path, metavar="MODEL", help="trained model (.divnoising)")
    parser.add_argument(
        "images",
        nargs="+",
        type=Path,
        metavar="IMAGES",
        help="noisy images: TIFF or .npy files, zarr / OME-Zarr stores, folders of images",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--name",
        metavar="NAME",
        help="name the outputs NAME_mmse.tif … instead of after the input (one input only)",
    )
    add_axes_option(
        parser,
        "; results have the input's shape (a single channel dropped); an image whose last "
        "two axes are not Y, X is written with its other axes first, then Y, X (YXT as TYX)",
    )
    for name, flag, text, metavar in SETTING_OPTIONS:
        add_setting(parser, SamplingConfig, name, flag, help=text, **metavar)
    parser.add_argument(
        "--format",
        default="auto",
        choices=["auto", "tiff", "ome-zarr"],
        help="tiff: one TIFF per result, computed in memory; ome-zarr: <stem>_<result>.ome.zarr "
        "written plane by plane, any stack size, resumable (auto: ome-zarr for zarr stores, "
        "folders and --scheduler, else tiff)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="WHERE",
        help="run the planes on a dask cluster: 'local' (this machine), tcp://HOST:PORT or a "
        "scheduler file (dask-jobqueue, dask-mpi); writes OME-Zarr",
    )
    parser.add_argument(
        "--workers", type=int, metavar="N", help="worker processes of --scheduler local"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def sampling_settings(arguments: argparse.Namespace) -> SamplingConfig:
    """Return the validated settings of the options."""
    with user_errors(setting_flags(arguments)):
        return settings_from(arguments, SamplingConfig)


def output_paths(
    image_path: Path, folder: Path, settings: SamplingConfig, name: str | None = None
) -> dict[str, Path]:
    """Return the images written for one image, by result name (named `name` if given)."""
    from ..core.prediction.results import result_names

    stem = name or image_path.stem
    return {result: folder / f"{stem}_{result}.tif" for result in result_names(settings)}


def record_path(image_path: Path, folder: Path, name: str | None = None) -> Path:
    """Return the JSON file that records how one image's results were made."""
    return folder / f"{name or image_path.stem}_prediction.json"


def check_outputs(arguments: argparse.Namespace, settings: SamplingConfig) -> None:
    """Plan every output of the run before any work: no collision, no input, no surprise."""
    from ..core.output_lock import check_unlocked
    from ..core.outputs import plan_outputs

    outputs = []
    for image_path in arguments.images:
        paths = [*output_paths(image_path, arguments.out, settings, arguments.name).values()]
        record = record_path(image_path, arguments.out, arguments.name)
        outputs += [(str(image_path), path) for path in [*paths, record]]
    with user_errors():
        plan_outputs(
            outputs, inputs=[arguments.model, *arguments.images], overwrite=arguments.overwrite
        )
        for image_path in arguments.images:
            check_unlocked(arguments.out, arguments.name or image_path.stem)


def write_record(path: Path, settings: SamplingConfig, model_path: Path) -> None:
    """Write the settings, the model file and the software versions to `path`, atomically."""
    from ..core.io import atomic_path
    from ..core.provenance import software_record

    record = {
        "settings": settings.model_dump(mode="json"),
        "model_file": str(model_path.resolve()),
        "software": software_record(),
    }
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def output_format(arguments: argparse.Namespace) -> str:
    """Return ``"tiff"`` or ``"ome-zarr"``: what ``--format`` asks, or suits the inputs."""
    from ..core.stacks import is_zarr

    if arguments.format == "tiff" and arguments.scheduler is not None:
        raise CommandError("--scheduler writes OME-Zarr; drop --format tiff")
    if arguments.workers is not None and arguments.scheduler != "local":
        raise CommandError("--workers sets the size of --scheduler local; add --scheduler local")
    if arguments.format != "auto":
        return arguments.format
    stacks = any(is_zarr(path) or path.is_dir() for path in arguments.images)
    return "ome-zarr" if stacks or arguments.scheduler is not None else "tiff"


def run_to_zarr(arguments: argparse.Namespace, settings: SamplingConfig) -> None:
    """Predict every stack plane by plane into OME-Zarr (resuming earlier runs)."""
    from ..core.model_files import load_model
    from ..core.prediction.recipe import ZarrTarget, iter_predict
    from ..core.prediction.to_zarr import output_stem

    stems = {}
    with user_errors():
        model = load_model(arguments.model)
        runs = []
        for path in arguments.images:  # every input and output checked before any work
            stem = arguments.name or output_stem(path)
            if stem in stems:
                raise CommandError(
                    f"{stems[stem]} and {path} would both write {stem}_*.ome.zarr; "
                    "give the inputs different names or use separate output folders"
                )
            stems[stem] = path
            target = ZarrTarget(
                arguments.out,
                stem=stem,
                overwrite=arguments.overwrite,
                scheduler=arguments.scheduler,
                n_workers=arguments.workers,
                model_file=arguments.model,
                inputs=tuple(arguments.images),
            )
            runs.append(
                iter_predict(
                    path,
                    model,
                    settings,
                    target=target,
                    axes=checked_axes(arguments),
                    device=arguments.device,
                )
            )
        for run in runs:
            result = drive(run, quiet=arguments.quiet)
            reused = result.n_planes - result.computed
            earlier = f", {reused} done by an earlier run" if reused else ""
            print(f"{result.computed} of {result.n_planes} planes computed{earlier}")
            for path in [*result.images.values(), result.record]:
                print(f"wrote {path}")


def run(arguments: argparse.Namespace) -> None:
    """Predict every image and write the results."""
    from ..core.io import check_planes
    from ..core.model_files import load_model
    from ..core.output_lock import holding_lock

    settings = sampling_settings(arguments)
    if arguments.name is not None and len(arguments.images) > 1:
        raise CommandError("--name names the outputs of one input; give one image, or drop it")
    if arguments.name is not None:
        from ..core.outputs import check_output_name

        with user_errors():
            check_output_name(arguments.name)
    if output_format(arguments) == "ome-zarr":
        run_to_zarr(arguments, settings)
        return
    axes = checked_axes(arguments)
    check_outputs(arguments, settings)
    with user_errors():
        for image_path in arguments.images:  # every image's axes, before any sampling
            check_planes(image_path, axes=axes)
        model = load_model(arguments.model)
        made = [p for p in [arguments.out, *arguments.out.parents] if not p.exists()]
        arguments.out.mkdir(parents=True, exist_ok=True)
        try:
            for image_path in arguments.images:
                # One run at a time per set of outputs: a second run would mix the files.
                with holding_lock(arguments.out, arguments.name or image_path.stem):
                    predict_one(image_path, model, settings, arguments, axes=axes)
        finally:
            for folder in made:  # made for this run, and left empty by a failure
                with contextlib.suppress(OSError):
                    folder.rmdir()


def predict_one(
    image_path: Path, model, settings: SamplingConfig, arguments: argparse.Namespace, *, axes
) -> None:
    """Predict one image in memory and write its TIFF results and record."""
    from ..core.io import read_planes, write_tiff
    from ..core.prediction.recipe import iter_predict

    image = read_planes(image_path, axes=axes)
    prediction = drive(
        iter_predict(image, model, settings, device=arguments.device), quiet=arguments.quiet
    )
    paths = output_paths(image_path, arguments.out, settings, arguments.name)
    for name, path in paths.items():
        write_tiff(path, np.asarray(getattr(prediction, name), dtype=np.float32))
        print(f"wrote {path}")
    record = record_path(image_path, arguments.out, arguments.name)
    write_record(record, prediction.settings or settings, arguments.model)
    print(f"wrote {record}")
