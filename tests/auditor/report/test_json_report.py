"""JSON reports validate against the shipped schema and parse back."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given, settings

from auditor.report.json_report import parse, render, schema
from auditor.runner import AuditConfig, run_audit
from tests.auditor import builders
from tests.strategies import reports


def test_real_report_validates(tmp_path):
    """A report from a real scan validates against schema.json and parses back equal."""
    report = run_audit(builders.wired_backdoor_generator(tmp_path / "w.onnx"), AuditConfig(device="cpu"))
    text = render(report)
    import json
    jsonschema.validate(json.loads(text), schema())
    assert parse(text).to_dict() == report.to_dict()


def test_error_report_validates(tmp_path):
    """A report for an unloadable file validates too."""
    (tmp_path / "x.onnx").write_bytes(b"junk")
    import json
    jsonschema.validate(json.loads(render(run_audit(tmp_path / "x.onnx", AuditConfig(device="cpu")))), schema())


@settings(max_examples=40, deadline=None)
@given(reports)
def test_generated_reports_round_trip(report):
    """parse(render(r)) == r for arbitrary records."""
    assert parse(render(report)).to_dict() == report.to_dict()


@pytest.mark.parametrize("text", ["[]", "{", '{"schema_version": 1}', '"x"'])
def test_parse_rejects_non_reports(text):
    """Anything but a report is a ValueError with a reason."""
    with pytest.raises(ValueError):
        parse(text)
