"""The runner: probe errors are captured without losing other results; skips, budgets and RNG seeding."""

from __future__ import annotations

from pathlib import Path

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


def test_report_says_how_the_forward_passes_ran(gen):
    """The report's engine record names the execution provider and counts the rows the probes ran (inspection's
    few trial rows are not part of the audit's cost)."""
    report = run_audit(gen, AuditConfig(device="cpu"), probes=(CountingProbe, CountingProbe))
    engine = report.engine
    assert engine["provider"] == "CPUExecutionProvider" and engine["batch"] >= 1
    assert engine["rows"] == sum(r.rows for r in report.results) == 100 and engine["forward_seconds"] >= 0


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


@pytest.mark.parametrize("kwargs, message", [
    ({"gradients": "magic"}, "gradients"), ({"encoder": "e.onnx"}, "--encoder needs --data"),
    ({"encoder": "e.onnx", "data": "d", "latents": "z.npy"}, "alternatives")])
def test_bad_gradient_and_latent_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        AuditConfig(**kwargs)


def _pgd_latents_source(report):
    pgd = next(r for r in report.results if r.probe == "robustness.latent_pgd")
    assert pgd.status == Status.COMPLETED, pgd.reason
    return pgd.findings[0].evidence["latents"]


def test_user_latents_reach_the_robustness_probe(tmp_path):
    """--latents (.npy, [N, d] or [N, *shape]) replaces prior samples; wrong shapes, NaN and pickled object arrays
    are usage errors (the file is never unpickled)."""
    gen = builders.generator(tmp_path / "g.onnx")
    good = tmp_path / "z.npy"
    np.save(good, np.random.default_rng(0).standard_normal((12, 8)).astype(np.float32))
    report = run_audit(gen, AuditConfig(device="cpu", latents=str(good), probes=("robustness.latent_pgd",)))
    assert "--latents" in _pgd_latents_source(report) and "12 latents" in _pgd_latents_source(report)
    bad_cases = {"shape.npy": np.zeros((4, 9), np.float32), "nan.npy": np.full((4, 8), np.nan, np.float32),
                 "obj.npy": np.array([{"a": 1}] * 4, dtype=object)}
    for name, value in bad_cases.items():
        np.save(tmp_path / name, value, allow_pickle=True)
        with pytest.raises(ConfigError):
            run_audit(gen, AuditConfig(device="cpu", latents=str(tmp_path / name), probes=("robustness.latent_pgd",)))


def test_encoder_latents_come_from_the_data_images(tmp_path):
    """--encoder with --data: the encoder's mean output (the output of the latent's size) becomes the latents."""
    from PIL import Image

    gen, enc = builders.generator(tmp_path / "g.onnx"), builders.encoder(tmp_path / "e.onnx")
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        Image.fromarray((np.random.default_rng(i).random((12, 12)) * 255).astype(np.uint8)).save(data / f"{i}.png")
    report = run_audit(gen, AuditConfig(device="cpu", encoder=str(enc), data=str(data),
                                        probes=("robustness.latent_pgd",)))
    assert "--encoder" in _pgd_latents_source(report) and "5 latents" in _pgd_latents_source(report)
    with pytest.raises(ConfigError, match="no output has 8 values"):
        run_audit(gen, AuditConfig(device="cpu", encoder=str(builders.encoder(tmp_path / "e2.onnx", latent=3)),
                                   data=str(data), probes=("robustness.latent_pgd",)))


def test_run_invert_tells_own_samples_from_noise(tmp_path):
    """`auditor invert`'s function: own samples (saved as PNG) are under the threshold, noise images are not."""
    from PIL import Image

    from auditor.loading import load_model
    from auditor.runner import run_invert

    gen = builders.generator(tmp_path / "g.onnx")
    model = load_model(gen, device="cpu")
    folder = tmp_path / "imgs"
    folder.mkdir()
    own = model.generate(model.sample_latents(np.random.default_rng(3), 3))
    for i, x in enumerate(own):
        Image.fromarray((x[0] * 255).round().astype(np.uint8)).save(folder / f"own{i}.png")
    noise = tmp_path / "noise.png"
    Image.fromarray((np.random.default_rng(4).random((12, 12)) * 255).astype(np.uint8)).save(noise)
    from auditor.inversion import InversionParams

    quick = InversionParams(restarts=2, steps=150, refine_steps=50)
    result = run_invert(gen, [folder, noise], AuditConfig(device="cpu", gradients="query"), params=quick)
    verdicts = {Path(r["image"]).name: r["from_generator"] for r in result["images"]}
    assert verdicts == {"own0.png": True, "own1.png": True, "own2.png": True, "noise.png": False}
    assert result["threshold_mse"] < 1e-3 and result["gradients"].startswith("query-only")
    assert result["restarts"] == 2 and result["steps"] == 150
    with pytest.raises(ConfigError, match="no such image"):
        run_invert(gen, [tmp_path / "missing.png"], AuditConfig(device="cpu"))
    with pytest.raises(ConfigError, match="needs a generator"):
        run_invert(builders.autoencoder(tmp_path / "ae.onnx"), [noise], AuditConfig(device="cpu"))
