"""Where a training step's time goes, op by op: ``torch.profiler`` on the real training loop.

Builds the product's default training (the time-budget settings: batch 64 of 64² patches,
one level of 16 filters) on FMD Confocal_BPAE_B frames with a calibrated GMM noise model,
runs a few warm-up steps, then profiles real steps of the loop (patch sampling, forward,
ELBO with the GMM likelihood, backward, Adam) and prints:

- the share of the step taken by each part, the likelihood measured by swapping it for a
  Gaussian of the same σ in the same process (the step is otherwise identical);
- the top operators by self CPU time (forward and backward), from the profiler.

Usage (from the repository root; the data lives in ../shared/data)::

    python benchmarks/bench_training_profile.py
    python benchmarks/bench_training_profile.py --steps 20 --threads 2 --top 20
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from napari_divnoising.core.model.config import TrainingConfig, default_network_config
from napari_divnoising.core.model.likelihood import GaussianLikelihood
from napari_divnoising.core.noise_model import fit_noise_model
from napari_divnoising.core.noise_model.calibration import calibration_pairs
from napari_divnoising.core.training.state import TrainingState

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fmd_confocal_bpae_b"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="profiled steps")
    parser.add_argument("--warmup", type=int, default=4, help="steps before timing")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=15, help="operators listed")
    parser.add_argument("--views", type=int, default=3, help="FMD views to train on")
    parser.add_argument(
        "--z-dim", type=int, default=None, help="latent channels (default: the trainer's choice)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="patches per step (default: the budget's)"
    )
    parser.add_argument(
        "--res-blocks",
        type=int,
        default=None,
        help="gated residual blocks (default: the budget's)",
    )
    return parser.parse_args(argv)


def cpu_name() -> str:
    """The processor's model name, for the table's header."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def training_state(
    views: int,
    z_dim: int | None = None,
    batch_size: int | None = None,
    res_blocks: int | None = None,
) -> TrainingState:
    """The default budgeted training on FMD frame 0 of `views` views, calibrated GMM.

    `z_dim`, `res_blocks` and `batch_size` replace only the latent size and the residual
    blocks of the default network and the batch size (to profile another setting).
    """
    stacks = [tifffile.imread(DATA / f"view{v:02d}_raw.tif") for v in range(1, views + 1)]
    pairs = calibration_pairs(stacks)
    noise_model = fit_noise_model(pairs.signal, pairs.observation, n_iterations=300)
    images = [stack[0] for stack in stacks]
    batch = {} if batch_size is None else {"batch_size": batch_size}
    config = TrainingConfig(time_budget_minutes=15, seed=0, **batch)
    network = default_network_config(config)
    if z_dim is not None:
        network = network.model_copy(update={"z_dim": z_dim})
    if res_blocks is not None:
        network = network.model_copy(update={"res_blocks": res_blocks})
    return TrainingState(
        images, noise_model=noise_model, config=config, network_config=network, device="cpu"
    )


def seconds_per_step(state: TrainingState, steps: int, warmup: int) -> float:
    """Mean wall-clock seconds of one real training step."""
    loop = state._start_loop()
    for _ in range(warmup):
        state._step(loop.run, loop.sampler, loop.generator, 1e-3)
    start = time.perf_counter()
    for _ in range(steps):
        state._step(loop.run, loop.sampler, loop.generator, 1e-3)
    return (time.perf_counter() - start) / steps


def profile_table(state: TrainingState, steps: int, warmup: int, top: int) -> str:
    """The profiler's table of the top operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    loop = state._start_loop()
    for _ in range(warmup):
        state._step(loop.run, loop.sampler, loop.generator, 1e-3)
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            state._step(loop.run, loop.sampler, loop.generator, 1e-3)
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    state = training_state(args.views, args.z_dim, args.batch_size, args.res_blocks)
    cfg, net = state.config, state.network_config
    print(
        f"CPU: {cpu_name()} ({args.threads} threads), torch {torch.__version__}, "
        f"bf16 autocast: {state.use_bf16}, channels-last: {cfg.channels_last}"
    )
    print(
        f"step: batch {cfg.batch_size} × {cfg.patch_size}², depth {net.depth}, "
        f"{net.n_filters} filters, z_dim {net.z_dim}"
    )
    gmm = seconds_per_step(state, args.steps, args.warmup)
    gmm_likelihood = state.likelihood
    sigma = float(np.sqrt(np.mean(gmm_likelihood.variance(np.array([state.data.data_mean])))))
    state.likelihood = GaussianLikelihood(sigma)
    gaussian = seconds_per_step(state, args.steps, args.warmup)
    state.likelihood = gmm_likelihood
    sampler = state._start_loop().sampler
    start = time.perf_counter()
    for _ in range(args.steps):
        sampler.sample(cfg.batch_size)
    sampling = (time.perf_counter() - start) / args.steps
    print("\npart of a step                          ms   share")
    print(f"whole step, GMM likelihood        {1e3 * gmm:8.1f}  100.0%")
    print(
        f"  GMM likelihood (fwd + bwd)      {1e3 * (gmm - gaussian):8.1f}  "
        f"{100 * (gmm - gaussian) / gmm:5.1f}%"
    )
    print(f"  patch sampling + augmentation   {1e3 * sampling:8.1f}  {100 * sampling / gmm:5.1f}%")
    print(
        f"  network, KL, Adam (the rest)    {1e3 * (gaussian - sampling):8.1f}  "
        f"{100 * (gaussian - sampling) / gmm:5.1f}%"
    )
    print(
        f"patches/s: {cfg.batch_size / gmm:.1f}  ({len(state.data.split.train)} training planes)"
    )
    print(f"\ntop {args.top} operators by self CPU time, {args.steps} steps:")
    print(profile_table(state, args.steps, args.warmup, args.top))


if __name__ == "__main__":
    main()
