"""Exit codes: one case per row of the README table, and the precedence 3 > 1 > 4 > 0 as a property."""

from __future__ import annotations

from hypothesis import given, strategies as st

from auditor.errors import ExitCode
from auditor.records import AuditReport, Finding, ProbeResult, Severity, Status
from auditor.verdict import decide, worst


def _report(statuses=(), severities=(), error=None, static=()):
    results = tuple(ProbeResult(f"p{i}", s, findings=tuple(Finding(f"p{i}", "X-Y-001", sev, 0.5, "s")
                                                            for sev in severities if s == Status.COMPLETED))
                    for i, s in enumerate(statuses))
    return AuditReport("0", "t", "m", {}, None, tuple(Finding("static", "S-1", s, 0.5, "s") for s in static),
                       results, error)


def test_pass():
    """All probes completed, nothing at or above the gate: 0."""
    assert decide(_report([Status.COMPLETED], [Severity.MEDIUM]), Severity.HIGH) == ExitCode.PASS


def test_risk():
    """A finding at the gate: 1."""
    assert decide(_report([Status.COMPLETED], [Severity.HIGH]), Severity.HIGH) == ExitCode.RISK


def test_errored_probe_is_inconclusive_even_with_risk():
    """An errored probe gives 3 even when another probe found high risk."""
    assert decide(_report([Status.COMPLETED, Status.ERRORED], [Severity.CRITICAL]), Severity.HIGH) == \
        ExitCode.AUDIT_ERROR


def test_load_error():
    """A model that could not be loaded: 3."""
    assert decide(_report(error="broken"), Severity.HIGH) == ExitCode.AUDIT_ERROR


def test_nothing_applies():
    """Only skipped probes: 4; a static finding at the gate still makes it 1."""
    assert decide(_report([Status.SKIPPED]), Severity.HIGH) == ExitCode.NOT_AUDITABLE
    assert decide(_report([Status.SKIPPED], static=[Severity.HIGH]), Severity.HIGH) == ExitCode.RISK


@given(st.lists(st.sampled_from(list(ExitCode)), min_size=1))
def test_worst_follows_precedence(codes):
    """worst() picks 3 over 1 over 4 over 0."""
    expected = next(c for c in (ExitCode.AUDIT_ERROR, ExitCode.RISK, ExitCode.NOT_AUDITABLE, ExitCode.PASS,
                                ExitCode.USAGE) if c in codes)
    assert worst(codes) == (expected if expected != ExitCode.USAGE else ExitCode.PASS)
