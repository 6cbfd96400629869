"""Latent weight scan: a latent unit that the generator's first layer weights far more than any other.

The prior N(0, I) treats every latent unit alike, so training has no reason to single one out: the fan-out weight
norms of the units (how strongly the first layer reads each one, ``auditor.static.latent_weights``) are
exchangeable draws, and each norm sums hundreds of squared weights, so they spread like a normal sample. A trigger
unit breaks the symmetry: to switch the output from one unit the backdoor needs a large weight on it. Measured on
the committed fixtures: the class-subset GAN's trigger unit stands 7.5 robust SDs above the rest, the fixed-image
ones 88-102, clean units at most 3.8.

The statistic is the largest gap, in robust z (median / MAD across units), between the k-th and (k+1)-th largest
norms for k up to the trigger size the reverse-engineering allows (d/8 units, 1 for d <= 15, at most 4): a trigger
stands apart from the continuum of the other units, while units that are simply used more (the active units of a
VAE whose other units collapsed) form a continuum or a group. Its null is computed, not tuned: the same gap for
exchangeable normal norms at this d (Monte Carlo, fixed seed), thresholds in ``auditor/probes/calibration.py``.

A gap alone also fires on a decoder with only a few active units (measured: a beta-8 VAE with 3 active units of
32, gap 7.3). Those units are used: in the prior's range they move the output more than any other unit, as much
as their weights stand out. A planted trigger unit is trained to behave normally in range, so its in-range effect
stands out far less than its weight (measured: 0.5-12 robust SDs against 7.5-102). The probe therefore also
measures every unit's in-range effect (the output's mean change from -1 to +1, on a few random latents) and
flags only units whose weight stands out more than their in-range effect does.

The weights say which unit, not which value. When some value on a grid collapses the output to one image (a
fixed-image target), the smallest such |value| is reported, bisected between that grid point and the one below
(the onset of the trigger region, at or inside the planted value); otherwise the value is left undetermined
here (``trigger.latent_centres`` reads it from the BatchNorm statistics where there are any), and the evidence
gives the unit's *switch onset* read from the first layer's weights and biases (``switch_onset``): the
side, and roughly where, its dedicated features turn on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.robust import robust_z
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext, scaled_count
from auditor.probes.trigger_latent import set_unit, unit_statistics, unit_sweeps
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status
from auditor.static.latent_weights import latent_fan_out

MIN_UNITS = 4      # a median and a spread across units need a few of them


@dataclass(frozen=True)
class WeightScanParams:
    effect_samples: int = 16            # latents for the in-range effect of every unit
    value_samples: int = 32             # latents for the value estimate of a flagged unit
    value_magnitudes: tuple[float, ...] = (1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0)
    reference: float = 1.0
    grid_columns: int = 8


def max_trigger_units(n_units: int) -> int:
    """The largest trigger the gap looks for: d/8 units, 1 for d <= 15, at most 4 (as reverse-engineering)."""
    return max(1, min(4, n_units // 8))


def _top_gaps(z: np.ndarray) -> np.ndarray:
    """[..., k] gaps between the k largest and next values of z [..., d] (k = the trigger size limit)."""
    n_units = z.shape[-1]
    k_max = min(max_trigger_units(n_units), n_units - 1)
    ranked = -np.sort(-z, axis=-1)
    return ranked[..., :k_max] - ranked[..., 1:k_max + 1]


def top_gap(norms: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(largest gap in robust z between consecutive top norms, the units above it, robust z of every unit)."""
    floor = max(1e-3 * float(np.median(norms)), 1e-12)        # identical norms: no spread, no false z
    z = robust_z(np.asarray(norms, dtype=np.float64), floor)
    gaps = _top_gaps(z)
    k = int(np.argmax(gaps))
    return float(gaps[k]), np.argsort(-z, kind="stable")[:k + 1], z


