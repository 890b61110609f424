"""DivNoising quality per CPU second on real data: FMD Confocal_BPAE_B, views 01–10.

Trains ONE model on frame 0 of each view (a calibrated GMM noise model from the 50-frame
stacks as the decoder likelihood) within a training budget, then prints, per view and on
average, PSNR and SSIM against ``viewNN_gt.tif`` for: the noisy frame, BM3D after a
variance-stabilising transform (Poisson–Gaussian parameters fitted on the 50 frames), the
DivNoising MMSE (mean of N posterior samples) and MAP. Also prints the training
throughput and the sampling speed.

Usage (from the repository root; the data lives in ../shared/data)::

    python benchmarks/bench_fmd_quality.py --minutes 15 --seeds 3 \
        --noise-models calibrated bootstrapped --json results.json      # the headline figures
    python benchmarks/bench_fmd_quality.py --minutes 1 2 5 --json results.json   # time to quality
    python benchmarks/bench_fmd_quality.py --minutes 15 --preset reference       # the reference
    python benchmarks/bench_fmd_quality.py --minutes 3 --views 3 --no-bm3d   # quick look
    python benchmarks/bench_fmd_quality.py --steps 3500             # contention-free budget

With several budgets, seeds or noise models, every combination is trained and evaluated;
the per-view table shows the mean ± standard deviation over the seeds, and ``--json``
appends one record per trained model (read by ``plot_time_to_quality.py``). The noise model
is made once per source: ``calibrated`` from the 50-frame stacks, ``bootstrapped`` from the
noisy frames alone (what a user without calibration data does).

``--steps`` replaces the wall-clock budget by a fixed number of optimisation steps (the
cosine schedule then anneals over the steps): use it to compare settings on a busy
machine, where the wall clock measures the neighbours rather than the method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_divnoising.core.events import CollapseRestart, EpochDone, StoppedEarly
from napari_divnoising.core.model.config import (
    NetworkConfig,
    TrainingConfig,
    default_network_config,
)
from napari_divnoising.core.model.device import select_device
from napari_divnoising.core.model_files import load_noise_model
from napari_divnoising.core.model_files.bundle import load_model, save_model
from napari_divnoising.core.noise_model import fit_noise_model
from napari_divnoising.core.noise_model.calibration import calibration_pairs
from napari_divnoising.core.quality.metrics import psnr, structural_similarity
from napari_divnoising.core.training.trainer import Trainer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fmd_confocal_bpae_b"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--minutes", type=float, nargs="+", default=[15.0], help="training budget(s), wall clock"
    )
    parser.add_argument("--seeds", type=int, default=1, help="train with seeds SEED..SEED+N-1")
    parser.add_argument(
        "--noise-models",
        nargs="+",
        choices=["calibrated", "bootstrapped"],
        default=["calibrated"],
        help="where the noise model comes from",
    )
    parser.add_argument(
        "--preset", choices=["auto", "reference"], default="auto", help="training settings"
    )
    parser.add_argument("--json", type=Path, help="append one result record per model here")
    parser.add_argument(
        "--baseline-cache",
        type=Path,
        help="reuse the noisy and BM3D scores stored here (computed and stored if absent)",
    )
    parser.add_argument("--steps", type=int, default=0, help="train this many steps instead")
    parser.add_argument("--samples", type=int, default=100, help="posterior samples per view")
    parser.add_argument("--views", type=int, default=10, help="use views 1..N (≤ 10)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patch-size", type=int, help="override the budget default (64)")
    parser.add_argument("--batch-size", type=int, help="override the budget default (32)")
    parser.add_argument("--learning-rate", type=float, help="override the budget default (3e-3)")
    parser.add_argument(
        "--kl-weight", type=float, help="weight of the KL term (default 1: the evidence bound)"
    )
    parser.add_argument("--lr-schedule", choices=["auto", "plateau", "cosine"], default="auto")
    parser.add_argument("--train-fraction", type=float, default=0.85)
    parser.add_argument("--mixed-precision", choices=["auto", "bf16", "off"], default="auto")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument(
        "--n-filters", type=int, help="first-level filters (default: the trainer's choice)"
    )
    parser.add_argument("--depth", type=int, help="network levels (default: the trainer's choice)")
    parser.add_argument(
        "--z-dim", type=int, help="latent channels (default: the trainer's choice)"
    )
    parser.add_argument(
        "--res-blocks",
        type=int,
        help="gated residual blocks at the latent resolution (default: the trainer's choice)",
    )
    parser.add_argument("--no-bm3d", action="store_true", help="skip the BM3D+VST baseline")
    parser.add_argument("--no-map", action="store_true", help="skip the MAP estimate")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="also report the MMSE without test-time augmentation (the old default)",
    )
    parser.add_argument("--model", type=Path, help="evaluate this saved model (no training)")
    parser.add_argument(
        "--noise-model",
        type=Path,
        help="load the noise model from here (fit and save it there first)",
    )
    parser.add_argument("--save-model", type=Path, help="write the trained model here")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--levers", action="store_true", help="only time one training step per speed lever"
    )
    return parser.parse_args(argv)


def load_views(folder: Path, n_views: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    stacks = [tifffile.imread(folder / f"view{i:02d}_raw.tif") for i in range(1, n_views + 1)]
    truths = [tifffile.imread(folder / f"view{i:02d}_gt.tif") for i in range(1, n_views + 1)]
    return stacks, truths


def vst_params(stacks: list[np.ndarray]):
    """Poisson–Gaussian line fitted to the per-pixel mean/variance of the 50-frame stacks."""
    from napari_divnoising.core.noise_model.poisson_gaussian import PoissonGaussianParams

    frames = np.stack(stacks).astype(np.float64)
    mean, var = frames.mean(axis=1).ravel(), frames.var(axis=1, ddof=1).ravel()
    edges = np.quantile(mean, np.linspace(0.0, 0.99, 41))
    index = np.digitize(mean, edges[1:-1])
    bins = [(mean[index == b].mean(), var[index == b].mean()) for b in np.unique(index)]
    x, y = np.array(bins).T
    gain, intercept = np.polyfit(x, y, 1)
    return PoissonGaussianParams(gain=float(gain), intercept=float(intercept))


def calibrated_noise_model(stacks: list[np.ndarray], path: Path | None):
    if path is not None and path.is_file():
        print(f"noise model: loaded from {path}")
        return load_noise_model(path)
    start = time.perf_counter()
    pairs = calibration_pairs(stacks)
    noise_model = fit_noise_model(pairs.signal, pairs.observation)
    print(f"noise model: calibrated GMM in {time.perf_counter() - start:.0f} s", flush=True)
    if path is not None:
        noise_model.save(path)
    return noise_model


def network_config(args, config: TrainingConfig) -> NetworkConfig | None:
    """The trainer's default architecture with the filters, depth and latent asked for."""
    chosen = {
        key: value
        for key, value in (
            ("n_filters", args.n_filters),
            ("depth", args.depth),
            ("z_dim", args.z_dim),
            ("res_blocks", args.res_blocks),
        )
        if value is not None
    }
    if not chosen:
        return None
    return NetworkConfig(**(default_network_config(config).model_dump() | chosen))


