"""Memory and throughput of stacks predicted plane by plane into OME-Zarr.

Prints two tables:

- peak memory (resident set size summed over every process of the run, sampled every
  50 ms) of ``divnoising predict --format ome-zarr`` on stacks of 50, 200 and 800 planes
  of 512², in this process's child, to show that it does not grow with the stack;
- planes per second in one process and on ``--scheduler local`` with 1 and 2 workers, in
  steady state (from the first finished plane to the last, so a cluster's start-up is
  left out; it is printed apart).

The network is the default one a user trains (one level, 16 filters; untrained weights:
speed and memory do not depend on training). The stacks are uint16 zarr arrays, one chunk
per plane, written once into ``--work`` and reused.

Usage::

    python benchmarks/bench_big_stacks.py [--planes 50 200 800] [--samples 2]
        [--scaling-planes 100] [--workers 1 2] [--work /tmp/divnoising-bench] [--direct]

``--direct`` predicts with the direct network (its default size, untrained) instead of
sampling.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import torch
import zarr

from napari_divnoising.core.model.config import (
    DirectConfig,
    TrainingConfig,
    default_network_config,
)
from napari_divnoising.core.model.direct import build_direct_network
from napari_divnoising.core.model.network import DivNoisingVAE
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.model_files.bundle import save_model

SIDE = 512


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--samples", type=int, default=2, help="posterior samples per plane")
    parser.add_argument("--scaling-planes", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", type=Path, default=Path("/tmp/divnoising-bench-stacks"))
    parser.add_argument(
        "--direct", action="store_true", help="the direct network's MMSE instead of sampling"
    )
    return parser.parse_args(argv)


def default_model(*, direct: bool = False) -> TrainedModel:
    training = TrainingConfig()
    config = default_network_config(training)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        network = DivNoisingVAE(**config.network_kwargs()).eval()
    direct_config = DirectConfig() if direct else None
    direct_network = (
        build_direct_network(seed=0, depth=direct_config.depth, n_filters=direct_config.n_filters)
        if direct
        else None
    )
    return TrainedModel(
        direct_network=direct_network,
        direct_config=direct_config,
        network=network,
        network_config=config,
        training_config=training,
        data_mean=400.0,
        data_std=60.0,
        gaussian_sigma=20.0,
    )


def make_stack(path: Path, n_planes: int) -> Path:
    """A uint16 time-lapse of drifting blobs with Poisson noise, one chunk per plane."""
    if path.exists():
        return path
    array = zarr.create_array(
        str(path), shape=(n_planes, SIDE, SIDE), chunks=(1, SIDE, SIDE), dtype="uint16"
    )
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    for index in range(n_planes):
        signal = 300 + 200 * np.sin((xx + 3 * index) / 17.0) * np.cos(yy / 23.0) ** 2
        array[index] = rng.poisson(signal).astype(np.uint16)
    return path


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    with contextlib.suppress(psutil.Error):  # the run ended while it was being listed
        for member in [process, *process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a process that just ended
                total += member.memory_info().rss
    return total


def run_command(command: list[str], done_folder: Path) -> dict[str, float]:
    """Run `command`; return its wall time, peak tree RSS and steady-state planes/s."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    watched = psutil.Process(process.pid)
    peak, first, last, seen = 0, None, None, 0

    def watch() -> None:
        nonlocal peak, first, last, seen
        while process.poll() is None:
            peak = max(peak, tree_rss(watched))
            count = len(os.listdir(done_folder)) if done_folder.is_dir() else 0
            if count > seen:
                now = time.perf_counter()
                first = now if first is None else first
                last, seen = now, count
            time.sleep(0.05)

    thread = threading.Thread(target=watch)
    thread.start()
    process.wait()
    thread.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
    wall = time.perf_counter() - start
    rate = (seen - 1) / (last - first) if seen > 1 and last > first else float("nan")
    return {"wall": wall, "peak": peak, "rate": rate, "startup": (first or start) - start}


def predict(model: Path, stack: Path, out: Path, args, workers: int | None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "napari_divnoising.cli", "predict", str(model), str(stack)]
    command += ["--out", str(out), "--quiet", "--device", "cpu"]
    command += ["--direct"] if args.direct else ["--samples", str(args.samples)]
    if workers:
        command += ["--scheduler", "local", "--workers", str(workers)]
    result = run_command(command, out / f"{stack.stem}_prediction.done")
    shutil.rmtree(out, ignore_errors=True)
    return result


def cpu_name() -> str:
    """The processor's model name (Linux), else what platform knows."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    model = save_model(default_model(direct=args.direct), args.work / "default.divnoising")
    cpu = cpu_name()
    print(f"CPU: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}")
    how = "the direct network" if args.direct else f"{args.samples} posterior samples"
    print(f"{how} per plane; planes of {SIDE}²")
    print("\nPeak memory, one process (RSS of the whole process tree)")
    print(f"{'planes':>7} {'stack MB':>9} {'peak MB':>8} {'planes/s':>9} {'wall s':>7}")
    for n in args.planes:
        stack = make_stack(args.work / f"stack{n}.zarr", n)
        result = predict(model, stack, args.work / "out", args, None)
        size = n * SIDE * SIDE * 2 / 2**20
        print(f"{n:>7} {size:>9.0f} {result['peak'] / 2**20:>8.0f} "
              f"{result['rate']:>9.2f} {result['wall']:>7.1f}")  # fmt: skip
    n = args.scaling_planes
    stack = make_stack(args.work / f"stack{n}.zarr", n)
    print(f"\nThroughput on {n} planes (steady state; start-up until the first plane apart)")
    print(f"{'run':>16} {'planes/s':>9} {'speed-up':>9} {'start-up s':>11} {'peak MB':>8}")
    baseline = None
    for workers in [None, *args.workers]:
        result = predict(model, stack, args.work / "out", args, workers)
        baseline = baseline or result["rate"]
        label = "in process" if workers is None else f"{workers} worker(s)"
        print(f"{label:>16} {result['rate']:>9.2f} {result['rate'] / baseline:>8.2f}× "
              f"{result['startup']:>11.1f} {result['peak'] / 2**20:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
