"""``divnoising demo``: the whole path on the built-in sample data, with results printed."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._progress import CommandError, drive, user_errors

MARKER = ".divnoising-demo"


def add_to(subparsers: argparse._SubParsersAction) -> None:
    """Register the command."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole path on built-in sample data and print the results",
        description=(
            "Make realistic sample data (a fluorescence-like image seen by a Poisson–Gaussian "
            "camera, plus calibration frames), fit a noise model from the calibration frames "
            "and one by bootstrapping, train DivNoising, sample MMSE, MAP and uncertainty, "
            "score everything against the ground truth and write it all to one folder."
        ),
    )
    parser.add_argument("--out", type=Path, default=Path("divnoising-demo"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--iterations",
        type=int,
        default=2000,
        help="noise-model fitting iterations (default: 2000)",
    )
    parser.add_argument(
        "--minutes", type=float, default=3.0, help="training time budget (default: 3 minutes)"
    )
    parser.add_argument(
        "--samples", type=int, default=100, help="posterior samples (default: 100)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and settings: checks the path in seconds"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def prepare_folder(folder: Path) -> None:
    """Create the demo folder; refuse a non-empty folder the demo did not make."""
    if folder.exists() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise CommandError(
            f"{folder} exists and holds files the demo did not write; choose another --out"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(
        "made by `divnoising demo`; its files may be replaced by the next run\n"
    )


def run(arguments: argparse.Namespace) -> None:
    """Run the demo."""
    from ..core.sample_data import make_sample_data

    folder = arguments.out
    prepare_folder(folder)
    if arguments.quick:
        arguments.iterations = min(arguments.iterations, 100)
        arguments.samples = min(arguments.samples, 8)
    with user_errors():
        data = make_sample_data(
            seed=arguments.seed, shape=(64, 64) if arguments.quick else (256, 256)
        )
        save_sample_data(data, folder)
        calibrated = fit_calibrated_model(data, folder, arguments)
        bootstrapped, pseudo_ground_truth = fit_bootstrapped_model(data, folder, arguments)
        print_noise_model_table(data, {"calibrated": calibrated, "bootstrapped": bootstrapped})
        model = train_model(data, calibrated, folder, arguments)
        prediction = predict(data, model, folder, arguments)
        print_quality_table(
            data,
            {
                "noisy frame": data.noisy[0],
                "BM3D + VST (bootstrap)": pseudo_ground_truth[0],
                f"DivNoising MMSE ({arguments.samples} samples)": prediction.mmse,
                "DivNoising MMSE, detail restored": prediction.restored,
                "DivNoising MAP": prediction.map,
            },
        )
        print_coverage(data, prediction, model)
    print(f"\nall outputs are in {folder.resolve()}")


def save_sample_data(data, folder: Path) -> None:
    """Write the sample images the demo works on."""
    from ..core.io import write_tiff

    write_tiff(folder / "noisy.tif", data.noisy)
    write_tiff(folder / "calibration.tif", data.calibration)
    write_tiff(folder / "ground_truth.tif", data.clean.astype(np.float32))
    print(
        f"sample data: {data.noisy.shape[0]} noisy frames of "
        f"{data.noisy.shape[1]}×{data.noisy.shape[2]} pixels, "
        f"{data.calibration.shape[0]} calibration frames ({data.noisy.dtype})"
    )


def fit_calibrated_model(data, folder: Path, arguments: argparse.Namespace):
    """Fit a GMM noise model from the calibration frames and save it."""
    from ..core.noise_model.recipe import iter_make_noise_model

    print("\n1. noise model from calibration frames (signal = mean of the frames)")
    job = iter_make_noise_model(data.calibration, settings=noise_model_settings(arguments))
    model = drive(job, quiet=arguments.quiet).noise_model
    model.save(folder / "noise_model_calibrated.npz")
    return model


def fit_bootstrapped_model(data, folder: Path, arguments: argparse.Namespace):
    """Bootstrap a pseudo ground truth from the noisy frames, fit a GMM to it and save both."""
    from ..core.io import write_tiff
    from ..core.noise_model.recipe import iter_make_noise_model

    print(
        "\n2. noise model bootstrapped from the noisy frames "
        "(BM3D after a variance-stabilising transform)"
    )
    job = iter_make_noise_model(
        data.noisy, source="bootstrap", settings=noise_model_settings(arguments)
    )
    result = drive(job, quiet=arguments.quiet)
    (pseudo_ground_truth,) = result.pseudo_ground_truth
    write_tiff(folder / "bootstrap_pseudo_ground_truth.tif", pseudo_ground_truth)
    result.noise_model.save(folder / "noise_model_bootstrapped.npz")
    return result.noise_model, pseudo_ground_truth


def noise_model_settings(arguments: argparse.Namespace):
    """Return the demo's noise-model settings: the defaults, with its seed and iterations."""
    from ..core.noise_model.settings import NoiseModelSettings

    return NoiseModelSettings(n_iterations=arguments.iterations, seed=arguments.seed)


def print_noise_model_table(data, models: dict) -> None:
    """Print each model's variance beside the camera's true variance at a few signal levels."""
    low, high = np.percentile(data.clean, (5, 95))
    signal = np.linspace(low, high, 6)
    print("\nnoise variance vs signal (camera = the true Poisson–Gaussian variance)")
    header = f"{'signal':>10} {'camera':>10}" + "".join(f" {name:>13}" for name in models)
    print(header)
    truth = data.camera.variance(signal)
    variances = {name: model.variance(signal) for name, model in models.items()}
    for index, level in enumerate(signal):
        row = f"{level:10.1f} {truth[index]:10.1f}"
        for name in models:
            value = variances[name][index]
            row += f" {value:8.1f} ({(value / truth[index] - 1):+4.0%})"
        print(row)


def train_model(data, noise_model, folder: Path, arguments: argparse.Namespace):
    """Train DivNoising on the noisy frames with the calibrated noise model; save it."""
    from ..core.model.config import TrainingConfig
    from ..core.model_files.bundle import save_model
    from ..core.training.history import training_warning
    from ..core.training.trainer import Trainer
    from ._train import train_with_report

    budget = (
        "quick: 2 epochs of 3 steps" if arguments.quick else f"{arguments.minutes:g} min budget"
    )
    print(f"\n3. training DivNoising on the noisy frames ({budget})")
    if arguments.quick:
        config = TrainingConfig(
            seed=arguments.seed, max_epochs=2, steps_per_epoch=3, patch_size=32, batch_size=4
        )
    else:
        config = TrainingConfig(seed=arguments.seed, time_budget_minutes=arguments.minutes)
    trainer = Trainer(data.noisy, noise_model=noise_model, config=config, device=arguments.device)
    model = train_with_report(trainer, quiet=arguments.quiet)
    save_model(model, folder / "model.divnoising")
    warning = training_warning(model.history)
    if warning is not None:
        print(f"warning: {warning}")
    return model


def predict(data, model, folder: Path, arguments: argparse.Namespace):
    """Sample the posterior of the first noisy frame; save MMSE, MAP, uncertainty, samples."""
    from ..core.io import write_tiff
    from ..core.prediction.config import SamplingConfig
    from ..core.prediction.recipe import iter_predict

    print(f"\n4. sampling {arguments.samples} denoised images of the first frame")
    settings = SamplingConfig(
        n_samples=arguments.samples,
        keep_samples=min(10, arguments.samples),
        map_estimate=True,
        uncertainty=True,
        seed=arguments.seed,
    )
    prediction = drive(
        iter_predict(data.noisy[0], model, settings, device=arguments.device),
        quiet=arguments.quiet,
    )
    for name in ("mmse", "restored", "map", "uncertainty", "samples"):
        write_tiff(folder / f"noisy_{name}.tif", getattr(prediction, name).astype(np.float32))
    return prediction


def print_coverage(data, prediction, model) -> None:
    """Print how often the clean image lies in the MMSE's calibrated intervals."""
    from ..core.quality.recipe import quality_control
    from ._evaluate import format_coverage

    calibration = model.uncertainty_calibration
    made = "uncertainty not calibrated" if calibration is None else calibration.describe()
    print(f"\n6. {made}")
    result = quality_control(prediction.mmse, data.clean, uncertainty=prediction.uncertainty)
    print(format_coverage(result.coverage).replace("ground truth", "clean image"))


def print_quality_table(data, images: dict[str, np.ndarray]) -> None:
    """Print PSNR, SSIM and NRMSE of each image against the clean ground truth."""
    from ..core.quality.recipe import quality_control
    from ._evaluate import format_scores

    print("\n5. quality against the ground truth")
    truth = data.clean
    scores = {name: quality_control(image, truth).prediction for name, image in images.items()}
    print(format_scores(scores))