def train_model(args, noisy: np.ndarray, noise_model, *, minutes: float, seed: int):
    overrides = {
        key: value
        for key, value in (
            ("patch_size", args.patch_size),
            ("batch_size", args.batch_size),
            ("learning_rate", args.learning_rate),
            ("kl_weight", args.kl_weight),
        )
        if value is not None
    }
    budget = {"time_budget_minutes": minutes}
    if args.steps:  # a step budget: 10-step epochs, cosine over max_epochs · 10 steps
        budget = {"steps_per_epoch": 10, "max_epochs": max(1, args.steps // 10)}
        overrides = {"patch_size": 64, "batch_size": 64, "learning_rate": 3e-3} | overrides
    config = TrainingConfig(
        seed=seed,
        preset=args.preset,
        lr_schedule=args.lr_schedule if not args.steps or args.lr_schedule != "auto" else "cosine",
        train_fraction=args.train_fraction,
        mixed_precision=args.mixed_precision,
        channels_last=not args.no_channels_last,
        early_stopping_patience=10**6,
        **({} if args.steps else {"max_epochs": 10**6}),
        **budget,
        **overrides,
    )
    trainer = Trainer(
        noisy,
        noise_model=noise_model,
        config=config,
        network_config=network_config(args, config),
        device="cpu",
    )
    for event in trainer.run():
        every_25th = isinstance(event.payload, EpochDone) and event.payload.epoch % 25 == 0
        if every_25th or isinstance(event.payload, (CollapseRestart, StoppedEarly)):
            print(f"  {event.message}", flush=True)
    model = trainer.best_model()
    rate = trainer.n_steps * config.batch_size / max(trainer.train_seconds, 1e-9)
    print(
        f"trained {trainer.n_steps} steps of {config.batch_size}×{config.patch_size}² in "
        f"{trainer.train_seconds:.0f} s: {rate:.1f} training patches/s "
        f"({rate * config.patch_size**2 / 1e6:.2f} Mpixel/s), {trainer.device_choice.description},"
        f" mixed precision {model.provenance['mixed_precision']},"
        f" {model.network_config.n_filters} filters, z_dim {model.network_config.z_dim},"
        f" {model.network_config.res_blocks} residual blocks",
        flush=True,
    )
    return model


def time_levers(noisy: np.ndarray, noise_model, repeats: int = 5) -> None:
    """Median seconds of one real training step (ELBO, backward, Adam) per setting."""
    print("training step time per lever (reference network, same data and noise model):")
    settings = [
        ("fp32, 32×128²", 128, 32, "off", False),
        ("channels-last, 32×128²", 128, 32, "off", True),
        ("bf16, 32×128²", 128, 32, "bf16", False),
        ("bf16 + channels-last, 32×128²", 128, 32, "bf16", True),
        ("bf16 + channels-last, 64×64²", 64, 64, "bf16", True),
        ("fp32, 64×64²", 64, 64, "off", False),
        ("channels-last, 64×64²", 64, 64, "off", True),
    ]
    from napari_divnoising.core.model.device import bf16_is_fast

    native_bf16 = bf16_is_fast(torch.device("cpu"))
    for name, patch, batch, precision, channels_last in settings:
        if precision == "bf16" and not native_bf16:
            # Emulated bfloat16 is 5-20× slower: minutes per row, and never chosen by "auto".
            print(f"  {name:32s} skipped: bfloat16 is not native on this CPU")
            continue
        config = TrainingConfig(
            patch_size=patch,
            batch_size=batch,
            mixed_precision=precision,
            channels_last=channels_last,
            steps_per_epoch=repeats + 2,
            max_epochs=1,
            seed=0,
        )
        trainer = Trainer(noisy, noise_model=noise_model, config=config, device="cpu")
        times, last = [], time.perf_counter()
        for event in trainer.run():
            if event.loss is not None:  # one optimisation step
                now = time.perf_counter()
                times.append(now - last)
                last = now
        step = float(np.median(times[2:]))  # the first steps build the kernels
        print(
            f"  {name:32s} {step:6.3f} s/step  {batch / step:7.1f} patches/s  "
            f"{batch * patch**2 / step / 1e6:5.2f} Mpixel/s",
            flush=True,
        )


def scores(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    return psnr(prediction, truth), structural_similarity(prediction, truth).mean


def make_noise_model_from(source: str, stacks, noisy: np.ndarray, args):
    """The calibrated GMM (50-frame stacks) or the bootstrapped one (noisy frames only)."""
    if source == "calibrated":
        return calibrated_noise_model(stacks, args.noise_model)
    from napari_divnoising.core.noise_model.recipe import make_noise_model

    start = time.perf_counter()
    noise_model = make_noise_model(list(noisy), source="bootstrap").noise_model
    print(f"noise model: bootstrapped GMM in {time.perf_counter() - start:.0f} s", flush=True)
    return noise_model


def baselines(args, stacks, noisy, truths) -> dict:
    """PSNR/SSIM of the noisy frames and of BM3D after a VST (50-frame parameters)."""
    cache = args.baseline_cache
    if cache is not None and cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("views") == args.views and ("bm3d+vst" in cached or args.no_bm3d):
            print(f"baselines: loaded from {cache}")
            return {key: value for key, value in cached.items() if key != "views"}
    columns = compute_baselines(args, stacks, noisy, truths)
    if cache is not None:
        stored = {"views": args.views, **columns}
        temporary = cache.with_name(cache.name + ".partial")
        temporary.write_text(json.dumps(stored))
        temporary.replace(cache)
    return columns


def compute_baselines(args, stacks, noisy, truths) -> dict:
    columns = {
        "noisy": [
            scores(image.astype(np.float32), t) for image, t in zip(noisy, truths, strict=True)
        ]
    }
    if not args.no_bm3d:
        from napari_divnoising.core.noise_model.bootstrap import bootstrap_signal

        params = vst_params(stacks)
        start = time.perf_counter()
        columns["bm3d+vst"] = [
            scores(bootstrap_signal(image, params=params), t)
            for image, t in zip(noisy, truths, strict=True)
        ]
        seconds = time.perf_counter() - start
        columns["bm3d_seconds"] = seconds
        print(f"BM3D + VST: {seconds / len(noisy):.1f} s per view (two passes)", flush=True)
    return columns


def evaluate(args, model, noisy, truths) -> dict[str, list[tuple[float, float]]]:
    """PSNR/SSIM of the MMSE, the detail-restored MMSE (and MAP, MMSE without TTA) per view.

    The MMSE is the product's default: the samples spread over the 8 rotations/flips.
    """
    from napari_divnoising.core.prediction.sampling import sample_posterior

    columns: dict[str, list[tuple[float, float]]] = {
        "mmse": [],
        "restored": [],
        "map": [],
        "mmse, no tta": [],
    }
    start = time.perf_counter()
    for image, truth in zip(noisy, truths, strict=True):
        prediction = sample_posterior(
            image, model, n_samples=args.samples, map_estimate=not args.no_map, uncertainty=False
        )
        columns["mmse"].append(scores(prediction.mmse, truth))
        columns["restored"].append(scores(prediction.restored, truth))
        if not args.no_map:
            columns["map"].append(scores(prediction.map, truth))
        if args.plain:
            plain = sample_posterior(
                image, model, n_samples=args.samples, tta=False, uncertainty=False
            )
            columns["mmse, no tta"].append(scores(plain.mmse, truth))
    seconds = (time.perf_counter() - start) / len(noisy)
    side = noisy.shape[-1]
    print(f"sampling: {seconds:.1f} s per {side}×{side} view ({args.samples} samples)", flush=True)
    return {name: values for name, values in columns.items() if values}


def print_table(title: str, base: dict, runs: list[dict]) -> None:
    """Per-view PSNR/SSIM: baselines, and mean ± std over the seeds of every estimate."""
    print(f"\n{title}")
    base = dict(scored(base))
    estimates = list(runs[0]) if runs else []
    names = list(base) + estimates
    print("view  " + "".join(f"{name:>22s}" for name in names))
    psnrs = {name: np.array([[v[0] for v in run[name]] for run in runs]) for name in estimates}
    for index in range(len(base["noisy"])):
        cells = "".join(f"{v[index][0]:14.2f} /{v[index][1]:.3f}  " for v in base.values())
        for name in estimates:
            values = psnrs[name][:, index]
            cells += f"{values.mean():14.2f} ±{values.std():5.2f}"
        print(f"{index + 1:4d}  {cells}")
    means = "".join(
        f"{np.mean([x[0] for x in v]):14.2f} /{np.mean([x[1] for x in v]):.3f}  "
        for v in base.values()
    )
    for name in estimates:
        per_seed = psnrs[name].mean(axis=1)
        means += f"{per_seed.mean():14.2f} ±{per_seed.std():5.2f}"
    print(f"mean  {means}")
    if len(runs) > 1:
        print(f"(± is the standard deviation over {len(runs)} seeds; mean row: of the seed means)")


def scored(columns: dict):
    """The (name, per-view scores) items of a columns dict (not its timings)."""
    return [(name, values) for name, values in columns.items() if isinstance(values, list)]


def mean_psnrs(columns: dict) -> dict[str, float]:
    """``{"<name>_psnr": mean PSNR over the views}`` for every scored column."""
    return {
        f"{name}_psnr": float(np.mean([score[0] for score in values]))
        for name, values in scored(columns)
    }


def record(args, source, minutes, seed, model, base, run) -> dict:
    provenance = model.provenance
    return {
        "noise_model": source,
        "preset": args.preset,
        "minutes": None if args.steps else minutes,
        "steps_budget": args.steps or None,
        "seed": seed,
        "n_steps": provenance.get("n_steps"),
        "training_seconds": provenance.get("training_seconds"),
        "n_filters": model.network_config.n_filters,
        "depth": model.network_config.depth,
        "z_dim": model.network_config.z_dim,
        "res_blocks": model.network_config.res_blocks,
        "kl_weight": model.training_config.kl_weight,
        "samples": args.samples,
        "views": args.views,
        "cpu": select_device("cpu").description,
        "threads": args.threads,
        **{
            f"{name}_psnr": float(np.mean([v[0] for v in values])) for name, values in scored(base)
        },
        **{f"{name}_psnr": float(np.mean([v[0] for v in values])) for name, values in scored(run)},
        **{key: value for key, value in base.items() if key.endswith("_seconds")},
        "per_view": {name: [v[0] for v in values] for name, values in scored(run)},
    }


def append_json(path: Path, entry: dict) -> None:
    entries = json.loads(path.read_text()) if path.is_file() else []
    entries.append(entry)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(entries, indent=1))
    temporary.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"data folder {args.data} not found", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    print(select_device("cpu").description, flush=True)
    stacks, truths = load_views(args.data, args.views)
    noisy = np.stack([s[0] for s in stacks])
    if args.model is not None:
        base = baselines(args, stacks, noisy, truths)
        print_table(
            f"model {args.model}", base, [evaluate(args, load_model(args.model), noisy, truths)]
        )
        return 0
    if args.levers:
        time_levers(noisy, calibrated_noise_model(stacks, args.noise_model))
        return 0
    base = baselines(args, stacks, noisy, truths)
    seeds = range(args.seed, args.seed + args.seeds)
    for source in args.noise_models:
        noise_model = make_noise_model_from(source, stacks, noisy, args)
        for minutes in args.minutes:
            runs = []
            for seed in seeds:
                print(f"\n== {source} noise model, {minutes:g} min, seed {seed}", flush=True)
                model = train_model(args, noisy, noise_model, minutes=minutes, seed=seed)
                if args.save_model is not None:
                    save_model(model, args.save_model)
                runs.append(evaluate(args, model, noisy, truths))
                if args.json is not None:
                    append_json(
                        args.json, record(args, source, minutes, seed, model, base, runs[-1])
                    )
            budget = f"{args.steps} steps" if args.steps else f"{minutes:g} min"
            print_table(
                f"PSNR (dB) / SSIM, views 01–{args.views:02d}: {source} noise model, {budget}, "
                f"preset {args.preset}, {len(runs)} seed(s)",
                base,
                runs,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