@functools.lru_cache(maxsize=64)
def null_gap_quantile(n_units: int, quantile: float = calibration.WEIGHT_GAP_NULL_QUANTILE,
                      draws: int = 20_000) -> float:
    """The ``quantile`` of ``top_gap`` over exchangeable normal norms of ``n_units`` units (fixed seed).

    All draws at once (robust z along each row): 20,000 draws in well under a second at d = 512.
    """
    sample = np.random.default_rng(20261122).standard_normal((draws, n_units))
    z = robust_z(sample.T, 1e-12).T
    return float(np.quantile(_top_gaps(z).max(axis=-1), quantile))


def switch_onset(weights: np.ndarray, bias: np.ndarray, unit: int, min_features: int = 5) -> tuple[float, int] | None:
    """Where a unit's dedicated first-layer features switch on: (median value, how many features), or None.

    ``weights`` [units, features], ``bias`` [features] of the one Gemm that reads the latent. A feature is the
    unit's when its weight on the unit is large against the other units' weights on it together (the top 2%, at
    least 8); of those, the ones off at z = 0 (negative bias) turn on where the unit alone lifts them past 0,
    z[unit] = -bias / weight, ignoring the other units' spread. A reading of the weights, not a measurement: a
    planted trigger's value lies on the same side (flagged fixtures and zoo models: 10 of 10 single-unit triggers,
    at 0.36-0.52 of the planted magnitude, and 6 of 6 units of two-unit triggers, one of them at 2.1x; BatchNorm
    statistics of half-triggered batches folded into the bias are one reason for the factor).
    """
    w = weights[unit]
    others = np.sqrt(np.maximum((weights ** 2).sum(axis=0) - w ** 2, 1e-24))
    ratio = np.abs(w) / others
    dedicated = np.argsort(-ratio, kind="stable")[:max(8, len(w) // 50)]
    off = dedicated[(bias[dedicated] < 0) & (w[dedicated] != 0)]
    if len(off) < min_features:
        return None
    return float(np.median(-bias[off] / w[off])), int(len(off))


def in_range_effect(model, z: np.ndarray, labels: np.ndarray | None, reference: float) -> np.ndarray:
    """[units] mean L2 change of the output when each unit moves from -reference to +reference."""
    units = np.arange(model.info.latent_shape[0])
    effect = np.empty(len(units))
    settings = np.array([-reference, reference], np.float32)
    for start, out in unit_sweeps(model, z, labels, units, settings):
        flat = out.reshape(*out.shape[:3], -1).astype(np.float64)            # [u, 2, n, pixels]
        effect[start:start + len(out)] = np.sqrt(((flat[:, 1] - flat[:, 0]) ** 2).sum(-1)).mean(-1)
    return effect


class LatentWeightProbe(Probe):
    """Latent weight scan: a latent unit the first layer weights far above the rest but uses normally in range."""

    name = "trigger.latent_weights"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: WeightScanParams | None = None) -> None:
        self.params = params or WeightScanParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        if model.onnx_file is None:
            return ProbeResult(self.name, Status.SKIPPED, reason="needs the model's graph")
        latent_input = model.info.inputs[0].name
        fan_out = latent_fan_out(model.onnx_file.proto, latent_input, model.info.latent_shape)
        if fan_out.norms is None:
            return ProbeResult(self.name, Status.SKIPPED, reason=f"no per-unit weights to read: {fan_out.reason}")
        p, rng = self.params, ctx.rng
        n_units = len(fan_out.norms)
        if n_units < MIN_UNITS:
            return ProbeResult(self.name, Status.SKIPPED, reason=f"{n_units} latent unit(s): too few to compare")
        gap, top, weight_z = top_gap(fan_out.norms)
        medium, high = calibration.weight_gap_thresholds(null_gap_quantile(n_units))
        metrics = {"weight_gap": gap, "threshold_medium": medium, "threshold_high": high,
                   "units_scanned": float(n_units), "top_weight_z": float(weight_z[top[0]])}
        evidence = {"layers": list(fan_out.layers), "weight_gap": round(gap, 2),
                    "thresholds": {"medium": round(medium, 2), "high": round(high, 2)},
                    "top_units": [{"unit": int(u), "weight_z": round(float(weight_z[u]), 2)}
                                  for u in np.argsort(-weight_z, kind="stable")[:5]]}
        unit_word = "channel" if len(model.info.latent_shape) == 3 else "dimension"
        if gap < medium:
            return self._result(Finding(
                self.name, "TRIG-WEIGHT-000", Severity.INFO, min(1.0, max(0.0, gap) / 50.0),
                f"no latent {unit_word} stands out in the first layer's weights (largest gap {gap:.1f} robust SDs, "
                f"medium from {medium:.1f})", evidence), metrics)

        # A gap: are the units above it used more in range too (an active unit), or only weighted more (a trigger)?
        samples = scaled_count(p.effect_samples, ctx.preset, 4)
        z_effect = model.sample_latents(rng, samples)
        effect = in_range_effect(model, z_effect, model.sample_labels(rng, samples), p.reference)
        # Floor: a tenth of a percent of the typical effect (the mean too: in a collapsed decoder most units have
        # none, and their median and MAD are 0).
        effect_z = robust_z(effect, max(1e-3 * float(np.median(effect)), 1e-3 * float(np.mean(effect)), 1e-12))
        excess = weight_z[top] - calibration.WEIGHT_EFFECT_RATIO * effect_z[top]
        metrics |= {"effect_z_of_top": float(effect_z[top].max()), "rows_effect": float(samples * 2 * n_units)}
        evidence["in_range_effect_z"] = {str(int(u)): round(float(effect_z[u]), 2) for u in top}
        units_text = ", ".join(str(int(u)) for u in top)
        if np.any(excess <= 0):
            return self._result(Finding(
                self.name, "TRIG-WEIGHT-002", Severity.INFO, 0.1,
                f"latent {unit_word} {units_text} {'stands' if len(top) == 1 else 'stand'} out in the first layer's "
                f"weights (gap {gap:.1f}) but also moves the output in the prior's range (effect z "
                f"{effect_z[top].max():.1f}): used more, as a VAE's few active units are, not a hidden switch",
                evidence), metrics)

        values, value_evidence = self._estimate_values(model, ctx, top)
        onsets = [None if fan_out.weights is None or fan_out.bias is None
                  else switch_onset(fan_out.weights, fan_out.bias, int(u)) for u in top]
        severity = Severity.HIGH if gap >= high else Severity.MEDIUM
        evidence |= {"trigger": {"type": "latent", "dims": [int(u) for u in top],
                                 "values": None if values is None else [round(v, 3) for v in values]},
                     "unit": unit_word, "value_estimate": value_evidence,
                     "switch_onset": [None if o is None else {"value": round(o[0], 3), "features": o[1]}
                                      for o in onsets]}
        # Evidence grid: clean samples, then the unit(s) at each value tried (or at the estimate).
        z_show = model.sample_latents(rng, p.grid_columns)
        labels_show = model.sample_labels(rng, p.grid_columns)
        if values is not None:
            settings = [values]
            shown = "the estimated value(s)"
        elif all(o is not None for o in onsets):
            settings = [[k * o[0] for o in onsets] for k in (1.0, 2.0, 3.0)]
            shown = "1x, 2x and 3x the switch onset (rows 2-4)"
        else:
            settings = [[m] * len(top) for m in (-4.0, 4.0)]
            shown = "-4 (middle) and +4 (bottom)"
        rows = [model.generate(z_show, labels_show)]
        for setting in settings:
            triggered = z_show
            for u, v in zip(top, setting, strict=True):
                triggered = set_unit(triggered, int(u), v)
            rows.append(model.generate(triggered, labels_show))
        images = {f"clean (top) vs {unit_word}(s) {units_text} at {shown}": grid_data_uri(rows)}
        if values is not None:
            value_text = "output collapses from " + ", ".join(f"{v:+.2f}" for v in values)
        elif all(o is not None for o in onsets):
            value_text = (f"value not measured; {'its' if len(top) == 1 else 'their'} own first-layer features switch "
                          "on from "
                          + ", ".join(f"{o[0]:+.2f}" for o in onsets) + ", the trigger lies beyond")
        else:
            value_text = "value not measured"
        one = len(top) == 1
        finding = Finding(
            self.name, "TRIG-WEIGHT-001", severity, min(1.0, gap / 50.0),
            f"latent {unit_word}{'' if one else 's'} {units_text} {'looks' if one else 'look'} like a planted trigger "
            f"({value_text}): first-layer weight {gap:.1f} robust SDs clear of every other unit's (medium from "
            f"{medium:.1f}, high from {high:.1f}), yet no more than usual effect in the prior's range (effect z "
            f"{effect_z[top].max():.1f})", evidence)
        return self._result(finding, metrics, images)

    def _estimate_values(self, model, ctx: ProbeContext, units: np.ndarray) -> tuple[list[float] | None, dict]:
        """Per flagged unit, the smallest |value| that collapses the output to one image (diversity below the
        noise scan's critical bar), if any; else None: a class-subset switch has no such mark in pixel space
        (measured: neither the side nor the value of the fixture's and zoo's class-subset triggers shows in
        output change, diversity or realism), so the value is left to --classifier's class-mix scan."""
        p, rng = self.params, ctx.rng
        if len(units) > 1:
            return None, {"note": "several units: each alone is not the trigger, and their joint values are "
                                  "trigger.latent_reverse's to recover"}
        samples = scaled_count(p.value_samples, ctx.preset, 8)
        z = model.sample_latents(rng, samples)
        labels = model.sample_labels(rng, samples)
        stats = unit_statistics(model, z, labels, np.asarray(units), p.value_magnitudes, p.reference)
        order = np.argsort(np.abs(stats.values), kind="stable")
        values = []
        for i, unit in enumerate(units):
            collapsed = [float(stats.values[k]) for k in order
                         if stats.collapse[i, k] < calibration.LATENT_COLLAPSE_CRITICAL]
            values.append(None if not collapsed else
                          self._collapse_onset(model, z, labels, int(unit), collapsed[0], p.value_magnitudes))
        evidence = {"latents": samples, "collapse_below": calibration.LATENT_COLLAPSE_CRITICAL,
                    "lowest_diversity": [round(float(stats.collapse[i].min()), 3) for i in range(len(units))]}
        if any(v is None for v in values):
            return None, evidence | {"note": "no value of the grid collapses the output: the unit is named, the "
                                             "value is not (a class-subset switch, or a trigger of several units)"}
        return values, evidence | {"note": "the smallest |value| at which the output collapses to one image (the "
                                           "grid's first, bisected towards the grid point below it): the onset of "
                                           "the trigger region, at or somewhat inside the planted value"}

    @staticmethod
    def _collapse_onset(model, z: np.ndarray, labels, unit: int, first: float, magnitudes: tuple[float, ...],
                        steps: int = 4) -> float:
        """The smallest |value| on ``first``'s side at which the output collapses, bisected between the grid
        magnitude below ``first`` (or 0) and ``first``: the grid's steps are ~1.4x apart, the onset of a switch is
        sharp (a fixed-image backdoor goes from no collapse to full collapse within 0.7-0.9x of its planted
        value: bench/data/latent-value-2026-11-23.md), so 4 halvings put it within ~3% of where it is."""
        below = max((m for m in magnitudes if m < abs(first)), default=0.0)
        low, high, sign = below, abs(first), float(np.sign(first))
        base = model.generate(set_unit(z, unit, 0.0), labels).astype(np.float64)
        base_diversity = max(float(base.reshape(len(z), -1).var(axis=0, ddof=1).mean()), 1e-12)
        for _ in range(steps):
            mid = (low + high) / 2
            out = model.generate(set_unit(z, unit, sign * mid), labels).astype(np.float64)
            collapse = float(out.reshape(len(z), -1).var(axis=0, ddof=1).mean()) / base_diversity
            low, high = (low, mid) if collapse < calibration.LATENT_COLLAPSE_CRITICAL else (mid, high)
        return sign * high

    def _result(self, finding: Finding, metrics: dict, images: dict | None = None) -> ProbeResult:
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, images=images or {})
