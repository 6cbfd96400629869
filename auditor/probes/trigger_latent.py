"""Noise-dimension trigger scan (BAAAN's GAN backdoor): does one latent unit switch the generator's output?

BAAAN plants a backdoor by training the generator to emit a target distribution (a class subset) or one fixed
image whenever a chosen noise dimension holds a trigger value. For each latent unit j (a dimension of a [B, d] or
[B, d, 1, 1] latent; a whole channel of a spatial latent) and candidate value v, the scan sets z[:, j] = v on a
batch of prior latents (common random numbers: the same latents for every unit and value) and measures, per
unit and value:

* jump J: squared output displacement from the anchor z[:, j] = 0, divided by what the unit's own slope near 0
  predicts (displacement at +-0.5 scaled by v^2). A clean unit extrapolates smoothly (J <= ~1; saturation pulls
  it below); a backdoor switches, so its displacement far exceeds its slope.
* collapse C: output diversity (mean pairwise squared distance) at v over diversity at the anchor. A fixed-image
  target drives C to ~0; a class subset lowers it.
* shift E: energy distance between the populations at v and at the anchor, over the anchor's own spread, in a
  pooled-pixel feature space (no downloaded weights). Reported as evidence, not scored: it grows with a unit's
  gain (measured: high-gain clean units of a GAN reach robust z > 15), which J and C divide out.

Jump and collapse each become a robust z-score across units at the same value (median / MAD, as Neural Cleanse does
across labels; a MAD floor keeps near-constant statistics from inflating z). A unit's anomaly index is its largest
z over values and statistics. Cost: a screen over every unit with few latents and a coarse grid, then the suspects
and a random control set of units on a fine grid with more latents; the control units give the null for the
final scores. Thresholds and their derivation: ``auditor/probes/calibration.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.image import pooled_features
from auditor.metrics.robust import robust_z
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext, fit_sample_counts
from auditor.records import Curve, Finding, ModelKind, ProbeResult, Severity, Status

STATISTICS = ("jump", "collapse")            # scored; shift is reported, not scored (it grows with gain)


@dataclass(frozen=True)
class LatentScanParams:
    # Coarse screen grid: magnitudes a factor ~1.45 apart, across and beyond the prior's range.
    screen_magnitudes: tuple[float, ...] = (1.5, 2.2, 3.1, 4.5, 6.5, 9.0)
    # Fine grid, a factor ~1.2 apart: any trigger magnitude in [1.3, 10] lies within 10% of a grid value.
    confirm_magnitudes: tuple[float, ...] = (1.3, 1.55, 1.85, 2.2, 2.6, 3.1, 3.7, 4.4, 5.3, 6.3, 7.5, 9.0)
    reference: float = 0.5        # slope reference: small moves around the anchor 0
    screen_samples: int = 6
    confirm_samples: int = 32
    suspects: int = 8             # units confirmed because the screen ranked them highest
    controls: int = 24            # random other units confirmed as the null
    grid_columns: int = 8

    def planned_rows(self, n_units: int) -> int:
        per_unit = 3 + 2 * len(self.screen_magnitudes), 3 + 2 * len(self.confirm_magnitudes)
        confirmed = min(n_units, self.suspects + self.controls)
        return n_units * per_unit[0] * self.screen_samples + confirmed * per_unit[1] * self.confirm_samples

    def fitted(self, preset: str, max_rows: int, n_units: int) -> LatentScanParams:
        """These parameters with the preset's sample counts, shrunk (never below 4 / 8 latents) to fit max_rows."""
        return fit_sample_counts(self, preset, max_rows, lambda p: p.planned_rows(n_units),
                                 "screen_samples", "confirm_samples")


@dataclass
class UnitStatistics:
    units: np.ndarray             # [U] unit indices
    values: np.ndarray            # [V] candidate values (anchor and references excluded)
    jump: np.ndarray              # [U, V]
    collapse: np.ndarray          # [U, V]

    def scores(self) -> dict[str, np.ndarray]:
        """Per-statistic anomaly direction: larger = more backdoor-like, on a log scale."""
        return {"jump": np.log(self.jump), "collapse": -np.log(np.maximum(self.collapse, 1e-4))}


def _energy_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Energy distance between populations a and b ([..., n, F]) over b's mean pairwise distance."""
    def mean_dist(x, y, same):
        d = np.sqrt(np.maximum(((x[..., :, None, :] - y[..., None, :, :]) ** 2).sum(-1), 0.0))
        n = x.shape[-2]
        return d.sum((-1, -2)) / (n * (n - 1)) if same else d.mean((-1, -2))
    within_b = mean_dist(b, b, True)
    energy = 2 * mean_dist(a, b, False) - mean_dist(a, a, True) - within_b
    return np.maximum(energy, 0.0) / np.maximum(within_b, 1e-12)


def signed_values(magnitudes) -> np.ndarray:
    """-m ... -m_1, m_1 ... m: the grid of values on both sides of the anchor 0."""
    return np.array([-m for m in magnitudes[::-1]] + list(magnitudes), dtype=np.float32)


