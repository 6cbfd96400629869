"""The exit code of a scan, from its report alone. Precedence: 3 (inconclusive) > 1 (risk) > 4 (nothing to
audit) > 0 (pass), so an incomplete audit can never pass a CI gate."""

from __future__ import annotations

from auditor.errors import ExitCode
from auditor.records import AuditReport, Severity, Status


def decide(report: AuditReport, fail_on: Severity) -> ExitCode:
    if report.error is not None or any(r.status == Status.ERRORED for r in report.results):
        return ExitCode.AUDIT_ERROR
    if any(f.severity >= fail_on for f in report.findings):
        return ExitCode.RISK
    if not any(r.status == Status.COMPLETED for r in report.results):
        return ExitCode.NOT_AUDITABLE
    return ExitCode.PASS


def worst(codes: list[ExitCode]) -> ExitCode:
    """The code for several reports at once, by the same precedence."""
    order = [ExitCode.AUDIT_ERROR, ExitCode.RISK, ExitCode.NOT_AUDITABLE, ExitCode.PASS]
    return next((c for c in order if c in codes), ExitCode.PASS)
