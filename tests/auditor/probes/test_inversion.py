"""The inversion probe: threshold from own samples, forbidden and off-domain images, triggered outputs, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.inversion import InversionParams
from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.inversion import GeneratorInversionProbe, off_domain_images
from auditor.records import Finding, ProbeResult, Severity, Status
from tests.auditor import builders

PARAMS = InversionParams(restarts=2, steps=120)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model(builders.generator(tmp_path_factory.mktemp("g") / "g.onnx", image=(1, 12, 12)), device="cpu")


def _run(model, **ctx):
    return GeneratorInversionProbe(PARAMS).run(model, ProbeContext(rng=np.random.default_rng(0),
                                                                   max_rows=ctx.pop("max_rows", 10**7), **ctx))


def test_own_sample_forbidden_is_high_and_off_domain_reach_is_exact(model):
    """A forbidden image the generator emits is HIGH; a forbidden checkerboard is not. Of the off-domain images,
    this odd generator (tanh of a linear map: G(-z) = 1 - G(z)) reaches exactly the inverted sample."""
    own = model.generate(model.sample_latents(np.random.default_rng(9), 1))
    checker = off_domain_images(own, np.random.default_rng(0))[0][2:3]
    result = _run(model, forbidden=np.concatenate([own, checker]), forbidden_source="test")
    assert result.status == Status.COMPLETED
    codes = {f.code: f for f in result.findings}
    assert codes["INVERT-FORBIDDEN-001"].severity == Severity.HIGH
    assert codes["INVERT-FORBIDDEN-001"].evidence["forbidden_indices"] == [0]
    assert codes["INVERT-OFFDOMAIN-001"].evidence["reached"] == ["inverted sample"]
    assert codes["INVERT-OFFDOMAIN-001"].severity == Severity.MEDIUM
    assert result.metrics["threshold_mse"] < 1e-3 and result.images


def test_without_forbidden_images_nothing_high(model):
    result = _run(model)
    assert max(f.severity for f in result.findings) < Severity.HIGH
    assert result.metrics["forbidden_images"] == 0 and result.findings[-1].code == "INVERT-000"


def test_query_only_budget_too_small_skips_with_the_cost(model):
    result = _run(model, max_rows=2000)
    assert result.status == Status.SKIPPED and "--gradients exact" in result.reason


def test_flagged_trigger_outputs_share_the_trigger_coordinate(tmp_path):
    """Outputs of a trigger an earlier probe flagged invert to latents whose largest shared coordinate is the
    trigger dimension (wired generator: dim 7 beyond 2.5 switches to a fixed image)."""
    model = load_model(builders.wired_backdoor_generator(tmp_path / "w.onnx", latent=8, dim=7, threshold=2.5),
                       device="cpu")
    flagged = ProbeResult("trigger.latent", Status.COMPLETED, findings=(Finding(
        "trigger.latent", "TRIG-LATENT-001", Severity.CRITICAL, 1.0, "test",
        {"trigger": {"type": "latent", "dims": [7], "values": [3.5]}}),))
    result = _run(model, earlier=(flagged,))
    evidence = next(f for f in result.findings if f.code == "INVERT-000").evidence["triggered"]
    assert evidence["trigger_dims"] == [7]
    assert result.metrics["triggered_dims_recovered"] == 1.0


def test_named_unit_without_a_value_is_not_inverted(model):
    """A flagged trigger with no value (the weight scan names a unit, not its value) gives nothing to set: the probe
    inverts no triggered outputs rather than failing on it."""
    named = ProbeResult("trigger.latent_weights", Status.COMPLETED, findings=(Finding(
        "trigger.latent_weights", "TRIG-WEIGHT-001", Severity.HIGH, 1.0, "test",
        {"trigger": {"type": "latent", "dims": [3], "values": None}}),))
    result = _run(model, earlier=(named,))
    assert result.status == Status.COMPLETED
    assert "triggered" not in next(f for f in result.findings if f.code == "INVERT-000").evidence