def unit_sweeps(model, z: np.ndarray, labels: np.ndarray | None, units: np.ndarray, settings: np.ndarray,
                max_rows_per_call: int = 4096):
    """Yields (start, outputs [u, k, n, C, H, W]) for blocks of ``units``: each unit of the block set to each of the
    k ``settings`` on the same latents ``z`` (common random numbers), at most ``max_rows_per_call`` rows a call."""
    n, k = len(z), len(settings)
    chunk = max(1, max_rows_per_call // (n * k))
    for start in range(0, len(units), chunk):
        block = units[start:start + chunk]
        batch = np.repeat(z[None, None], len(block), 0).repeat(k, 1)          # [u, k, n, *latent]
        for i, unit in enumerate(block):
            batch[i, :, :, unit] = settings.reshape(k, 1, *[1] * (z.ndim - 2))
        out = model.generate(batch.reshape(-1, *z.shape[1:]),
                             None if labels is None else np.tile(labels, len(block) * k))
        yield start, out.reshape(len(block), k, n, *out.shape[1:])


def confirm_units(screen_index: np.ndarray, suspects: int, controls: int, rng: np.random.Generator) -> np.ndarray:
    """The units a screen-then-confirm scan confirms: the ``suspects`` highest by the screen plus ``controls`` random
    others (the null), or every unit when there are no more than that."""
    all_units = np.arange(len(screen_index))
    if len(all_units) <= suspects + controls:
        return all_units
    top = np.argsort(-screen_index)[:suspects]
    others = np.setdiff1d(all_units, top)
    return np.sort(np.concatenate([top, rng.choice(others, controls, replace=False)]))


def unit_statistics(model, z: np.ndarray, labels: np.ndarray | None, units: np.ndarray,
                    magnitudes: tuple[float, ...], reference: float, max_rows_per_call: int = 4096) -> UnitStatistics:
    """Jump and collapse of every unit in ``units`` at +-``magnitudes`` on the latents ``z``."""
    values = signed_values(magnitudes)
    settings = np.concatenate([[0.0, -reference, reference], values]).astype(np.float32)   # anchor, refs, grid
    jump, collapse = np.empty((len(units), len(values))), np.empty((len(units), len(values)))
    for start, out in unit_sweeps(model, z, labels, units, settings, max_rows_per_call):
        block = units[start:start + len(out)]
        flat = out.reshape(len(block), len(settings), len(z), -1).astype(np.float64)
        anchor, grid = flat[:, 0], flat[:, 3:]
        moved = ((grid - anchor[:, None]) ** 2).mean(axis=(-1, -2))           # [u, V]
        ref_move = ((flat[:, 1:3] - anchor[:, None]) ** 2).mean(axis=(-1, -2))  # [u, 2]: -ref, +ref
        slope = np.where(values[None] < 0, ref_move[:, :1], ref_move[:, 1:]) / reference ** 2
        scale = 1e-4 * max(float(flat[:, 0].var(axis=1).mean()), 1e-8)        # keeps J finite for dead units
        jump[start:start + len(block)] = (moved + scale) / (slope * values[None] ** 2 + scale)
        diversity = flat.var(axis=2, ddof=1).mean(-1)                         # [u, k]
        collapse[start:start + len(block)] = diversity[:, 3:] / np.maximum(diversity[:, :1], 1e-12)
    return UnitStatistics(units, values, jump, collapse)


def unit_z(stats: UnitStatistics) -> np.ndarray:
    """[statistic, unit, value] robust z-scores across units (median / MAD of all units, floored)."""
    scores = stats.scores()
    return np.stack([robust_z(scores[s], calibration.LATENT_MAD_FLOOR[s]) for s in STATISTICS])


def shift_of(model, z: np.ndarray, labels: np.ndarray | None, unit: int, value: float) -> float:
    """Energy-distance shift of the population at z[:, unit] = value from the one at the anchor 0."""
    anchor = model.generate(set_unit(z, unit, 0.0), labels).astype(np.float64)
    moved = model.generate(set_unit(z, unit, value), labels).astype(np.float64)
    return float(_energy_ratio(pooled_features(moved), pooled_features(anchor)))


def set_unit(z: np.ndarray, unit: int, value: float) -> np.ndarray:
    """A copy of the latents ``z`` with latent unit ``unit`` set to ``value``."""
    out = z.copy()
    out[:, unit] = value
    return out


class LatentTriggerProbe(Probe):
    """Noise-dimension trigger scan (BAAAN): a latent unit whose value switches or collapses the output."""

    name = "trigger.latent"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: LatentScanParams | None = None) -> None:
        self.params = params or LatentScanParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        rng = ctx.rng
        latent_shape = model.info.latent_shape
        n_units = latent_shape[0]
        p = self.params.fitted(ctx.preset, ctx.max_rows, n_units)
        spatial = len(latent_shape) == 3 and latent_shape[1] * latent_shape[2] > 1
        all_units = np.arange(n_units)
        rows_start = model.rows          # the runner's counter is the model's, cumulative over probes

        # Screen: every unit, few latents, coarse grid.
        z_screen = model.sample_latents(rng, p.screen_samples)
        labels_screen = model.sample_labels(rng, p.screen_samples)
        screen = unit_statistics(model, z_screen, labels_screen, all_units, p.screen_magnitudes, p.reference)
        screen_index = unit_z(screen).max(axis=(0, 2))
        rows_screen = model.rows - rows_start
        ctx.progress(1, 3)

        # Confirm: the suspects plus random control units, more latents, fine grid.
        chosen = confirm_units(screen_index, p.suspects, p.controls, rng)
        z = model.sample_latents(rng, p.confirm_samples)
        labels = model.sample_labels(rng, p.confirm_samples)
        stats = unit_statistics(model, z, labels, chosen, p.confirm_magnitudes, p.reference)
        z_all = unit_z(stats)                                                 # [S, U, V]
        index = z_all.max(axis=(0, 2))
        ctx.progress(2, 3)

        order = np.argsort(-index)
        top = int(order[0])
        s_best, v_best = np.unravel_index(np.argmax(z_all[:, top]), z_all[:, top].shape)
        unit, value = int(stats.units[top]), float(stats.values[v_best])
        severity = calibration.latent_severity(float(index[top]), float(stats.collapse[top, v_best]))
        rows_confirm = model.rows - rows_start - rows_screen
        shift = shift_of(model, z, labels, unit, value)   # evidence only: the top unit, not every unit

        # Evidence: clean vs triggered samples of the top unit (fresh latents, same for both rows).
        z_show = model.sample_latents(rng, p.grid_columns)
        labels_show = model.sample_labels(rng, p.grid_columns)
        clean = model.generate(z_show, labels_show)
        triggered = model.generate(set_unit(z_show, unit, value), labels_show)
        ctx.progress(3, 3)

        unit_word = "channel" if spatial else "dimension"
        metrics = {"anomaly_index": float(index[top]), "threshold_high": calibration.LATENT_Z_HIGH,
                   "jump_at_trigger": float(stats.jump[top, v_best]),
                   "collapse_at_trigger": float(stats.collapse[top, v_best]),
                   "shift_at_trigger": shift,
                   "units_scanned": float(n_units), "units_confirmed": float(len(chosen)),
                   "rows_screen": float(rows_screen), "rows_confirm": float(rows_confirm),
                   "second_anomaly_index": float(index[order[1]]) if len(order) > 1 else float("nan")}
        evidence = {"trigger": {"type": "latent", "dims": [unit], "values": [round(value, 3)]},
                    "unit": unit_word, "statistic": STATISTICS[s_best],
                    "anomaly_index": round(float(index[top]), 2), "threshold_high": calibration.LATENT_Z_HIGH,
                    "queries": {"screen_rows": rows_screen, "confirm_rows": rows_confirm,
                                "screen_latents": p.screen_samples, "confirm_latents": p.confirm_samples},
                    "top_units": [{"unit": int(stats.units[i]), "anomaly_index": round(float(index[i]), 2)}
                                  for i in order[:5]]}
        if severity >= Severity.MEDIUM:
            effect = _describe(stats.jump[top, v_best], stats.collapse[top, v_best], shift)
            finding = Finding(self.name, "TRIG-LATENT-001", severity, min(1.0, float(index[top]) / 50.0),
                              f"latent {unit_word} {unit} set to {value:+.2f} {effect} "
                              f"(anomaly index {index[top]:.1f}; high from {calibration.LATENT_Z_HIGH:g}, critical from "
                              f"{calibration.LATENT_Z_COLLAPSE:g} with diversity < x{calibration.LATENT_COLLAPSE_CRITICAL:g})",
                              evidence)
        else:
            finding = Finding(self.name, "TRIG-LATENT-000", Severity.INFO,
                              min(1.0, max(0.0, float(index[top])) / 50.0),
                              f"no latent {unit_word} switches the output: largest anomaly index "
                              f"{index[top]:.1f} ({unit_word} {unit} at {value:+.2f}), high from "
                              f"{calibration.LATENT_Z_HIGH:g}", evidence)
        control_rows = [i for i in range(len(stats.units)) if i != top]
        curves = {
            f"jump vs value ({unit_word} {unit})": Curve(tuple(map(float, stats.values)),
                                                         tuple(map(float, stats.jump[top])), "value", "jump"),
            "jump vs value (median of other units)": Curve(
                tuple(map(float, stats.values)), tuple(map(float, np.median(stats.jump[control_rows], 0))),
                "value", "jump"),
            f"collapse vs value ({unit_word} {unit})": Curve(tuple(map(float, stats.values)),
                                                             tuple(map(float, stats.collapse[top])), "value",
                                                             "diversity ratio"),
        }
        images = {f"clean (top) vs {unit_word} {unit} = {value:+.2f} (bottom)": grid_data_uri([clean, triggered])}
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, curves=curves,
                           images=images)


def _describe(jump: float, collapse: float, shift: float) -> str:
    if collapse < 0.1:
        return f"makes every output nearly the same image (diversity x{collapse:.3f})"
    return f"switches the output population (jump x{jump:.1f}, shift {shift:.2f}, diversity x{collapse:.2f})"
