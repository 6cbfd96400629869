"""Measures generator inversion and the two gradient modes on the fixtures; writes docs/inversion.md.

    python bench/inversion.py fixtures ../shared/data docs/inversion.md

Part 1 (issue 5's inversion criterion): per fixture generator, the reachability threshold is set exactly as
`auditor invert` sets it (32 own samples, 8 restarts x 600 Adam steps, exact gradients), then NEW own samples and
real test images of the generator's dataset are inverted: the share of own samples under the threshold and of
real images over it. Part 2: latent-PGD AADDC with exact and query-only gradients on the same latents, and the
time ratio. A benchmark, not a test: figures are measured in the run that writes the page.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from auditor.gradients import make_oracle
from auditor.inversion import InversionParams, invert, reachability_threshold
from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.latent_pgd import LatentPGDProbe
from auditor.runner import INVERT_CALIBRATION, INVERT_PARAMS

GENERATORS = ["gan_mnist_clean", "gan_mnist_fixed", "gan_mnist_pair", "gan_mnist_classes", "vae_mnist_kld_vae",
              "vae_mnist_kld_dae"]
HELD_OUT = 48
RAW: dict[str, dict] = {}      # residuals per model, written beside the page for re-analysis


def real_images(data_dir: Path, n: int) -> np.ndarray:
    from trainer.data import load_dataset

    images = np.asarray(load_dataset("mnist", "test", data_dir=data_dir, limit=n, seed=11).images, np.float32)
    return images / 255.0 if images.max() > 1.5 else images


def inversion_section(fixtures: Path, real: np.ndarray) -> list[str]:
    params = InversionParams(**INVERT_PARAMS)
    lines = ["## Did this image come from this generator? (`auditor invert`)", "",
             f"Threshold: the 95th percentile of the residual MSE of {INVERT_CALIBRATION} of the generator's own "
             f"samples, each inverted with {params.restarts} restarts x {params.steps} Adam steps, then "
             f"{params.refine_steps} refinement steps of the best restart (exact gradients), "
             f"latents kept plausible (norm statistic <= {params.max_norm_z}). Then {HELD_OUT} NEW own samples and "
             f"{len(real)} real MNIST test images are inverted the same way.", "",
             "| generator | threshold MSE | own samples under it | real images over it | own median MSE | "
             "real median MSE | seconds |", "|---|---|---|---|---|---|---|"]
    for name in GENERATORS:
        model = load_model(fixtures / f"{name}.onnx", device="cpu")
        oracle = make_oracle(model, "exact")
        rng = np.random.default_rng(0)
        started = time.perf_counter()
        own = model.generate(model.sample_latents(rng, INVERT_CALIBRATION + HELD_OUT))
        result = invert(model, oracle, np.concatenate([own, real]), None, params, rng)
        threshold = reachability_threshold(result.mse[:INVERT_CALIBRATION])
        held = result.mse[INVERT_CALIBRATION:INVERT_CALIBRATION + HELD_OUT]
        outside = result.mse[INVERT_CALIBRATION + HELD_OUT:]
        RAW[name] = {"calibration": result.mse[:INVERT_CALIBRATION].tolist(), "own": held.tolist(),
                     "real": outside.tolist()}
        lines.append(f"| {name} | {threshold:.5f} | {(held <= threshold).mean():.0%} | {(outside > threshold).mean():.0%}"
                     f" | {np.median(held):.5f} | {np.median(outside):.5f} | {time.perf_counter() - started:.0f} |")
        print(lines[-1], flush=True)
    return lines


def gradient_section(fixtures: Path) -> list[str]:
    lines = ["", "## Exact vs query-only gradients: latent-PGD AADDC (untargeted, L-inf, seed 0)", "",
             "| generator | query-only estimator | AADDC-SSIM query | AADDC-SSIM exact | relative gap | "
             "seconds query / exact |", "|---|---|---|---|---|---|"]
    for name in GENERATORS:
        model = load_model(fixtures / f"{name}.onnx", device="cpu")
        out = {}
        for mode in ("query", "exact"):
            started = time.perf_counter()
            result = LatentPGDProbe().run(model, ProbeContext(rng=np.random.default_rng(0), max_rows=200_000,
                                                             gradient_mode=mode))
            out[mode] = (result.metrics["aaddc_ssim"], time.perf_counter() - started,
                         result.findings[0].evidence["gradient"])
        q, e = out["query"][0], out["exact"][0]
        lines.append(f"| {name} | {out['query'][2]} | {q:.3f} | {e:.3f} | {abs(q - e) / e:.1%} | "
                     f"{out['query'][1] / out['exact'][1]:.1f}x |")
        print(lines[-1], flush=True)
    return lines


def main(fixtures: str, data_dir: str, out: str) -> None:
    import torch

    torch.set_num_threads(2)
    lines = ["# Generator inversion and gradient modes, measured", "",
             f"Measured {dt.date.today()} on {platform.machine()} ({platform.processor() or 'cpu'}), "
             f"{len(__import__('os').sched_getaffinity(0))} cores, by `python bench/inversion.py`.", ""]
    lines += inversion_section(Path(fixtures), real_images(Path(data_dir), HELD_OUT))
    lines += gradient_section(Path(fixtures))
    Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    Path(out).with_suffix(".json").write_text(json.dumps(RAW, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
