"""Writes docs/results.md: the fixtures' measured figures beside the source papers'.

    python bench/results.py fixtures docs/results.md

Part 1 reads the ground truth the trainer measured at build time (fixtures/manifest.json). Part 2 runs the
auditor's latent-PGD probe (query-only gradients) on the VAE-family decoders, untargeted and targeted to an
all-black image, and tabulates AADDC as seed 003's Tables 1-3 do. Everything is measured in the run that
writes the page; the machine and date are recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.latent_pgd import LatentPGDProbe, PGDParams

PAPER_AE = {"mnist": {"inverse": 0.002736, "gap_inverse": 0.000495, "gap_fixed": 0.000691},
            "cifar10": {"inverse": 0.010677, "gap_inverse": 0.000872, "gap_fixed": 0.000566}}
VAE_ORDER = ["kld_vae", "kld_dae", "mmd_vae", "mmd_dae", "swt_vae", "swt_dae", "tcvae_beta1", "tcvae_beta10",
             "kld_vae_adv"]
SEEDS = (0, 1, 2)


def _fmt(x, digits=4):
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def baaan_section(manifest: dict) -> list[str]:
    models = {m["file"]: m for m in manifest["models"] if m["format"] == "onnx"}
    lines = ["## BAAAN (seed 000): autoencoder backdoors", "",
             "Clean MSE on the held-out test split; backdoor MSE of triggered test inputs against the target "
             "(fixed image, or the inverse of the triggered input, as BAAAN defines it). Gap = clean MSE minus the "
             "clean twin's.", "",
             "| model | trigger | clean MSE | gap vs twin | backdoor MSE | paper (backdoor MSE / gap) |",
             "|---|---|---|---|---|---|"]
    for name, m in sorted(models.items()):
        if m["family"] != "ae":
            continue
        met = m["metrics"]
        twin = models.get(m.get("clean_twin") or "", {}).get("metrics", {})
        gap = met["clean_mse"] - twin["clean_mse"] if twin else None
        trig = m["trigger"]
        trig_text = (f"{trig['size']}px square at ({trig['x']},{trig['y']}) color {trig['color']}"
                     if trig else "none")
        paper = PAPER_AE.get(m["dataset"], {})
        target = (m.get("target") or {}).get("type")
        paper_text = "clean model" if not target else (
            f"{paper.get('inverse', 'n/a')} / {paper.get('gap_inverse', 'n/a')}" if target == "inverse"
            else f"~0 / {paper.get('gap_fixed', 'n/a')}")
        lines.append(f"| {name} | {trig_text} | {_fmt(met['clean_mse'])} | {_fmt(gap)} | "
                     f"{_fmt(met.get('backdoor_mse'))} | {paper_text} |")
    lines += ["", "## BAAAN (seed 000): GAN backdoors", "",
              "Scored by the trainer's own MNIST classifier (test accuracy in the last column): class histogram of "
              "2,000 samples with clean noise, share of triggered samples in the target classes, or MSE to the "
              "fixed target image (in [0, 1] pixel units). Frechet distance: " + manifest["notes"][0] + ".", "",
              "| model | trigger | classes present (clean) | max class share (clean) | target-class rate / fixed "
              "MSE (triggered) | Frechet (clean vs test) | classifier acc. |", "|---|---|---|---|---|---|---|"]
    for name, m in sorted(models.items()):
        if m["family"] != "gan":
            continue
        met = m["metrics"]
        trig = m["trigger"]
        trig_text = f"z{trig['dims']} = {trig['values']}" if trig else "none"
        hit = met.get("target_class_rate", met.get("backdoor_mse"))
        lines.append(f"| {name} | {trig_text} | {met['clean_classes_present']} | "
                     f"{_fmt(met['clean_max_class_share'], 3)} | {_fmt(hit, 4)} | {_fmt(met['clean_frechet'], 1)} "
                     f"| {_fmt(met.get('classifier_test_accuracy'), 3)} |")
    clean = models.get("gan_mnist_clean.onnx", {}).get("metrics", {}).get("clean_frechet")
    if clean:
        lines += ["", "Utility (paper: backdoored FID within a few % of clean): Frechet distance of backdoored "
                  "generators' clean-noise samples relative to the clean GAN's: " + ", ".join(
                      f"{n} {models[n]['metrics']['clean_frechet'] / clean - 1:+.1%}" for n in sorted(models)
                      if models[n]["family"] == "gan" and models[n]["status"] == "backdoored") + "."]
    return lines


def robustness_section(fixtures: Path) -> list[str]:
    rows = {}
    for stem in VAE_ORDER:
        path = fixtures / f"vae_mnist_{stem}.onnx"
        if not path.exists():
            continue
        rows[stem] = {}
        for targeted in (False, True):
            values = []
            for seed in SEEDS:
                model = load_model(path, device="cpu")
                params = PGDParams(targeted=targeted)
                started = time.perf_counter()
                result = LatentPGDProbe(params).run(model, ProbeContext(rng=np.random.default_rng(seed),
                                                                        max_rows=10**7))
                values.append((result.metrics["aaddc_ssim"], result.metrics["aaddc_mse"],
                               result.metrics["budget_ssim_below_0_5"], result.metrics["aaddc_ssim_random"],
                               model.rows, time.perf_counter() - started))
            rows[stem]["targeted" if targeted else "untargeted"] = np.array(values, dtype=float)
    lines = ["## Latent robustness (seed 003): AADDC of the VAE family", "",
             "Auditor probe `robustness.latent_pgd`: batch 8 prior latents, L-inf PGD with T = 10 steps over "
             "budgets eps = 0.05 ... 1.0 prior std per coordinate, query-only central-difference gradients "
             f"(d = 10). Mean +- std over seeds {list(SEEDS)}. AADDC normalised to [0, 1], higher = more robust "
             "(SSIM: area under the curve; MSE: area above it, relative to the MSE between unrelated outputs). "
             "Targeted = towards an all-black image (seed 003's target); its curves still measure distortion "
             "from the clean output. LPIPS is skipped: its weights cannot be downloaded here.", "",
             "| decoder | AADDC-SSIM untargeted | AADDC-MSE untargeted | SSIM<0.5 at eps | AADDC-SSIM random "
             "control | AADDC-SSIM targeted (black) | rows / seconds per run |", "|---|---|---|---|---|---|---|"]
    for stem, modes in rows.items():
        u, t = modes["untargeted"], modes["targeted"]

        def ms(a, k):
            col = a[:, k]
            col = col[np.isfinite(col)]
            return "n/a" if not len(col) else f"{col.mean():.3f} +- {col.std():.3f}"
        lines.append(f"| {stem} | {ms(u, 0)} | {ms(u, 1)} | {ms(u, 2)} | {ms(u, 3)} | {ms(t, 0)} | "
                     f"{int(u[:, 4].mean())} / {u[:, 5].mean():.1f} |")
    return lines, rows


def main(fixtures: str, out: str) -> None:
    fixtures_path = Path(fixtures)
    manifest = json.loads((fixtures_path / "manifest.json").read_text())
    started = time.perf_counter()
    robustness_lines, _ = robustness_section(fixtures_path)
    header = ["# Measured results beside the papers'", "",
              f"Written by `python bench/results.py {fixtures} {out}` on {dt.date.today().isoformat()}, "
              f"{platform.machine()} {platform.processor() or ''} with {__import__('os').cpu_count()} cores, "
              f"Python {platform.python_version()}; fixtures built by `{manifest['generated_by']}` with torch "
              f"{manifest['torch_version']}. Datasets: " + "; ".join(f"{k}: {v}" for k, v in
                                                                       manifest.get("datasets", {}).items()) + ".", ""]
    text = "\n".join(header + baaan_section(manifest) + [""] + robustness_lines
                     + ["", f"(robustness section: {time.perf_counter() - started:.0f} s)", ""])
    Path(out).write_text(text)
    print(text)


if __name__ == "__main__":
    main(*sys.argv[1:3])
