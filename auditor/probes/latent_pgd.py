"""Latent-space PGD robustness (seed 003): how far a small latent perturbation can derail the output.

For a batch of prior latents z, and each budget eps (in units of the prior's standard deviation per
coordinate: L-inf radius eps, or L2 radius eps * sqrt(d)), T steps of projected gradient ascent on
MSE(G(z + delta), G(z)) (untargeted), or descent on MSE(G(z + delta), black) (targeted, seed 003's all-black
target, or the user's ``--pgd-target`` image). Latents come from the prior, or from the user (``--latents`` / ``--encoder`` with ``--data``).
Gradients come from ``auditor.gradients`` (query-only by default, exact with ``--gradients exact``). A random perturbation of the same
budget (a corner of the L-inf ball, or a point on the L2 sphere) is the control.

Outputs: DD-curves of SSIM, MSE and PSNR against eps for the attack and the control; AADDC (normalised, higher
is more robust; see ``auditor.metrics.dd_curve``); the budget at which SSIM falls below 0.5; the ratio of
adversarial to random damage.

Severity (provisional until calibrated on a model zoo, see README): LOW when mean SSIM falls below 0.5 within
a budget of 0.25 prior standard deviations per coordinate, i.e. a perturbation well inside the prior's typical
noise destroys the output; INFO otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.gradients import make_oracle
from auditor.imaging import grid_data_uri
from auditor.metrics.dd_curve import aaddc_distance, aaddc_similarity, budget_at
from auditor.metrics.image import mse, psnr, ssim
from auditor.probes.base import Probe, ProbeContext
from auditor.records import Curve, Finding, ModelKind, ProbeResult, Severity, Status

LOW_BUDGET = 0.25
SSIM_BROKEN = 0.5


@dataclass(frozen=True)
class PGDParams:
    batch: int = 8
    steps: int = 10
    budgets: tuple[float, ...] = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
    norm: str = "linf"
    targeted: bool = False
    directions: int = 32          # antithetic pairs per latent when d is large

    def __post_init__(self) -> None:
        if self.norm not in ("linf", "l2"):
            raise ValueError(f"norm must be 'linf' or 'l2', got {self.norm!r}")
        if not self.budgets or any(b <= 0 for b in self.budgets) or list(self.budgets) != sorted(set(self.budgets)):
            raise ValueError("budgets must be positive and strictly increasing")


class LatentPGDProbe(Probe):
    """Latent PGD (seed 003): DD-curves of SSIM/MSE/PSNR against the budget, AADDC, random-noise control."""

    name = "robustness.latent_pgd"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: PGDParams | None = None) -> None:
        self.params = params or PGDParams()

    @classmethod
    def from_config(cls, config) -> LatentPGDProbe:
        return cls(PGDParams(norm=config.pgd_norm, targeted=config.pgd_target is not None))

    def _project(self, delta: np.ndarray, radius: float) -> np.ndarray:
        if self.params.norm == "linf":
            return np.clip(delta, -radius, radius)
        norms = np.linalg.norm(delta.reshape(len(delta), -1), axis=1).reshape(-1, *[1] * (delta.ndim - 1))
        return delta * np.minimum(1.0, radius / np.maximum(norms, 1e-12))

    def _random(self, rng, shape, radius: float) -> np.ndarray:
        u = rng.standard_normal(shape).astype(np.float32)
        if self.params.norm == "linf":
            return radius * np.sign(u)
        norms = np.linalg.norm(u.reshape(len(u), -1), axis=1).reshape(-1, *[1] * (u.ndim - 1))
        return radius * u / norms

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        p = self.params
        rng = ctx.rng
        if ctx.latents is not None:
            z0 = ctx.latents[rng.permutation(len(ctx.latents))[:p.batch]].astype(np.float32)
            source = ctx.latents_source
        else:
            z0, source = model.sample_latents(rng, p.batch), "prior N(0, I)"
        batch = len(z0)
        labels = model.sample_labels(rng, batch)
        reference = model.generate(z0, labels)
        d = int(np.prod(z0.shape[1:]))
        # Each budget costs steps x batch gradients plus 2 x batch evaluations (attack and control).
        per_latent = (ctx.max_rows // len(p.budgets) - 2 * batch) // (p.steps * batch)
        oracle = make_oracle(model, ctx.gradient_mode, p.directions, rows_per_latent=max(1, per_latent))
        if p.targeted:
            target = (np.zeros_like(reference) if ctx.attack_target is None
                      else np.repeat(ctx.attack_target.astype(np.float32), batch, axis=0))
        else:
            target = reference
        sign = -1.0 if p.targeted else 1.0             # ascend the distance to G(z); descend it to the target

        scale = 1.0 if p.norm == "linf" else float(np.sqrt(d))
        curves: dict[str, list[float]] = {k: [] for k in ("ssim", "mse", "psnr", "ssim_random", "mse_random")}
        worst_outputs = reference
        for step_i, eps in enumerate(p.budgets):
            radius = eps * scale
            alpha = 2.5 * radius / p.steps
            delta = self._project(self._random(rng, z0.shape, radius) * rng.random((batch, *[1] * (z0.ndim - 1)),
                                                                                    dtype=np.float32), radius)
            for _ in range(p.steps):
                _, grad = oracle.mse_and_grad(z0 + delta, target, labels, rng)
                grad = sign * grad
                if p.norm == "linf":
                    move = np.sign(grad)
                else:
                    norms = np.linalg.norm(grad.reshape(batch, -1), axis=1).reshape(-1, *[1] * (z0.ndim - 1))
                    move = grad / np.maximum(norms, 1e-12)
                delta = self._project(delta + alpha * move, radius)
            attacked = model.generate(z0 + delta, labels)
            control = model.generate(z0 + self._random(rng, z0.shape, radius), labels)
            curves["ssim"].append(float(ssim(attacked, reference).mean()))
            curves["mse"].append(float(mse(attacked, reference).mean()))
            curves["psnr"].append(float(psnr(attacked, reference).mean()))
            curves["ssim_random"].append(float(ssim(control, reference).mean()))
            curves["mse_random"].append(float(mse(control, reference).mean()))
            worst_outputs = attacked
            ctx.progress(step_i + 1, len(p.budgets))

        pairs = [(i, j) for i in range(batch) for j in range(i + 1, batch)]
        unrelated = float(np.mean([mse(reference[i:i + 1], reference[j:j + 1])[0] for i, j in pairs]))
        eps = list(p.budgets)
        metrics = {
            "aaddc_ssim": aaddc_similarity(eps, curves["ssim"]),
            "aaddc_mse": aaddc_distance(eps, curves["mse"], unrelated) if unrelated > 0 else float("nan"),
            "aaddc_ssim_random": aaddc_similarity(eps, curves["ssim_random"]),
            "budget_ssim_below_0_5": _none_to_nan(budget_at(eps, curves["ssim"], SSIM_BROKEN)),
            "damage_ratio": _damage_ratio(curves["ssim"], curves["ssim_random"]),
            "unrelated_mse": unrelated,
            "latent_dim": float(d),
            "torch_gradient_rows": float(getattr(oracle, "rows", 0)),   # exact mode: rows outside onnxruntime
        }
        budget = metrics["budget_ssim_below_0_5"]
        broken_early = np.isfinite(budget) and budget <= LOW_BUDGET
        mode = ("untargeted" if not p.targeted else
                "targeted (all-black)" if ctx.attack_target is None else "targeted (--pgd-target image)")
        summary = (f"{mode} {p.norm} latent PGD: AADDC(SSIM) {metrics['aaddc_ssim']:.3f} vs random "
                   f"{metrics['aaddc_ssim_random']:.3f}; SSIM < {SSIM_BROKEN} "
                   + (f"from eps {budget:.2f} prior std" if np.isfinite(budget) else f"not reached by eps {eps[-1]}"))
        finding = Finding(self.name, "ROBUST-LATENT-001" if broken_early else "ROBUST-LATENT-000",
                          Severity.LOW if broken_early else Severity.INFO,
                          float(np.clip(1.0 - metrics["aaddc_ssim"], 0.0, 1.0)), summary,
                          {"gradient": oracle.mode, "gradient_note": oracle.note, "latents": source,
                           "norm": p.norm, "targeted": p.targeted, "steps": p.steps, "batch": batch, "budgets": eps,
                           "lpips": "skipped: its network weights cannot be downloaded in this environment"})
        result_curves = {
            "SSIM vs eps (attack)": Curve(tuple(eps), tuple(curves["ssim"]), "eps (prior std)", "SSIM"),
            "SSIM vs eps (random control)": Curve(tuple(eps), tuple(curves["ssim_random"]), "eps (prior std)",
                                                  "SSIM"),
            "MSE vs eps (attack)": Curve(tuple(eps), tuple(curves["mse"]), "eps (prior std)", "MSE"),
            "PSNR vs eps (attack)": Curve(tuple(eps), tuple(curves["psnr"]), "eps (prior std)", "PSNR dB"),
        }
        images = {f"clean (top) vs attacked at eps {eps[-1]} (bottom)": grid_data_uri([reference, worst_outputs])}
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, curves=result_curves,
                           images=images)


def _none_to_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _damage_ratio(adversarial: list[float], random: list[float]) -> float:
    """Mean SSIM lost to the attack over mean SSIM lost to random noise of the same budgets."""
    adv = float(np.mean(1.0 - np.asarray(adversarial)))
    rnd = float(np.mean(1.0 - np.asarray(random)))
    return adv / rnd if rnd > 1e-9 else float("inf") if adv > 1e-9 else 1.0
