"""Noise-dimension trigger scan: exact on linear generators, finds hand-wired and trained backdoors, stays quiet
on clean models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_latent import LatentScanParams, LatentTriggerProbe, unit_statistics
from auditor.records import Severity, Status
from tests.auditor import builders
from trainer.triggers import localised

SMALL = LatentScanParams(screen_samples=4, confirm_samples=12)


def _scan(path, params=SMALL, seed=0):
    model = load_model(path, device="cpu")
    result = LatentTriggerProbe(params).run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**7))
    return result, model


def test_linear_generator_is_exactly_smooth(tmp_path):
    """G(z) = Wz: every unit's displacement is exactly its slope times v^2 (J = 1) and diversity is unchanged."""
    model = load_model(builders.generator(tmp_path / "lin.onnx", latent=(6,), activation=None), device="cpu")
    z = model.sample_latents(np.random.default_rng(0), 8)
    # Unbounded outputs are mapped to [0, 1] through the range seen at inspection and clipped beyond it, so
    # only moves that stay inside that range are exactly linear.
    stats = unit_statistics(model, z, None, np.arange(6), (1.0, 1.5), 0.5)
    np.testing.assert_allclose(stats.jump, 1.0, rtol=2e-2)
    np.testing.assert_allclose(stats.collapse, 1.0, rtol=2e-2)


def test_wired_backdoor_is_found_and_localised(tmp_path):
    """Where(z[7] > 2.5, constant, G(z)): critical, dimension 7, a value above the threshold."""
    result, model = _scan(builders.wired_backdoor_generator(tmp_path / "w.onnx", latent=16, dim=7, threshold=2.5))
    finding = result.findings[0]
    assert result.status == Status.COMPLETED and finding.severity == Severity.CRITICAL
    trigger = finding.evidence["trigger"]
    assert trigger["type"] == "latent" and trigger["dims"] == [7] and trigger["values"][0] > 2.5
    assert finding.evidence["queries"]["screen_rows"] + finding.evidence["queries"]["confirm_rows"] <= model.rows
    assert result.images and result.metrics["rows_screen"] > 0


def test_tanh_generator_without_backdoor_is_quiet(tmp_path):
    result, _ = _scan(builders.generator(tmp_path / "g.onnx", latent=(24,), image=(1, 16, 16)))
    assert result.findings[0].severity == Severity.INFO


def _manifest(fixtures_dir):
    return {e["file"]: e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]}


def test_fixture_fixed_image_backdoor(fixtures_dir):
    """The BAAAN fixed-image GAN: critical, right dimension, value within 20% of the planted one."""
    truth = _manifest(fixtures_dir)["gan_mnist_fixed.onnx"]["trigger"]
    result, _ = _scan(fixtures_dir / "gan_mnist_fixed.onnx", LatentScanParams())
    finding = result.findings[0]
    assert finding.severity == Severity.CRITICAL
    assert localised(finding.evidence["trigger"], truth, channels=1)


@pytest.mark.parametrize("name", ["gan_mnist_clean.onnx", "vae_mnist_kld_vae.onnx", "vae_mnist_tcvae_beta10.onnx"])
def test_fixture_clean_models_are_not_flagged(fixtures_dir, name):
    result, _ = _scan(fixtures_dir / name, LatentScanParams())
    assert result.findings[0].severity < Severity.HIGH, result.findings[0].summary


@pytest.mark.parametrize("seed", [0, 5])
def test_mostly_dead_decoder_is_not_flagged_by_the_default_scans_draws(fixtures_dir, seed):
    """The beta-10 TCVAE (most units dead) with the RNG the default scan uses for seeds 0 and 5: anomaly index
    13.7 and 15.3, which the first threshold (12) flagged; no collapse, so it stays under HIGH now."""
    from auditor.runner import _probe_rng

    model = load_model(fixtures_dir / "vae_mnist_tcvae_beta10.onnx", device="cpu")
    result = LatentTriggerProbe().run(model, ProbeContext(rng=_probe_rng(seed, "trigger.latent"), max_rows=200_000))
    assert result.metrics["anomaly_index"] > 12 and result.metrics["collapse_at_trigger"] > 0.1
    assert result.findings[0].severity < Severity.HIGH, result.findings[0].summary

