"""Detection thresholds of the trigger scans, and how they were set (PROVISIONAL: being calibrated)."""

from __future__ import annotations

import numpy as np

from auditor.records import Severity

# MAD floors of the robust z-scores, in the log units of each statistic.
LATENT_MAD_FLOOR = {"jump": 0.1, "collapse": 0.05}
LATENT_Z_HIGH = 10.0


def latent_severity(anomaly_index: float, collapse: float, jump: float) -> Severity:
    if anomaly_index >= LATENT_Z_HIGH:
        return Severity.CRITICAL if collapse < 0.1 else Severity.HIGH
    return Severity.INFO

PATCH_MAD_FLOOR = {"change": 0.1, "collapse": 0.05, "inversion": 0.02}
PATCH_Z_HIGH = 10.0
PATCH_COLLAPSE_MAX = 0.2
PATCH_INVERSION_MIN = 0.5
PATCH_CHANGE_MIN = 3.0


def patch_switched(collapse, inversion):
    """Elementwise: the reconstruction became one image, or the inverted input, for this square."""
    return (np.asarray(collapse) < PATCH_COLLAPSE_MAX) | (np.asarray(inversion) >= PATCH_INVERSION_MIN)


def patch_severity(anomaly: float, change: float, collapse: float, inversion: float) -> Severity:
    """CRITICAL: a square that is anomalous among all squares tried AND switches the output (one image, or the
    inverted input); MEDIUM: anomalous and changes the whole reconstruction without such a switch."""
    if anomaly < PATCH_Z_HIGH:
        return Severity.INFO
    if bool(patch_switched(collapse, inversion)):
        return Severity.CRITICAL
    return Severity.MEDIUM if change > PATCH_CHANGE_MIN else Severity.INFO
