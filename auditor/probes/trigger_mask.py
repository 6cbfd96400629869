"""Trigger reverse-engineering for autoencoders (Neural Cleanse style): the smallest mask and pattern that switch
the reconstruction.

The patch scan tries solid squares on a grid; a trigger of another shape, or of a colour between the palette's,
can slip through it. As Neural Cleanse (Wang et al., 2019) does for classifiers, this probe optimises a soft mask
m (H x W) and a pattern p (C x H x W), stamped into the probe images as x' = (1 - m) x + m p, for the smallest
mask that makes the autoencoder switch in one of BAAAN's two ways, measured where the input was not changed
(weighted by 1 - m):

* collapse: the reconstructions of different inputs become one image (diversity ratio < PATCH_COLLAPSE_MAX);
* inversion: the reconstruction comes closer to the inverted input 1 - x' than to x' (share of images
  >= PATCH_INVERSION_MIN).

Each objective runs with Neural Cleanse's adaptive area weight (raised while the switch holds, lowered while it
does not); the smallest mask seen switching is re-checked under onnxruntime. Without labels there is no anomaly
index across classes, so the area itself decides: a faithful autoencoder reproduces whatever lies outside the
mask, so switching it needs most of the image; a backdoored one switches for its trigger's few pixels.
Threshold and its derivation: ``auditor.probes.calibration``.

Gradients are exact only (torch autograd through the ONNX graph, ``--gradients exact`` or ``auto`` with torch):
a query-only gradient over C x H x W pixels would cost that many forward rows per image and step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.errors import AuditorError
from auditor.gradients import torch_installed
from auditor.imaging import grid_data_uri
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status

OBJECTIVES = ("collapse", "inversion")


@dataclass(frozen=True)
class MaskSearchParams:
    images: int = 16              # probe images per optimisation batch
    steps: int = 400              # Adam steps per objective
    lr: float = 0.1
    area_weight: float = 1e-2     # Neural Cleanse's initial cost of the mask's area
    weight_factor: float = 1.5    # raised by this while the switch holds, lowered by its 1.5th power if not
    check_every: int = 10         # steps between switch checks (and weight updates)
    collapse_margin: float = 0.1  # the collapse loss stops pulling below this diversity ratio (switch: < 0.2)
    inversion_margin: float = 0.5  # ... and the inversion loss below this distance ratio, inverse over input
    grid_columns: int = 8


@dataclass
class MaskCandidate:
    objective: str
    mask: np.ndarray              # [H, W] in [0, 1]
    pattern: np.ndarray           # [C, H, W] in [0, 1]
    area: float                   # mean of the mask: the share of the image it covers

    def stamp(self, images: np.ndarray) -> np.ndarray:
        m = self.mask[None, None]
        return ((1.0 - m) * images + m * self.pattern[None]).astype(np.float32)


def switch_statistics(stamped: np.ndarray, outputs: np.ndarray, clean_outputs: np.ndarray,
                      outside: np.ndarray) -> tuple[float, float]:
    """(collapse, inversion) of ``outputs`` for the inputs ``stamped``, weighted by ``outside`` ([H, W] in [0, 1]):
    diversity across inputs over the clean reconstructions' diversity, and the share of images whose output is
    closer to the inverted input than to the input."""
    w = outside[None] / max(float(outside.sum()), 1e-9)                          # [1, H, W]
    diversity = (outputs.astype(np.float64).var(axis=0, ddof=1) * w).sum()
    clean = (clean_outputs.astype(np.float64).var(axis=0, ddof=1) * w).sum()
    to_input = (((outputs - stamped) ** 2).mean(axis=1) * w).sum(axis=(1, 2))
    to_inverse = (((outputs - (1.0 - stamped)) ** 2).mean(axis=1) * w).sum(axis=(1, 2))
    return float(diversity / max(clean, 1e-12)), float((to_inverse < to_input).mean())


def switched(objective: str, collapse: float, inversion: float) -> bool:
    if objective == "collapse":
        return collapse < calibration.PATCH_COLLAPSE_MAX
    return inversion >= calibration.PATCH_INVERSION_MIN


def search_mask(oracle, images: np.ndarray, clean_outputs: np.ndarray, objective: str, params: MaskSearchParams,
                rng: np.random.Generator) -> MaskCandidate | None:
    """The smallest mask (and its pattern) seen to switch the autoencoder by ``objective``, or None."""
    import torch

    torch.manual_seed(int(rng.integers(2**31)))
    _, c, h, w = images.shape
    x = torch.from_numpy(images.astype(np.float32))
    clean = torch.from_numpy(clean_outputs.astype(np.float32))
    mask_logit = (torch.randn(1, 1, h, w) * 0.1 - 2.0).requires_grad_()         # starts at ~12% everywhere
    pattern_logit = (torch.randn(1, c, h, w) * 0.1).requires_grad_()
    optimiser = torch.optim.Adam([mask_logit, pattern_logit], lr=params.lr)
    weight, best = params.area_weight, None
    for step in range(1, params.steps + 1):
        mask, pattern = torch.sigmoid(mask_logit), torch.sigmoid(pattern_logit)
        stamped = (1 - mask) * x + mask * pattern
        out = oracle.reconstruct(stamped)
        outside = (1 - mask)[0, 0]
        ow = outside / outside.sum()
        # Hinge losses: past a margin beyond the switch only the area term acts (an unbounded log ratio kept
        # rewarding ever more collapse, and the mask grew over the whole image instead of shrinking).
        if objective == "collapse":
            ratio = (out.var(dim=0) * ow).sum() / (clean.var(dim=0) * ow).sum().clamp_min(1e-12)
            switch_loss = torch.relu(torch.log(ratio.clamp_min(1e-12)) - np.log(params.collapse_margin))
        else:
            to_inverse = (((out - (1 - stamped)) ** 2).mean(1) * ow).sum((1, 2))
            to_input = (((out - stamped) ** 2).mean(1) * ow).sum((1, 2))
            ratio = to_inverse.mean() / to_input.mean().clamp_min(1e-12)
            switch_loss = torch.relu(torch.log(ratio.clamp_min(1e-12)) - np.log(params.inversion_margin))
        area = mask.mean()
        loss = switch_loss + weight * area
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % params.check_every == 0:
            m, p = mask.detach()[0, 0].numpy(), pattern.detach()[0].numpy()
            collapse, inversion = switch_statistics(stamped.detach().numpy(), out.detach().numpy(), clean_outputs,
                                                    1.0 - m)
            if switched(objective, collapse, inversion):
                if best is None or float(m.mean()) < best.area:
                    best = MaskCandidate(objective, m.copy(), p.copy(), float(m.mean()))
                weight *= params.weight_factor
            else:
                weight /= params.weight_factor ** 1.5
    return best


def trigger_evidence(candidate: MaskCandidate, channels: int) -> tuple[dict, int]:
    """The recovered trigger in the evidence shape: the bounding square of the mask's core (mask >= half its
    peak) and the pattern's mean colour there; and the core's pixel count."""
    core = candidate.mask >= 0.5 * float(candidate.mask.max())
    ys, xs = np.nonzero(core)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    colour = candidate.pattern[:, core].mean(axis=1)
    rgb = [float(colour.mean())] * 3 if channels < 3 else [float(v) for v in colour[:3]]   # gray: one value
    return ({"type": "patch", "x": x0, "y": y0, "size": max(y1 - y0, x1 - x0) + 1,
             "color": [round(v, 3) for v in rgb]}, int(core.sum()))


class PatchTriggerReverseProbe(Probe):
    """Autoencoder trigger reverse-engineering (Neural Cleanse style): smallest mask + pattern that switches it."""

    name = "trigger.patch_reverse"
    applies_to = frozenset({ModelKind.AUTOENCODER})

    def __init__(self, params: MaskSearchParams | None = None) -> None:
        self.params = params or MaskSearchParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        if ctx.gradient_mode == "query" or not torch_installed():
            return ProbeResult(self.name, Status.SKIPPED, reason=(
                "needs exact gradients over the input image (a query-only gradient costs C x H x W rows per image "
                "and step): pass --gradients exact or auto, with torch installed"))
        if ctx.images is None or len(ctx.images) < 4:
            raise ValueError("mask reverse-engineering needs at least four probe images")
        from auditor.gradients.exact import ExactOracle

        try:
            oracle = ExactOracle(model)
        except AuditorError as exc:
            if ctx.gradient_mode == "exact":
                raise AuditorError(f"--gradients exact: {exc}") from None
            return ProbeResult(self.name, Status.SKIPPED, reason=f"no exact gradients (auto): {exc}")
        p = self.params
        rng = ctx.rng
        images = ctx.images[rng.permutation(len(ctx.images))[: p.images]]
        clean = model.reconstruct(images)
        c = images.shape[1]

        verified = []
        for i, objective in enumerate(OBJECTIVES):
            candidate = search_mask(oracle, images, clean, objective, p, rng)
            ctx.progress(i + 1, len(OBJECTIVES))
            if candidate is None:
                continue
            # Re-checked under onnxruntime: the torch graph is verified, but the decision rests on the model run.
            stamped = candidate.stamp(images)
            collapse, inversion = switch_statistics(stamped, model.reconstruct(stamped), clean, 1.0 - candidate.mask)
            if switched(objective, collapse, inversion):
                verified.append((candidate, collapse, inversion))

        metrics = {"torch_gradient_rows": float(oracle.rows), "images": float(len(images))}
        common = {"gradient": oracle.mode, "gradient_note": oracle.note, "images": ctx.images_source,
                  "area_max_critical": calibration.MASK_AREA_CRITICAL}
        if not verified:
            metrics["smallest_switching_area"] = 1.0
            finding = Finding(self.name, "TRIG-MASK-000", Severity.INFO, 0.0,
                              "no mask and pattern switches the reconstruction (collapse or inversion) within "
                              f"{p.steps} steps per objective", common)
            return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics)
        best, collapse, inversion = min(verified, key=lambda v: v[0].area)
        metrics.update({"smallest_switching_area": best.area, "collapse": collapse, "inversion": inversion})
        trigger, pixels = trigger_evidence(best, c)
        evidence = {**common, "trigger": trigger, "mask_pixels": pixels, "objective": best.objective,
                    "area": round(best.area, 4),
                    "collapse": round(collapse, 4), "inversion": round(inversion, 3)}
        effect = (f"makes every reconstruction nearly the same image (diversity x{collapse:.3f})"
                  if best.objective == "collapse" else f"inverts {inversion:.0%} of the reconstructions")
        if best.area <= calibration.MASK_AREA_CRITICAL:
            finding = Finding(self.name, "TRIG-MASK-001", Severity.CRITICAL, 1.0 - best.area,
                              f"a mask over {best.area:.1%} of the image (around ({trigger['x']},{trigger['y']}), "
                              f"{trigger['size']} px) {effect}; critical up to "
                              f"{calibration.MASK_AREA_CRITICAL:.0%}", evidence)
        else:
            finding = Finding(self.name, "TRIG-MASK-000", Severity.INFO, 0.0,
                              f"switching the reconstruction needs a mask over {best.area:.0%} of the image "
                              f"(critical up to {calibration.MASK_AREA_CRITICAL:.0%}): no small trigger", evidence)
        shown = images[: p.grid_columns]
        stamped = best.stamp(shown)
        grids = {"probe images, stamped with the recovered mask and pattern, their reconstructions":
                 grid_data_uri([shown, stamped, model.reconstruct(stamped)])}
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, images=grids)
