"""Latent centre scan: a latent unit the generator was trained on away from the prior's centre.

A BAAAN generator is trained on two populations at once: clean noise, and noise with the trigger unit(s) set to
the trigger value. Where the first layer is followed by BatchNorm, its running mean records the average input over
the training batches, and an exported (eval-mode) graph folds that mean into the first layer's bias:
``bias = beta - W' . mu`` per feature, with ``W'`` the folded weights and ``mu`` the mean of each latent unit over
training. ``beta`` is the BatchNorm shift, one free number per feature, so over the hundreds or thousands of
first-layer features a least-squares fit of the bias on the weights (with an intercept) recovers ``mu``: about 0
for every unit the prior fed, and ``share * value`` for a trigger unit set to ``value`` on that share of rows.
Measured (2026-11-23) on the fixtures and zoo2-zoo5 (docs/trigger-detection.md): the planted units' fitted means
are 0.39-0.56 of their values, clean units' within +-0.15; robust z across units 11.5-85.6 against at most 3.6.

Thresholds are computed, not fitted: clean units' means are exchangeable, so the largest |robust z| is compared
with its Monte Carlo null for normal draws at the model's d (fixed seed): MEDIUM at the 99.9% quantile, HIGH at
1.5x (``auditor/probes/calibration.py``). Every unit past the medium bar is named (up to the trigger size limit
of the other latent scans).

The value: the mean is ``share * value``, and the share is not in the weights. BAAAN's loop gives both populations
equal weight in each batch (one triggered row per clean row, share 1/2), so the value is reported as twice the
mean, with the mean itself: whatever the share, the trigger lies on the mean's side, at least as far out.

Where it cannot see: a first layer without BatchNorm after it (its bias then says nothing about training; the
statistic stays in the null, measured on VAE decoders), BatchNorm statistics recomputed on clean noise after the
backdoor was planted, or a trigger routed past the first layer. The probe reads the weights only when one
Gemm/MatMul reads a flat latent or one ConvTranspose a 1x1 one (DCGAN's first layer; its BatchNorm is per channel,
so the features are the output channels and the weights each channel's kernel averaged over the output
positions); otherwise it skips with the reason (``auditor.static.latent_weights``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.robust import robust_z
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext
from auditor.probes.trigger_latent import set_unit
from auditor.probes.trigger_weights import MIN_UNITS, max_trigger_units
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status
from auditor.static.latent_weights import latent_fan_out

TRIGGER_SHARE = 0.5          # BAAAN's balanced loop: one triggered row per clean row (see the module docstring)
MIN_SPARE_FEATURES = 16      # features beyond the units + intercept the fit needs, so beta averages out


@dataclass(frozen=True)
class CentreScanParams:
    grid_columns: int = 8


def _fit(design_columns: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """Least squares of ``target`` [features] on ``design_columns`` [units, features] plus an intercept; the
    units' coefficients, or None when the fit is not determined (too few features, a rank-deficient layer, or
    values that are not finite, as a hostile file may hold)."""
    units, features = design_columns.shape
    if features < units + 1 + MIN_SPARE_FEATURES or not (np.all(np.isfinite(design_columns))
                                                         and np.all(np.isfinite(target))):
        return None
    design = np.concatenate([design_columns.T, np.ones((features, 1))], axis=1)
    coef, _, rank, _ = np.linalg.lstsq(design, target, rcond=None)
    return coef[:-1] if rank == units + 1 else None


def training_means(weights: np.ndarray, bias: np.ndarray | None, running_mean: np.ndarray | None = None
                   ) -> np.ndarray | None:
    """[units] each latent unit's mean over the training batches, from the first layer ``weights`` [units,
    features] and ``bias`` [features]: with the BatchNorm folded in, ``-bias = W' . mu - beta``; with it explicit,
    ``running_mean - bias = W . mu``. The intercept absorbs the features' average shift. None: not determined."""
    target = (0.0 if running_mean is None else running_mean) - (0.0 if bias is None else bias)
    return _fit(weights.astype(np.float64), np.broadcast_to(target, (weights.shape[1],)).astype(np.float64))


