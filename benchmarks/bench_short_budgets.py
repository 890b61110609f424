"""The quality floor of short trainings, on an idle and on a loaded machine.

Trains on the built-in sample data (a calibrated GMM from its calibration frames) with
short time budgets, once with the machine to itself and once while a competing CPU-bound
process runs on every core beside it (a busy Python loop each), and prints the PSNR
of the noisy frame, the MMSE and the detail-restored MMSE against the ground truth, with
the steps that the budget bought. A budget of a minute or more must never give back an
image worse than the noisy input.

Usage (from the repository root)::

    python benchmarks/bench_short_budgets.py                 # 1 and 2 minutes, idle and loaded
    python benchmarks/bench_short_budgets.py --minutes 1 --loads loaded
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

import numpy as np
import torch

from napari_divnoising.core.model.config import TrainingConfig
from napari_divnoising.core.noise_model.recipe import make_noise_model
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.quality.metrics import psnr
from napari_divnoising.core.sample_data import make_sample_data
from napari_divnoising.core.training.trainer import Trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument(
        "--loads", nargs="+", choices=["idle", "loaded"], default=["idle", "loaded"]
    )
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", choices=["auto", "reference"], default="auto")
    return parser.parse_args(argv)


def compete(seconds: float) -> None:
    """Keep one core busy for `seconds` (one competing CPU-bound process)."""
    end = time.time() + seconds
    while time.time() < end:
        pass


def train_and_score(data, noise_model, minutes: float, args) -> dict[str, float]:
    config = TrainingConfig(seed=args.seed, time_budget_minutes=minutes, preset=args.preset)
    trainer = Trainer(data.noisy, noise_model=noise_model, config=config, device="cpu")
    for event in trainer.run():
        if event.message and "time budget" in event.message:
            print(f"  {event.message}", flush=True)
    model = trainer.best_model()
    prediction = sample_posterior(data.noisy[0], model, n_samples=args.samples, uncertainty=False)
    return {
        "steps": trainer.n_steps,
        "noisy": psnr(data.noisy[0].astype(np.float32), data.clean),
        "mmse": psnr(prediction.mmse, data.clean),
        "restored": psnr(prediction.restored, data.clean),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(2)
    data = make_sample_data(seed=args.seed)
    noise_model = make_noise_model(data.calibration).noise_model
    rows = []
    for load in args.loads:
        for minutes in args.minutes:
            competitors = []
            if load == "loaded":
                # One busy process per core, as two other users' jobs on a 2-core machine.
                context = multiprocessing.get_context("spawn")
                competitors = [
                    context.Process(target=compete, args=(60 * minutes + 120,))
                    for _ in range(os.cpu_count() or 2)
                ]
                for competitor in competitors:
                    competitor.start()
            try:
                print(f"{minutes:g} min, {load} machine", flush=True)
                rows.append((minutes, load, train_and_score(data, noise_model, minutes, args)))
            finally:
                for competitor in competitors:
                    competitor.terminate()
                    competitor.join()
    print(f"\nsample data ({data.noisy.shape[1]}×{data.noisy.shape[2]}), {os.cpu_count()} cores")
    print("budget  machine  steps   noisy    MMSE  restored   (PSNR, dB)")
    for minutes, load, row in rows:
        print(
            f"{minutes:5g} m  {load:7s}  {row['steps']:5d}  {row['noisy']:6.2f}  "
            f"{row['mmse']:6.2f}  {row['restored']:8.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
