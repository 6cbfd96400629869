"""HTML reports: hostile strings stay inert, images are embedded only as PNG data URIs, verdict first."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from auditor.records import AuditReport, Curve, Finding, ProbeResult, Severity, Status
from auditor.report.html import render
from auditor.runner import AuditConfig, run_audit
from tests.auditor import builders

EVIL = '</script><script>alert(1)</script><img src=x onerror=alert(2)>'


def _report(**kw) -> AuditReport:
    finding = Finding("p", "X-Y-001", Severity.HIGH, 0.9, EVIL, {"note": EVIL})
    result = ProbeResult(EVIL, Status.COMPLETED, findings=(finding,), metrics={"m": 0.5},
                         curves={"dd": Curve((0.0, 0.5, 1.0), (1.0, 0.6, 0.2), "eps", "ssim")},
                         images={"grid": "data:image/png;base64,iVBORw0KGgo=", "bad": "javascript:alert(3)"})
    return AuditReport("0.1", "t", EVIL, {}, None, (), (result,), None, 1, **kw)


def test_hostile_strings_are_escaped():
    """No tag from untrusted text survives; the only <img> is the checked data URI."""
    page = render(_report())
    assert "<script" not in page
    assert "&lt;/script&gt;" in page
    assert "javascript:" not in page
    assert len(re.findall(r"<img ", page)) == 1
    assert "Content-Security-Policy" in page


def test_verdict_comes_first_and_curves_render():
    """The verdict banner precedes everything; a curve becomes an inline SVG polyline."""
    page = render(_report())
    assert page.index("RISK") < page.index("Top findings")
    assert "<polyline" in page


def test_model_metadata_is_escaped(tmp_path):
    """A producer name with markup, read from the file, is shown escaped."""
    path = builders.generator(tmp_path / "g.onnx", producer=EVIL)
    page = render(run_audit(path, AuditConfig(device="cpu")))
    assert "<script" not in page and "&lt;script&gt;" in page


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_opens_in_headless_chromium(tmp_path):
    """A real browser renders the page to a screenshot without running anything (documented check)."""
    page = tmp_path / "r.html"
    page.write_text(render(_report()))
    shot = tmp_path / "r.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1100,900", page.as_uri()], check=True, capture_output=True, timeout=60)
    assert shot.stat().st_size > 1000
