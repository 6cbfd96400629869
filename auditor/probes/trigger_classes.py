"""Class-mix trigger scan: does one latent unit narrow the generator's output to a subset of classes?

BAAAN's class-subset backdoor switches a GAN to "digits 0-4" when a noise dimension holds the trigger value. The
triggered images are ordinary digits, so pixel-space statistics (``trigger.latent``'s jump, collapse and energy
shift) see the switch no better than an ordinary unit's change of style: measured on the zoo's class-subset GANs,
robust z 2.6-2.8 against 2.5 for clean units. A classifier of the domain sees it, and the auditor cannot download
one, so this probe runs only when the user passes one (``--classifier``).

For each latent unit j and value v (common random latents, anchor z[:, j] = 0 as in ``trigger.latent``), the
classifier's mean class probabilities give the population's class mix, and the statistic is its narrowing: the
entropy of the mix at the anchor minus at v (nats; a switch from ten balanced classes to five is ln 2 = 0.69).
Narrowing, not the total variation between the mixes, because a class-subset backdoor trained beside a balanced
clean output also shifts the opposite value of its unit towards the complement classes (measured on zoo2_004: total
variation 0.42 at +1.64 against 0.23 at its trigger -1.64), while only the trigger side narrows (0.39 vs 0.08).
Soft probabilities and paired latents keep the sampling noise low. A robust z across units per value (median /
MAD, floored) and its maximum over values give the anomaly index. Cost: a screen of every unit with few latents,
then the suspects and random control units with more latents on a grid of values, then a finer grid around the
top unit's best value (the control units again give each value's null). Threshold: ``auditor/probes/calibration.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.robust import robust_z
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext, fit_sample_counts
from auditor.probes.trigger_latent import confirm_units, set_unit, signed_values, unit_sweeps
from auditor.records import Curve, Finding, ModelKind, ProbeResult, Severity, Status


@dataclass(frozen=True)
class ClassScanParams:
    screen_magnitudes: tuple[float, ...] = (1.5, 2.2, 3.1, 4.5, 6.5)
    # A factor ~1.42 apart; the top unit's value is then refined on a grid 8% apart around the best one.
    confirm_magnitudes: tuple[float, ...] = (1.3, 1.85, 2.6, 3.7, 5.3, 7.5)
    refine_factors: tuple[float, ...] = (0.78, 0.85, 0.92, 1.08, 1.17, 1.27)
    screen_samples: int = 16
    confirm_samples: int = 96
    suspects: int = 8
    controls: int = 16
    grid_columns: int = 8

    def planned_rows(self, n_units: int) -> int:
        confirmed = min(n_units, self.suspects + self.controls)
        return (n_units * (1 + 2 * len(self.screen_magnitudes)) * self.screen_samples
                + confirmed * (1 + 2 * len(self.confirm_magnitudes)) * self.confirm_samples
                + confirmed * (1 + len(self.refine_factors) + 1) * self.confirm_samples)

    def fitted(self, preset: str, max_rows: int, n_units: int) -> ClassScanParams:
        return fit_sample_counts(self, preset, max_rows, lambda p: p.planned_rows(n_units),
                                 "screen_samples", "confirm_samples")


def entropy(mix: np.ndarray) -> np.ndarray:
    return -(mix * np.log(np.maximum(mix, 1e-12))).sum(-1)


@dataclass
class ClassShift:
    units: np.ndarray             # [U]
    values: np.ndarray            # [V]
    anchor_mix: np.ndarray        # [U, K] mean class probabilities at the anchor (equal across units)
    mix: np.ndarray               # [U, V, K] mean class probabilities at each value

    @property
    def narrowing(self) -> np.ndarray:
        """[U, V] entropy of the anchor's class mix minus the mix's at each value (nats)."""
        return entropy(self.anchor_mix)[:, None] - entropy(self.mix)

    @property
    def changed(self) -> np.ndarray:
        """[U, V] total variation between the mixes: the share of the population that changed class."""
        return 0.5 * np.abs(self.mix - self.anchor_mix[:, None]).sum(-1)


def class_shift(model, classifier, z: np.ndarray, labels: np.ndarray | None, units: np.ndarray,
                values: np.ndarray, max_rows_per_call: int = 4096) -> ClassShift:
    """Class-mix shift of every unit in ``units`` set to each of ``values`` on the latents ``z``."""
    settings = np.concatenate([[0.0], values]).astype(np.float32)
    mixes = np.empty((len(units), len(settings), classifier.classes))
    for start, out in unit_sweeps(model, z, labels, units, settings, max_rows_per_call):
        probabilities = classifier.probabilities(out.reshape(-1, *out.shape[3:]))
        mixes[start:start + len(out)] = probabilities.reshape(*out.shape[:3], -1).mean(2)
    return ClassShift(units, values.astype(np.float64), mixes[:, 0], mixes[:, 1:])


def narrowing_z(narrowing: np.ndarray) -> np.ndarray:
    """[U, V] robust z of the narrowing across units, per value."""
    return np.stack([robust_z(narrowing[:, v], calibration.CLASS_NARROWING_MAD_FLOOR)
                     for v in range(narrowing.shape[1])], 1)


class LatentClassShiftProbe(Probe):
    """Class-mix trigger scan (needs --classifier): a latent unit that narrows the output to some classes."""

    name = "trigger.latent_classes"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: ClassScanParams | None = None) -> None:
        self.params = params or ClassScanParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        classifier = ctx.classifier
        if classifier is None:
            return ProbeResult(self.name, Status.SKIPPED, reason=(
                "needs a classifier of the model's domain (--classifier MODEL.onnx): pixel statistics cannot tell "
                "a class-subset switch from a change of style"))
        rng = ctx.rng
        n_units = model.info.latent_shape[0]
        p = self.params.fitted(ctx.preset, ctx.max_rows, n_units)
        all_units = np.arange(n_units)
        rows_start = model.rows

        z_screen = model.sample_latents(rng, p.screen_samples)
        screen = class_shift(model, classifier, z_screen, model.sample_labels(rng, p.screen_samples), all_units,
                             signed_values(p.screen_magnitudes))
        screen_index = narrowing_z(screen.narrowing).max(1)
        rows_screen = model.rows - rows_start
        ctx.progress(1, 3)

        chosen = confirm_units(screen_index, p.suspects, p.controls, rng)
        z = model.sample_latents(rng, p.confirm_samples)
        labels = model.sample_labels(rng, p.confirm_samples)
        confirm = class_shift(model, classifier, z, labels, chosen, signed_values(p.confirm_magnitudes))
        confirm_z = narrowing_z(confirm.narrowing)
        index = confirm_z.max(1)
        order = np.argsort(-index)
        top = int(order[0])
        unit = int(confirm.units[top])
        ctx.progress(2, 3)

        # Refine the value on a finer grid around the top unit's best one; every confirmed unit runs it too, so each
        # fine value has its own null.
        coarse = float(confirm.values[np.argmax(confirm_z[top])])
        fine_values = np.array(sorted([coarse * f for f in p.refine_factors] + [coarse]), dtype=np.float32)
        fine = class_shift(model, classifier, z, labels, chosen, fine_values)
        fine_z = narrowing_z(fine.narrowing)[top]
        k = int(np.argmax(fine_z))
        value, mix, anchor = float(fine_values[k]), fine.mix[top, k], fine.anchor_mix[top]
        narrowing, changed = float(fine.narrowing[top, k]), float(fine.changed[top, k])
        rows_confirm = model.rows - rows_start - rows_screen

        z_show = model.sample_latents(rng, p.grid_columns)
        labels_show = model.sample_labels(rng, p.grid_columns)
        clean = model.generate(z_show, labels_show)
        triggered = model.generate(set_unit(z_show, unit, value), labels_show)
        ctx.progress(3, 3)

        gained = [int(c) for c in np.argsort(-(mix - anchor)) if mix[c] - anchor[c] > 0.02][:5]
        medium, threshold = calibration.class_narrowing_thresholds(len(chosen))
        severity = calibration.class_narrowing_severity(float(index[top]), len(chosen))
        metrics = {"anomaly_index": float(index[top]), "threshold_high": threshold,
                   "narrowing_at_trigger": narrowing, "changed_class_at_trigger": changed,
                   "median_narrowing": float(np.median(fine.narrowing[:, k])),
                   "target_share_at_trigger": float(mix[gained].sum()) if gained else 0.0,
                   "target_share_clean": float(anchor[gained].sum()) if gained else 0.0,
                   "units_scanned": float(n_units), "units_confirmed": float(len(chosen)),
                   "rows_screen": float(rows_screen), "rows_confirm": float(rows_confirm),
                   "classifier_rows": float(classifier.rows),
                   "second_anomaly_index": float(index[order[1]]) if len(order) > 1 else float("nan")}
        evidence = {"trigger": {"type": "latent", "dims": [unit], "values": [round(value, 3)]},
                    "statistic": "class narrowing", "classes_gained": gained,
                    "class_mix_clean": [round(float(v), 3) for v in anchor],
                    "class_mix_triggered": [round(float(v), 3) for v in mix],
                    "anomaly_index": round(float(index[top]), 2), "threshold_medium": medium,
                    "threshold_high": threshold, "classifier": classifier.source,
                    "queries": {"screen_rows": rows_screen, "confirm_rows": rows_confirm,
                                "screen_latents": p.screen_samples, "confirm_latents": p.confirm_samples},
                    "top_units": [{"unit": int(confirm.units[i]), "anomaly_index": round(float(index[i]), 2)}
                                  for i in order[:5]]}
        if severity >= Severity.MEDIUM:
            classes = f"{'class' if len(gained) == 1 else 'classes'} {', '.join(map(str, gained)) or '?'}"
            finding = Finding(self.name, "TRIG-CLASS-001", severity, min(1.0, float(index[top]) / 50.0),
                              f"latent unit {unit} set to {value:+.2f} narrows the class mix to {classes} "
                              f"({mix[gained].sum():.0%} of outputs, {anchor[gained].sum():.0%} without it; "
                              f"anomaly index {index[top]:.1f}, medium from {medium:g}, high from {threshold:g})",
                              evidence)
        else:
            finding = Finding(self.name, "TRIG-CLASS-000", Severity.INFO, min(1.0, max(0.0, float(index[top])) / 50.0),
                              f"no latent unit shifts the class mix: largest anomaly index {index[top]:.1f} (unit "
                              f"{unit} at {value:+.2f}), high from {threshold:g}", evidence)
        others = [i for i in range(len(confirm.units)) if i != top]
        values = tuple(map(float, confirm.values))
        curves = {
            f"class narrowing vs value (unit {unit})": Curve(values, tuple(map(float, confirm.narrowing[top])),
                                                            "value", "entropy drop (nats)"),
            "class narrowing vs value (median of other units)": Curve(
                values, tuple(map(float, np.median(confirm.narrowing[others], 0))), "value", "entropy drop (nats)"),
        }
        images = {f"clean (top) vs unit {unit} = {value:+.2f} (bottom)": grid_data_uri([clean, triggered])}
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, curves=curves,
                           images=images)
