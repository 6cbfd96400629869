"""Severity rules of the trigger scans: monotone in the evidence, and never high without an anomaly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from auditor.probes import calibration as cal
from auditor.records import Severity

index = st.floats(-50, 200, allow_nan=False)
unit = st.floats(0, 1, allow_nan=False)
ratio = st.floats(0, 5, allow_nan=False)


@given(index, index, ratio)
def test_latent_severity_is_monotone_in_the_index(a, b, collapse):
    low, high = sorted((a, b))
    assert cal.latent_severity(low, collapse) <= cal.latent_severity(high, collapse)


@given(index, index, ratio, ratio)
def test_latent_severity_is_monotone_in_the_collapse(a, b, c1, c2):
    """More collapse (a lower diversity ratio) never lowers the severity."""
    low, high = sorted((c1, c2))
    assert cal.latent_severity(a, low) >= cal.latent_severity(a, high)


@given(index, ratio)
def test_latent_severity_rules(anomaly, collapse):
    """HIGH or above needs the index alone at LATENT_Z_HIGH, or a ten-fold collapse with the lower index; CRITICAL
    always needs the collapse; nothing below LATENT_Z_COLLAPSE is ever flagged."""
    severity = cal.latent_severity(anomaly, collapse)
    collapsed = collapse < cal.LATENT_COLLAPSE_CRITICAL
    assert (severity >= Severity.HIGH) == (anomaly >= cal.LATENT_Z_HIGH or
                                           (collapsed and anomaly >= cal.LATENT_Z_COLLAPSE))
    assert (severity == Severity.CRITICAL) == (collapsed and anomaly >= cal.LATENT_Z_COLLAPSE)
    if anomaly < cal.LATENT_Z_COLLAPSE:
        assert severity == Severity.INFO


@given(index, ratio, ratio, unit)
def test_patch_severity_needs_an_outlying_square(anomaly, change, collapse, inversion):
    """Below the inversion rule's index nothing is flagged, whatever the statistics."""
    severity = cal.patch_severity(anomaly, change, collapse, inversion)
    if anomaly < cal.PATCH_INVERSION_Z_MIN:
        assert severity == Severity.INFO
    if severity == Severity.CRITICAL:
        assert bool(cal.patch_switched(collapse, inversion))


@given(index, index, ratio, ratio, unit)
def test_patch_severity_is_monotone_in_the_index(a, b, change, collapse, inversion):
    low, high = sorted((a, b))
    assert cal.patch_severity(low, change, collapse, inversion) <= cal.patch_severity(high, change, collapse, inversion)


def test_patch_rules_at_their_thresholds():
    assert cal.patch_severity(cal.PATCH_INVERSION_Z_MIN, 1.0, 1.0, 0.5) == Severity.CRITICAL
    assert cal.patch_severity(cal.PATCH_Z_HIGH - 0.01, 1.0, 0.01, 0.0) == Severity.INFO    # collapse needs z >= 10
    assert cal.patch_severity(cal.PATCH_Z_HIGH, 1.0, 0.19, 0.0) == Severity.CRITICAL
    assert cal.patch_severity(cal.PATCH_Z_HIGH, 3.5, 0.5, 0.0) == Severity.MEDIUM
    assert cal.patch_severity(cal.PATCH_Z_HIGH, 2.0, 0.5, 0.0) == Severity.INFO