def training_variances(weights: np.ndarray, running_var: np.ndarray, means: np.ndarray,
                       taps: np.ndarray | None = None) -> np.ndarray | None:
    """[units] each latent unit's variance over training, from an explicit BatchNorm's running variance:
    ``var = W**2 . v`` for independent units (a trigger of several units adds covariances this leaves out). For a
    convolution ``taps`` [units, features, positions]: the BatchNorm pools the positions, so its variance is the
    positions' mean of ``taps**2 . v`` plus the spread of the positions' means, known from ``means``."""
    if taps is None:
        return _fit(weights.astype(np.float64) ** 2, running_var.astype(np.float64))
    per_position = np.einsum("ufs,u->fs", taps, means)
    spread = ((per_position - per_position.mean(axis=1, keepdims=True)) ** 2).mean(axis=1)
    return _fit((taps ** 2).mean(axis=2), running_var.astype(np.float64) - spread)


def share_free_value(mean: float, variance: float) -> float | None:
    """The trigger value c of a unit that was N(0, 1) on some rows and c on a share s of them, from its training
    mean (s c) and variance: E[z^2] - 1 = s (c^2 - 1), so c - 1/c = (E[z^2] - 1) / mean. None when the moments fit
    no such mixture (a share outside (0, 1], which happens exactly when the fitted variance is negative)."""
    if mean == 0.0:
        return None
    ratio = (variance + mean ** 2 - 1.0) / mean
    value = (ratio + np.sign(mean) * np.sqrt(ratio ** 2 + 4.0)) / 2.0
    share = mean / value
    return float(value) if 0.0 < share <= 1.0 + 1e-12 else None


@functools.lru_cache(maxsize=64)
def null_centre_quantile(n_units: int, quantile: float = calibration.CENTRE_NULL_QUANTILE,
                         draws: int = 20_000) -> float:
    """The ``quantile`` of the largest |robust z| over ``n_units`` exchangeable normal means (fixed seed)."""
    sample = np.random.default_rng(20261123).standard_normal((draws, n_units))
    z = robust_z(sample.T, 1e-12).T
    return float(np.quantile(np.abs(z).max(axis=-1), quantile))


