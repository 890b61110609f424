"""Plot DivNoising's MMSE PSNR against training minutes, from ``bench_fmd_quality.py --json``.

One line per estimate (the MMSE, and the MMSE with detail restored), preset and noise-model
source (mean over seeds, with the seeds' spread as error bars and each seed as a dot),
VST-BM3D as a flat line, and the minutes BM3D took on the same views marked on it. Users
decide from this picture how long to train.

Usage (from the repository root)::

    python benchmarks/bench_fmd_quality.py --minutes 1 2 5 10 15 --json ttq.json
    python benchmarks/bench_fmd_quality.py --minutes 1 5 15 --preset reference --json ttq.json
    python benchmarks/plot_time_to_quality.py ttq.json --out docs/images/time_to_quality.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", type=Path, help="JSON files of bench records")
    parser.add_argument("--out", type=Path, default=Path("time_to_quality.png"))
    return parser.parse_args(argv)


def load_records(paths: list[Path]) -> list[dict]:
    records = [entry for path in paths for entry in json.loads(path.read_text())]
    return [entry for entry in records if entry.get("minutes")]


#: The estimates drawn, by their key in the records, with their label.
ESTIMATES = {"mmse_psnr": "MMSE", "restored_psnr": "MMSE, detail restored"}


def curves(
    records: list[dict], key: str = "mmse_psnr"
) -> dict[tuple[str, str], dict[float, list[float]]]:
    """PSNR of an estimate by (preset, noise model) and budget, one value per seed."""
    grouped: dict[tuple[str, str], dict[float, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for entry in records:
        if entry.get(key) is not None:
            grouped[(entry["preset"], entry["noise_model"])][entry["minutes"]].append(entry[key])
    return grouped


def plot(records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    figure, axes = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    for key, estimate in ESTIMATES.items():
        for (preset, source), by_minutes in sorted(curves(records, key).items()):
            minutes = sorted(by_minutes)
            values = [np.array(by_minutes[m]) for m in minutes]
            settings = "default" if preset == "auto" else preset
            axes.errorbar(
                minutes,
                [v.mean() for v in values],
                yerr=[v.std() for v in values],
                marker="o" if key == "mmse_psnr" else "s",
                linestyle="-" if key == "mmse_psnr" else "-.",
                capsize=3,
                label=f"{estimate}, {settings} settings, {source} noise model",
            )
            for m, v in zip(minutes, values, strict=True):
                axes.scatter([m] * len(v), v, s=8, color="grey", alpha=0.6, zorder=3)
    with_bm3d = [e for e in records if e.get("bm3d+vst_psnr") is not None]
    if with_bm3d:
        level = with_bm3d[0]["bm3d+vst_psnr"]
        axes.axhline(level, color="black", linestyle="--", label=f"VST-BM3D ({level:.2f} dB)")
        seconds = with_bm3d[0].get("bm3d_seconds")
        if seconds:
            axes.plot([seconds / 60], [level], marker="v", color="black", markersize=9)
            axes.annotate(
                f"BM3D's own time ({seconds / 60:.1f} min)",
                (seconds / 60, level),
                textcoords="offset points",
                xytext=(6, -14),
                fontsize=8,
            )
    noisy = records[0].get("noisy_psnr")
    if noisy is not None:
        axes.axhline(noisy, color="grey", linestyle=":", label=f"noisy frame ({noisy:.2f} dB)")
    axes.set_xscale("log")
    ticks = sorted({e["minutes"] for e in records})
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no "3×10⁰" labels
    axes.set_xlabel("training budget (minutes of wall clock, 2 CPU cores)")
    axes.set_ylabel("PSNR (dB), mean of 10 views")
    cpu = records[0].get("cpu", "")
    axes.set_title(f"FMD Confocal BPAE B: time to quality ({cpu})", fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.stem + ".partial" + out.suffix)
    figure.savefig(temporary)
    temporary.replace(out)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    records = load_records(args.results)
    if not records:
        print("no timed records in the given files", file=sys.stderr)
        return 1
    plot(records, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
