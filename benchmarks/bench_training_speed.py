"""How close DivNoising training gets to what this CPU can compute, and what compiling buys.

Prints, for each network (levels, filters, latent channels) and precision: the
floating-point operations of one training patch (forward and backward, counted by
``torch.utils.flop_counter``), the measured training throughput (patches/s of real steps:
ELBO with a GMM likelihood, backward, Adam) and the GFLOP/s that makes, against the
machine's own ceiling measured in the same process at the same precision (a large matrix
product, and a 3×3 convolution of the network's typical size; bf16 under autocast, as
training runs where the CPU has native bf16). With ``--compile`` it also times
``torch.compile`` (compile seconds, and steps/s after it).

Usage (from the repository root)::

    python benchmarks/bench_training_speed.py
    python benchmarks/bench_training_speed.py --filters 8 16 32 --compile
    python benchmarks/bench_training_speed.py --depths 1 --filters 16 --z-dims 16 64 \\
        --precisions fp32 bf16
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import torch

from napari_divnoising.core.model.network import build_network
from napari_divnoising.core.noise_model.gmm import GaussianMixtureNoiseModel
from napari_divnoising.core.training.losses import elbo_terms


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--filters", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--z-dims", type=int, nargs="+", default=[None], help="latent channels")
    parser.add_argument(
        "--precisions", nargs="+", choices=["fp32", "bf16"], default=["fp32"], help="autocast"
    )
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    return parser.parse_args(argv)


def best_seconds(work, repeats: int) -> float:
    """Median wall time of `work()` after two warm-up calls."""
    for _ in range(2):
        work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def cpu_name() -> str:
    """The processor's model name (``platform.processor()`` is empty on Linux)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def autocast(precision: str):
    """The context a training step runs in at `precision`."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


def ceilings(precision: str) -> dict[str, float]:
    """GFLOP/s of a 2048² matrix product and of a 64→64 channel 3×3 convolution."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    x = torch.randn(16, 64, 64, 64).contiguous(memory_format=torch.channels_last)
    conv = conv.to(memory_format=torch.channels_last)
    flops = 2 * 16 * 64 * 64 * 64 * 64 * 9
    with torch.inference_mode(), autocast(precision):
        matmul = 2 * 2048**3 / best_seconds(lambda: a @ b, 5) / 1e9
        convolution = flops / best_seconds(lambda: conv(x), 5) / 1e9
    return {"matmul": matmul, "conv3x3": convolution}


def noise_model() -> GaussianMixtureNoiseModel:
    """A 3-Gaussian GMM of the reference's shape (its cost per pixel is what matters here)."""
    return GaussianMixtureNoiseModel(
        np.zeros((9, 2)), min_signal=0.0, max_signal=255.0, min_sigma=4.0
    )


def training_step(network, likelihood, optimizer, batch: torch.Tensor, precision: str = "fp32"):
    def step() -> None:
        with autocast(precision):
            reconstruction, mu, logvar = network(batch)
        terms = elbo_terms(
            batch * 40 + 60,
            reconstruction,
            mu,
            logvar,
            likelihood=likelihood,
            data_mean=60.0,
            data_std=40.0,
        )
        optimizer.zero_grad(set_to_none=True)
        terms.loss().backward()
        optimizer.step()

    return step


def flops_per_patch(network, likelihood, batch: torch.Tensor) -> float:
    """Floating-point operations of one training step, per patch (any precision)."""
    from torch.utils.flop_counter import FlopCounterMode

    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    counter = FlopCounterMode(display=False)
    with counter:
        training_step(network, likelihood, optimizer, batch)()
    return counter.get_total_flops() / len(batch)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}")
    ceiling = {precision: ceilings(precision) for precision in args.precisions}
    for precision, value in ceiling.items():
        print(
            f"{precision} ceiling: matmul {value['matmul']:.0f} GFLOP/s, "
            f"3×3 conv (64→64, channels-last) {value['conv3x3']:.0f} GFLOP/s"
        )
    likelihood = noise_model()
    size, n = args.patch_size, args.batch_size
    batch = torch.randn(n, 1, size, size).contiguous(memory_format=torch.channels_last)
    print(f"\ntraining steps of {n} patches of {size}² (channels-last)")
    print(
        "precision  depth  filters  z_dim  MFLOP/patch  patches/s  GFLOP/s  "
        "% of conv ceiling  compile s  compiled/s"
    )
    settings = [
        (precision, depth, filters, z_dim)
        for precision in args.precisions
        for depth in args.depths
        for filters in args.filters
        for z_dim in args.z_dims
    ]
    for precision, depth, filters, z_dim in settings:
        shape = {"depth": depth, "n_filters": filters} | ({"z_dim": z_dim} if z_dim else {})
        network = build_network(seed=0, **shape).to(memory_format=torch.channels_last)
        flops = flops_per_patch(network, likelihood, batch)
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
        step = training_step(network, likelihood, optimizer, batch, precision)
        rate = n / best_seconds(step, args.steps)
        achieved = rate * flops / 1e9
        compiled = ""
        if args.compile:
            compiled_network = torch.compile(network)
            optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
            step = training_step(compiled_network, likelihood, optimizer, batch, precision)
            start = time.perf_counter()
            step()
            compile_s = time.perf_counter() - start
            compiled = f"{compile_s:9.0f}  {n / best_seconds(step, args.steps):10.1f}"
        print(
            f"{precision:>9s}  {depth:5d}  {filters:7d}  {network.z_dim:5d}  {flops / 1e6:11.0f}  "
            f"{rate:9.1f}  {achieved:7.1f}  "
            f"{100 * achieved / ceiling[precision]['conv3x3']:17.0f}  {compiled}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
