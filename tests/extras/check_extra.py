"""Check the installed wheel of napari-divnoising with one extra, or none, or all of them.

Run with the python of an environment where the wheel is installed with that extra alone (tox's,
or the one ``tests/test_extras.py`` builds)::

    python tests/extras/check_extra.py EXTRA WORKDIR

EXTRA is ``none`` (the base install), ``bigdata``, ``bioimageio`` or ``all``. In each, first what
every install must do: the package comes from the wheel (not a clone), ``divnoising --help`` and
``divnoising demo --quick`` succeed, and napari finds the plugin, its samples and (with ``all``,
the only install with a Qt binding) opens its four docks: ``plugin_checks.py`` says how. Then
each check drives the installed ``divnoising`` command on tiny sample data, as a user would:

- ``none``: train a tiny model, predict to TIFF; the commands of the missing extras fail
  with the message that names the extra to install;
- ``bigdata``: predict a small stack to OME-Zarr and read it back with ome-zarr;
- ``bioimageio``: export the model as a bioimage.io package, read it back (with
  bioimageio.core and with napari-divnoising) and run bioimageio.core's own model test;
- ``all``: the modules of both extras are there (their checks run in their own environments).

The exported package is left at ``WORKDIR/package.zip`` so that a caller can test it again
with another validator. Exits non-zero with the failing command's output on any failure.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

from plugin_checks import check_installed_from_wheel, check_plugin

#: The extras that have code paths of their own, and the modules each one brings.
EXTRAS = {
    "none": (),
    "bigdata": ("zarr", "ome_zarr", "distributed"),
    "bioimageio": ("bioimageio.spec", "bioimageio.core"),
}
EXTRAS["all"] = (*EXTRAS["bigdata"], *EXTRAS["bioimageio"])
#: The packages whose versions a check prints first (what pip resolved decides the outcome).
REPORTED = (
    "napari-divnoising", "torch", "numpy", "pydantic", "pydantic-core", "zarr", "ome-zarr",
    "distributed", "bioimageio.spec", "bioimageio.core", "napari", "npe2", "PyQt6",
)  # fmt: skip
#: What ``divnoising demo`` writes, among others: the model, its noise model, the MMSE.
DEMO_OUTPUTS = ("model.divnoising", "noise_model_calibrated.npz", "noisy_mmse.tif")
#: Sample data small enough that the whole check takes seconds.
SHAPE, N_FRAMES, N_CALIBRATION = (64, 64), 4, 12


def divnoising(*arguments: str | Path, fails: bool = False) -> str:
    """Run the installed ``divnoising`` command; return its output (stdout and stderr)."""
    command = [str(Path(sys.executable).with_name("divnoising")), *map(str, arguments)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    if (done.returncode != 0) != fails:
        expected = "fail" if fails else "succeed"
        shown = " ".join(command)
        sys.exit(f"expected `{shown}` to {expected} (exit {done.returncode}):\n{output}")
    return output


def tiny_model(folder: Path) -> tuple[Path, Path]:
    """Write the sample data, fit a noise model and train a tiny model with the CLI."""
    import tifffile

    from napari_divnoising.core.sample_data import make_sample_data

    data = make_sample_data(shape=SHAPE, n_frames=N_FRAMES, n_calibration_frames=N_CALIBRATION)
    noisy, calibration = folder / "noisy.tif", folder / "calibration.tif"
    tifffile.imwrite(noisy, data.noisy, metadata={"axes": "QYX"})
    tifffile.imwrite(calibration, data.calibration, metadata={"axes": "TYX"})
    divnoising(
        "fit-noise-model", "--calibration", calibration, "--out", folder / "noise_model.npz",
        "--iterations", 20, "--quiet", "--overwrite",
    )  # fmt: skip
    model = folder / "model.divnoising"
    divnoising(
        "train", noisy, "--noise-model", folder / "noise_model.npz", "--out", model,
        "--max-epochs", 1, "--patch-size", 32, "--batch-size", 4, "--no-calibrate-uncertainty",
        "--quiet", "--overwrite",
    )  # fmt: skip
    return model, noisy


def check_commands(folder: Path) -> None:
    """``divnoising --help`` and ``divnoising demo --quick``, timed, as every install runs them."""
    if "demo" not in divnoising("--help"):
        sys.exit("divnoising --help does not list the demo command")
    start = time.perf_counter()
    output = divnoising("demo", "--quick", "--quiet", "--out", folder / "demo")
    missing = [name for name in DEMO_OUTPUTS if not (folder / "demo" / name).is_file()]
    if missing:
        sys.exit(f"divnoising demo --quick wrote no {missing}:\n{output}")
    print(f"ok: divnoising --help; divnoising demo --quick ({time.perf_counter() - start:.0f} s)")


def check_none(folder: Path) -> None:
    """The base install: train and predict; the extras' commands name their extra."""
    for module in (*EXTRAS["bigdata"], *EXTRAS["bioimageio"]):
        if importlib.util.find_spec(module.split(".")[0]) is not None:
            sys.exit(f"{module} is installed: this is not an environment without extras")
    divnoising("--help")
    model, noisy = tiny_model(folder)
    divnoising("predict", model, noisy, "--out", folder / "out", "--samples", 2, "--quiet")
    if not (folder / "out" / "noisy_mmse.tif").is_file():
        sys.exit("predict wrote no noisy_mmse.tif")
    output = divnoising(
        "predict", model, noisy, "--out", folder / "zarr", "--format", "ome-zarr",
        "--samples", 2, "--quiet", fails=True,
    )  # fmt: skip
    _expect_install_hint(output, "bigdata")
    output = divnoising(
        "export-bioimageio", model, "--out", folder / "package.zip", "--test-image", noisy,
        "--license", "MIT", "--author", "A. Person", fails=True,
    )  # fmt: skip
    _expect_install_hint(output, "bioimageio")


