"""The runner: probe errors are captured without losing other results; skips, budgets and RNG seeding."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.errors import ConfigError, ExitCode
from auditor.probes.base import Probe, ProbeContext
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status
from auditor.runner import AuditConfig, run_audit
from tests.auditor import builders


class CountingProbe(Probe):
    """Generates a population and reports its mean."""

    name = "test.counting"
    applies_to = frozenset({ModelKind.GENERATOR})

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        out = model.generate(model.sample_latents(ctx.rng, 50))
        return ProbeResult(self.name, Status.COMPLETED, metrics={"mean": float(out.mean()),
                                                                 "draw": float(ctx.rng.random())})


class RaisingProbe(Probe):
    """Always fails."""

    name = "test.raising"
    applies_to = frozenset({ModelKind.GENERATOR})

    def run(self, model, ctx):
        raise RuntimeError("boom\nsecond line")


class FindingProbe(Probe):
    """Reports one high finding."""

    name = "test.finding"
    applies_to = frozenset({ModelKind.GENERATOR})

    def run(self, model, ctx):
        return ProbeResult(self.name, Status.COMPLETED,
                           findings=(Finding(self.name, "TEST-HIGH-001", Severity.HIGH, 0.9, "bad"),))


class AutoencoderProbe(Probe):
    """Needs probe images."""

    name = "test.ae"
    applies_to = frozenset({ModelKind.AUTOENCODER})

    def run(self, model, ctx):
        assert ctx.images is not None and ctx.images_source
        return ProbeResult(self.name, Status.COMPLETED, metrics={"n": float(len(ctx.images))})


@pytest.fixture()
def gen(tmp_path):
    return builders.generator(tmp_path / "g.onnx")


def test_raising_probe_keeps_others_and_exits_3(gen):
    """A probe that raises is ERRORED with a one-line reason; the others complete; the exit code is 3."""
    report = run_audit(gen, AuditConfig(device="cpu"), probes=(CountingProbe, RaisingProbe, FindingProbe))
    by_name = {r.probe: r for r in report.results}
    assert by_name["test.counting"].status == Status.COMPLETED and by_name["test.counting"].rows == 50
    assert by_name["test.raising"].status == Status.ERRORED and by_name["test.raising"].reason == \
        "RuntimeError: boom"
    assert by_name["test.finding"].findings[0].code == "TEST-HIGH-001"
    assert report.exit_code == ExitCode.AUDIT_ERROR


def test_risk_and_pass(gen):
    """A high finding gives exit 1 at --fail-on high, and 0 at --fail-on critical."""
    assert run_audit(gen, AuditConfig(device="cpu"), probes=(FindingProbe,)).exit_code == ExitCode.RISK
    assert run_audit(gen, AuditConfig(device="cpu", fail_on="critical"), probes=(FindingProbe,)).exit_code == 0


def test_inapplicable_probes_are_skipped_and_exit_4(gen):
    """Probes for another kind are SKIPPED with a reason; nothing applicable gives exit 4."""
    report = run_audit(gen, AuditConfig(device="cpu"), probes=(AutoencoderProbe,))
    assert report.results[0].status == Status.SKIPPED and "autoencoder" in report.results[0].reason
    assert report.exit_code == ExitCode.NOT_AUDITABLE


def test_autoencoder_gets_self_generated_images(tmp_path):
    """Without --data an autoencoder probe receives images the tool made, and the source says so."""
    report = run_audit(builders.autoencoder(tmp_path / "a.onnx"), AuditConfig(device="cpu"),
                       probes=(AutoencoderProbe,))
    assert report.results[0].status == Status.COMPLETED and report.results[0].metrics["n"] == 64


def test_probe_rng_depends_on_seed_not_order(gen):
    """Each probe's RNG is derived from (seed, probe name): reordering probes does not change results."""
    a = run_audit(gen, AuditConfig(device="cpu", seed=3), probes=(CountingProbe, FindingProbe))
    b = run_audit(gen, AuditConfig(device="cpu", seed=3), probes=(FindingProbe, CountingProbe))
    c = run_audit(gen, AuditConfig(device="cpu", seed=4), probes=(CountingProbe,))
    draw = lambda r: next(x for x in r.results if x.probe == "test.counting").metrics["draw"]  # noqa: E731
    assert draw(a) == draw(b) != draw(c)


def test_unloadable_model_is_a_report_not_an_exception(tmp_path):
    """A broken file yields a report with error set and exit 3."""
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    report = run_audit(tmp_path / "bad.onnx", AuditConfig(device="cpu"))
    assert report.error and report.model is None and report.exit_code == ExitCode.AUDIT_ERROR


def test_bad_config_raises_config_error():
    """Unknown presets, severities and probes are ConfigErrors (exit 2 at the CLI)."""
    for kwargs in (dict(preset="slow"), dict(fail_on="severe"), dict(probes=("no.such",))):
        with pytest.raises(ConfigError):
            AuditConfig(**kwargs)


def test_static_findings_reach_the_report(tmp_path):
    """Static findings are part of every report and count towards the exit code."""
    report = run_audit(builders.wired_backdoor_generator(tmp_path / "w.onnx"), AuditConfig(device="cpu"))
    assert any(f.code == "STATIC-CTRLFLOW-001" for f in report.static_findings)
    assert report.exit_code == ExitCode.RISK
    assert np.isfinite(report.model.value_range).all()
