"""SARIF 2.1.0: rules carry security-severity, results point at the model, errors become notifications."""

from __future__ import annotations

import json

from auditor.records import AuditReport, Finding, ProbeResult, Severity, Status
from auditor.report.sarif import render, render_many


def _report(path="models/g.onnx", status=Status.COMPLETED):
    f = Finding("trigger.latent", "TRIG-LATENT-001", Severity.CRITICAL, 0.95, "backdoor",
                {"trigger": {"type": "latent", "dims": [99], "values": [3.0]}})
    return AuditReport("0.1", "t", path, {}, None, (Finding("static", "STATIC-DOMAIN-001", Severity.INFO, 0.1, "x"),),
                       (ProbeResult("trigger.latent", status, findings=(f,), reason="boom"),), None, 1)


def test_structure():
    """Version, rule ids, levels and security-severity are where code-scanning UIs look for them."""
    doc = json.loads(render(_report()))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["TRIG-LATENT-001"]["properties"]["security-severity"] == "9.5"
    result = next(r for r in run["results"] if r["ruleId"] == "TRIG-LATENT-001")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/g.onnx"
    assert result["properties"]["evidence"]["trigger"]["dims"] == [99]
    assert run["invocations"][0]["executionSuccessful"] is True


def test_errored_probe_is_a_notification():
    """An errored probe marks the run unsuccessful with an error notification."""
    doc = json.loads(render_many([_report(status=Status.ERRORED)]))
    inv = doc["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False and "errored" in inv["toolExecutionNotifications"][0]["message"]["text"]
