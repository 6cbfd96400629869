"""Records: JSON round trips, JSON safety, and validation of scores and curves."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings

from auditor.records import AuditReport, Curve, Finding, ProbeResult, Severity, Status
from tests.strategies import findings, probe_results, reports


@given(findings)
def test_finding_round_trip(finding):
    """Finding -> dict -> Finding is the identity."""
    assert Finding.from_dict(finding.to_dict()) == finding


@settings(max_examples=60, deadline=None)
@given(reports)
def test_report_round_trip_through_json_text(report):
    """A report survives serialisation to strict JSON text and back."""
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert AuditReport.from_dict(json.loads(text)).to_dict() == report.to_dict()


@given(probe_results)
def test_probe_result_is_json_safe(result):
    """Every ProbeResult serialises to strict JSON (no NaN/Inf tokens)."""
    json.dumps(result.to_dict(), allow_nan=False)


def test_non_finite_metrics_become_null():
    """NaN and Inf metrics are stored as null, since JSON cannot carry them."""
    r = ProbeResult("p", Status.COMPLETED, metrics={"a": math.nan, "b": math.inf, "c": 1.0},
                    curves={"k": Curve((0.0, 1.0), (math.nan, 2.0), "x", "y")})
    d = r.to_dict()
    assert d["metrics"] == {"a": None, "b": None, "c": 1.0} and d["curves"]["k"]["y"] == [None, 2.0]


def test_score_outside_unit_interval_rejected():
    """A finding's score must lie in [0, 1]."""
    with pytest.raises(ValueError):
        Finding("p", "X-1", Severity.LOW, 1.5, "s")


def test_curve_lengths_must_match():
    """A curve with unequal x and y lengths is refused."""
    with pytest.raises(ValueError):
        Curve((0.0,), (), "x", "y")


def test_unknown_schema_version_refused():
    """from_dict refuses a report of another schema version."""
    with pytest.raises(ValueError, match="schema_version"):
        AuditReport.from_dict({"schema_version": 2})


def test_severity_parse():
    """Severity names parse case-insensitively; unknown names are a clear error."""
    assert Severity.parse("HIGH") is Severity.HIGH
    with pytest.raises(ValueError, match="one of"):
        Severity.parse("severe")