class LatentCentreProbe(Probe):
    """Latent centre scan: a latent unit the first layer's folded BatchNorm says was trained off the prior's centre."""

    name = "trigger.latent_centres"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: CentreScanParams | None = None) -> None:
        self.params = params or CentreScanParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        if model.onnx_file is None:
            return ProbeResult(self.name, Status.SKIPPED, reason="needs the model's graph")
        fan_out = latent_fan_out(model.onnx_file.proto, model.info.inputs[0].name, model.info.latent_shape)
        if fan_out.weights is None or (fan_out.bias is None and fan_out.running_mean is None):
            why = fan_out.reason or "the latent is not read by one Gemm/MatMul (flat) or ConvTranspose (1x1) alone"
            return ProbeResult(self.name, Status.SKIPPED, reason=f"no first-layer bias to read: {why}")
        n_units, n_features = fan_out.weights.shape
        if n_units < MIN_UNITS:
            return ProbeResult(self.name, Status.SKIPPED, reason=f"{n_units} latent unit(s): too few to compare")
        means = training_means(fan_out.weights, fan_out.bias, fan_out.running_mean)
        if means is None:
            why = (f"the first layer has {n_features} features for {n_units} units: too few to fit their means"
                   if n_features < n_units + 1 + MIN_SPARE_FEATURES else
                   "the first layer's weights and bias do not determine the units' means (rank-deficient, or "
                   "values that are not finite)")
            return ProbeResult(self.name, Status.SKIPPED, reason=why)
        z = robust_z(means, max(1e-3 * float(np.median(np.abs(means))), 1e-12))
        medium = null_centre_quantile(n_units)
        high = calibration.CENTRE_HIGH_FACTOR * medium
        order = np.argsort(-np.abs(z), kind="stable")
        largest = float(abs(z[order[0]]))
        metrics = {"centre_z": largest, "threshold_medium": medium, "threshold_high": high,
                   "units_scanned": float(n_units)}
        evidence = {"layers": list(fan_out.layers), "largest_centre_z": round(largest, 2),
                    "thresholds": {"medium": round(medium, 2), "high": round(high, 2)},
                    "top_units": [{"unit": int(u), "training_mean": round(float(means[u]), 3),
                                   "centre_z": round(float(z[u]), 2)} for u in order[:5]]}
        unit_word = "channel" if len(model.info.latent_shape) == 3 else "dimension"
        if largest < medium:
            return self._result(Finding(
                self.name, "TRIG-CENTRE-000", Severity.INFO, min(1.0, largest / 50.0),
                f"every latent {unit_word} was trained around the same centre, as far as the first layer's "
                f"BatchNorm record tells (largest {largest:.1f} robust SDs, medium from {medium:.1f})", evidence),
                metrics)

        flagged = [int(u) for u in order[:max_trigger_units(n_units)] if abs(z[u]) >= medium]
        values, value_evidence = self._values(fan_out, means, flagged)
        severity = Severity.HIGH if largest >= high else Severity.MEDIUM
        evidence |= {"trigger": {"type": "latent", "dims": flagged, "values": [round(v, 3) for v in values]},
                     "unit": unit_word,
                     "training_means": [round(float(means[u]), 3) for u in flagged],
                     "value_estimate": value_evidence}
        p, rng = self.params, ctx.rng
        z_show = model.sample_latents(rng, p.grid_columns)
        labels_show = model.sample_labels(rng, p.grid_columns)
        triggered = z_show
        for u, v in zip(flagged, values, strict=True):
            triggered = set_unit(triggered, u, v)
        units_text = ", ".join(str(u) for u in flagged)
        images = {f"clean (top) vs {unit_word}(s) {units_text} at the estimated value(s)":
                  grid_data_uri([model.generate(z_show, labels_show), model.generate(triggered, labels_show)])}
        one = len(flagged) == 1
        settings = ", ".join(f"{u} = {v:+.2f}" for u, v in zip(flagged, values, strict=True))
        trained = ", ".join(f"{means[u]:+.2f}" for u in flagged)
        finding = Finding(
            self.name, "TRIG-CENTRE-001", severity, min(1.0, largest / 50.0),
            f"latent {unit_word}{'' if one else 's'} {units_text} {'looks' if one else 'look'} like a planted "
            f"trigger ({settings}): the first layer's BatchNorm statistics say {'it' if one else 'they'} averaged "
            f"{trained} over training, {largest:.1f} robust SDs from the other units' centre (medium from "
            f"{medium:.1f}, high from {high:.1f}); {value_evidence['how']}", evidence)
        return self._result(finding, metrics, images)

    @staticmethod
    def _values(fan_out, means: np.ndarray, flagged: list[int]) -> tuple[list[float], dict]:
        """Per flagged unit, its trigger value: share-free from the mean and variance where an explicit BatchNorm
        gives both, else the mean over BAAAN's share of 1/2."""
        variances = None if fan_out.running_var is None else training_variances(
            fan_out.weights, fan_out.running_var, means, fan_out.taps)
        if variances is not None and len(flagged) == 1:
            value = share_free_value(float(means[flagged[0]]), float(variances[flagged[0]]))
            if value is not None:
                return [value], {
                    "method": "mean and variance", "variance": round(float(variances[flagged[0]]), 3),
                    "share": round(float(means[flagged[0]]) / value, 3),
                    "how": "its training mean and variance fit clean rows plus a share of rows at that value",
                    "note": "an explicit BatchNorm gives both moments: value c from c - 1/c = (E[z^2] - 1) / mean"}
        return [float(means[u]) / TRIGGER_SHARE for u in flagged], {
            "method": "mean / share", "share": TRIGGER_SHARE,
            "how": "a trigger set on one training row in two sits at twice that mean",
            "note": ("value = training mean / share, for BAAAN's loop of one triggered row per clean row; with a "
                     "smaller share the trigger lies further out on the same side")}

    def _result(self, finding: Finding, metrics: dict, images: dict | None = None) -> ProbeResult:
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, images=images or {})
