"""The canonical report form: JSON with a schema_version, validated by schema.json beside this file."""

from __future__ import annotations

import json
from importlib import resources

from auditor.records import AuditReport


def render(report: AuditReport) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"


def render_many(reports: list[AuditReport]) -> str:
    return json.dumps({"schema_version": reports[0].schema_version if reports else 1,
                       "reports": [r.to_dict() for r in reports]}, indent=2, allow_nan=False) + "\n"


def parse(text: str) -> AuditReport:
    """Reads a report written by ``render`` (for `auditor render`); raises ValueError on anything else."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError("not an auditor report (expected a JSON object)")
    try:
        return AuditReport.from_dict(doc)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not an auditor report (missing or bad field {exc})") from None


def schema() -> dict:
    return json.loads(resources.files("auditor.report").joinpath("schema.json").read_text())
