"""Denoise the built-in sample data with DivNoising, from noise model to quality table.

Run ``python docs/examples/denoise_sample_data.py`` (a few minutes on a CPU) or with
``--quick`` (seconds; too short to denoise well, but it exercises every step).
"""

import argparse

import numpy as np

from napari_divnoising import (
    DivNoising,
    NoiseModelSettings,
    make_noise_model,
    make_sample_data,
    quality_scores,
)


def main(quick: bool) -> None:
    data = make_sample_data(seed=0, shape=(64, 64) if quick else (256, 256))

    settings = NoiseModelSettings(n_iterations=50 if quick else 2000)
    noise_model = make_noise_model(data.calibration, settings=settings).noise_model

    training = (
        {"max_epochs": 2, "steps_per_epoch": 3, "patch_size": 32, "batch_size": 4}
        if quick
        else {"time_budget_minutes": 2.0}
    )
    denoiser = DivNoising(noise_model, seed=0, **training).fit(data.noisy)

    result = denoiser.sample(data.noisy[0], n_samples=10 if quick else 100, map_estimate=True)
    print(f"{'':10} {'PSNR (dB)':>10} {'SSIM':>7}")
    for name, image in (("noisy", data.noisy[0]), ("MMSE", result.mmse), ("MAP", result.map)):
        scores = quality_scores(image.astype(np.float64), data.clean)
        print(f"{name:10} {scores.psnr:10.2f} {scores.ssim:7.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny settings: seconds, not minutes")
    main(parser.parse_args().quick)
