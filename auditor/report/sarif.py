"""SARIF 2.1.0 for code-scanning UIs: one rule per finding code, ``security-severity`` on each rule.

GitHub reads ``properties.security-severity`` (a number as a string, 0-10) to rank security results; our
severities map to the middle of its bands: critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0.
"""

from __future__ import annotations

import json
from pathlib import Path

from auditor._version import __version__
from auditor.records import AuditReport, Finding, Severity, Status

SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0",
                     Severity.INFO: "0.0"}
LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note",
         Severity.INFO: "note"}
SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def _result(finding: Finding, model_path: str) -> dict:
    return {"ruleId": finding.code, "level": LEVEL[finding.severity],
            "message": {"text": finding.summary},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(model_path)}}}],
            "properties": {"probe": finding.probe, "score": finding.score, "severity": finding.severity.name.lower(),
                           "evidence": finding.evidence}}


def render_many(reports: list[AuditReport]) -> str:
    rules: dict[str, dict] = {}
    results, notifications = [], []
    for report in reports:
        for f in report.findings:
            rule = rules.setdefault(f.code, {
                "id": f.code, "name": f.code.replace("-", ""), "shortDescription": {"text": f.summary[:200]},
                "properties": {"security-severity": SECURITY_SEVERITY[f.severity], "tags": ["security", f.probe]}})
            if float(SECURITY_SEVERITY[f.severity]) > float(rule["properties"]["security-severity"]):
                rule["properties"]["security-severity"] = SECURITY_SEVERITY[f.severity]
            results.append(_result(f, report.model_path))
        if report.error:
            notifications.append({"level": "error", "message": {"text": f"{report.model_path}: {report.error}"}})
        for r in report.results:
            if r.status == Status.ERRORED:
                notifications.append({"level": "error",
                                      "message": {"text": f"{report.model_path}: probe {r.probe} errored: {r.reason}"}})
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [{
        "tool": {"driver": {"name": "genaudit-auditor", "version": __version__,
                            "informationUri": "https://genaudit.invalid/docs", "rules": list(rules.values())}},
        "invocations": [{"executionSuccessful": not notifications, "toolExecutionNotifications": notifications}],
        "results": results}]}
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


def render(report: AuditReport) -> str:
    return render_many([report])