def check_bigdata(folder: Path) -> None:
    """Predict a small stack to OME-Zarr with the CLI and read it back with ome-zarr."""
    import numpy as np
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    model, noisy = tiny_model(folder)
    divnoising(
        "predict", model, noisy, "--out", folder / "out", "--format", "ome-zarr",
        "--samples", 2, "--quiet",
    )  # fmt: skip
    stores = sorted((folder / "out").glob("*mmse*.zarr"))
    if not stores:
        written = sorted(path.name for path in (folder / "out").iterdir())
        sys.exit(f"predict wrote no MMSE store: {written}")
    image = next(Reader(parse_url(str(stores[0])))()).data[0]
    mmse = np.asarray(image)
    if mmse.shape != (N_FRAMES, *SHAPE) or not np.isfinite(mmse).all():
        sys.exit(f"the OME-Zarr MMSE has shape {mmse.shape} or non-finite values")


def check_bioimageio(folder: Path) -> None:
    """Export a bioimage.io package with the CLI, read it back and run the Zoo's test."""
    from bioimageio.core import load_model_description, test_model

    from napari_divnoising.core.model_files.bundle import load_model

    model, noisy = tiny_model(folder)
    package = folder / "package.zip"
    divnoising(
        "export-bioimageio", model, "--out", package, "--test-image", noisy,
        "--license", "MIT", "--author", "A. Person", "--samples", 2, "--overwrite",
    )  # fmt: skip
    description = load_model_description(str(package))
    if getattr(description, "format_version", "").split(".")[:2] != ["0", "5"]:
        sys.exit(f"the package does not load as a format-0.5 model: {description!r}")
    if load_model(package).noise_model is None:
        sys.exit("napari-divnoising read the package back without its noise model")
    summary = test_model(str(package))
    if summary.status != "passed":
        sys.exit(f"bioimageio.core's test of the package failed:\n{summary.format()}")


def check_all(folder: Path) -> None:
    """Every extra: their modules are there (each one's check runs in its own environment)."""
    missing = [module for module in EXTRAS["all"] if not _installed(module)]
    if missing:
        sys.exit(f"the all extra lacks {missing}")


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def _expect_install_hint(output: str, extra: str) -> None:
    if f"napari-divnoising[{extra}]" not in output:
        sys.exit(f"the error does not say to install the {extra} extra:\n{output}")


def main(argv: list[str]) -> None:
    """Run the check of the extra named in `argv`."""
    if len(argv) != 2 or argv[0] not in EXTRAS:
        sys.exit(f"usage: check_extra.py {{{','.join(EXTRAS)}}} WORKDIR (got {argv})")
    folder = Path(argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    print("installed:", ", ".join(f"{name} {_version(name)}" for name in REPORTED))
    check_installed_from_wheel()
    check_commands(folder)
    check_plugin(expect_qt=argv[0] == "all")
    globals()[f"check_{argv[0]}"](folder)
    print(f"extra {argv[0]}: ok")


if __name__ == "__main__":
    main(sys.argv[1:])
