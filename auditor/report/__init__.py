"""Renderers: one record, several views. JSON is canonical; HTML, SARIF and text are views of the same dict."""

from __future__ import annotations

from pathlib import Path

from auditor.records import AuditReport
from auditor.report import html, json_report, sarif, text

FORMATS = {"text": text.render_many, "json": json_report.render_many, "html": html.render_many,
           "sarif": sarif.render_many}
SINGLE = {"text": text.render, "json": json_report.render, "html": html.render, "sarif": sarif.render}


def render(reports: list[AuditReport], fmt: str) -> str:
    """One report renders in its own shape (JSON: the report object); several in the aggregate shape."""
    return SINGLE[fmt](reports[0]) if len(reports) == 1 else FORMATS[fmt](reports)


def write(reports: list[AuditReport], fmt: str, path: str | Path) -> None:
    Path(path).write_text(render(reports, fmt), encoding="utf-8")
