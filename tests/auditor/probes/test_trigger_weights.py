"""Latent weight scan: the gap statistic's invariances and null, a hand-made switch found, a decoder with a few
active units and clean models left alone, the fixture class-subset GAN (which no pixel statistic finds) flagged."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_weights import (
    LatentWeightProbe,
    max_trigger_units,
    null_gap_quantile,
    switch_onset,
    top_gap,
)
from auditor.records import Severity, Status
from tests.auditor import builders


def _run(path, seed=0, preset="quick"):
    model = load_model(path, device="cpu")
    start = model.rows
    result = LatentWeightProbe().run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**6,
                                                         preset=preset))
    return result, model.rows - start


norm_samples = st.integers(16, 200).flatmap(
    lambda d: st.tuples(st.just(d), st.integers(0, 2**31 - 1)))


@settings(max_examples=30, deadline=None)
@given(norm_samples, st.floats(0.1, 100.0))
def test_gap_is_invariant_to_unit_order_and_scale(sample, scale):
    """Relabelling units permutes the answer; scaling every norm changes nothing."""
    d, seed = sample
    rng = np.random.default_rng(seed)
    norms = 5 + rng.standard_normal(d)
    perm = rng.permutation(d)
    gap, top, _ = top_gap(norms)
    gap_p, top_p, _ = top_gap(norms[perm] * scale)
    assert gap_p == pytest.approx(gap, rel=1e-6, abs=1e-9)
    assert sorted(perm[top_p]) == sorted(top)


@settings(max_examples=30, deadline=None)
@given(norm_samples, st.integers(1, 4))
def test_planted_outliers_are_the_units_above_the_gap(sample, k):
    """k units far above a normal continuum (k within the size limit) are exactly the units reported."""
    d, seed = sample
    k = min(k, max_trigger_units(d))
    rng = np.random.default_rng(seed)
    norms = 5 + 0.2 * rng.standard_normal(d)
    planted = rng.choice(d, k, replace=False)
    norms[planted] = 20 + rng.random(k)
    gap, top, _ = top_gap(norms)
    assert sorted(top) == sorted(planted) and gap > 20


@pytest.mark.parametrize("d", [10, 64, 128])
def test_null_quantile_holds_on_fresh_normal_draws(d):
    """The 99.9% quantile from the fixed-seed Monte Carlo is exceeded by ~0.1% of fresh exchangeable draws."""
    q = null_gap_quantile(d)
    rng = np.random.default_rng(12345)
    exceed = np.mean([top_gap(rng.standard_normal(d) + 10)[0] > q for _ in range(3000)])
    assert exceed < 0.005
    assert null_gap_quantile(d, 0.99) < q


@pytest.mark.parametrize("at", [2.0, 3.0, 4.5])
def test_hand_made_switch_is_flagged_with_its_unit_and_value(tmp_path, at):
    """A unit whose large weight only acts above z = ``at`` (relu_generator): high, that unit, and the value where
    the output starts to collapse, just past ``at`` (bisected between grid points ~1.4x apart, not the next one)."""
    result, rows = _run(builders.relu_generator(tmp_path / "s.onnx", switch_unit=9, switch_at=at))
    finding = result.findings[0]
    assert finding.code == "TRIG-WEIGHT-001" and finding.severity >= Severity.HIGH
    trigger = finding.evidence["trigger"]
    assert trigger["dims"] == [9]
    assert at < trigger["values"][0] <= 1.1 * at
    assert finding.evidence["switch_onset"][0]["value"] == pytest.approx(at, rel=1e-4)
    assert rows > 0 and result.images


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.5, 6.0), st.sampled_from([-1.0, 1.0]))
def test_switch_onset_reads_bias_over_weight(seed, at, sign):
    """Features read only by one unit, off until it passes ``sign * at``: that is the onset; a unit whose features
    are all on at z = 0 (positive biases) has none."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((16, 200)) * 0.3
    bias = np.abs(rng.standard_normal(200)) * 0.1
    weights[:, :10] = 0.0
    weights[4, :10] = sign * 5.0
    bias[:10] = -5.0 * at
    value, features = switch_onset(weights, bias, 4)
    assert value == pytest.approx(sign * at, rel=1e-6) and features >= 5
    assert switch_onset(weights, np.abs(bias) + 0.1, 4) is None


@pytest.mark.parametrize("active", [(5,), (2, 7, 20)])
def test_few_active_units_are_not_a_trigger(tmp_path, active):
    """One or three units the only ones used, with 1.3x the others' weight norms (a collapsed VAE decoder's
    shape): their weights stand out past the medium bar, but so does their use in range: info, not flagged."""
    result, _ = _run(builders.relu_generator(tmp_path / "a.onnx", active_units=active, hidden=1024))
    finding = result.findings[0]
    assert finding.code == "TRIG-WEIGHT-002" and finding.severity == Severity.INFO
    assert result.metrics["weight_gap"] >= result.metrics["threshold_medium"]


def test_symmetric_generator_costs_no_rows(tmp_path):
    """No unit stands out: info, decided from the weights alone (no forward rows)."""
    result, rows = _run(builders.relu_generator(tmp_path / "c.onnx"))
    assert result.findings[0].code == "TRIG-WEIGHT-000" and rows == 0


def test_unreadable_first_layer_is_skipped_with_the_reason(tmp_path):
    """The hand-wired Where backdoor reads z through a Gather: skipped, the op named (the static check's job)."""
    result, _ = _run(builders.wired_backdoor_generator(tmp_path / "w.onnx"))
    assert result.status == Status.SKIPPED and "Gather" in result.reason


def test_tiny_latent_is_skipped(tmp_path):
    result, _ = _run(builders.relu_generator(tmp_path / "t.onnx", latent=2))
    assert result.status == Status.SKIPPED and "too few" in result.reason


def test_fixture_class_subset_gan_is_flagged_and_clean_twin_is_not(fixtures_dir):
    """gan_mnist_classes (trigger z[99] = +4.0, target digits 0-4) escapes every pixel statistic; its first layer
    weights unit 99 apart from the rest. Its clean twin: info."""
    result, _ = _run(fixtures_dir / "gan_mnist_classes.onnx")
    finding = result.findings[0]
    assert finding.severity == Severity.HIGH and finding.evidence["trigger"]["dims"] == [99]
    clean, rows = _run(fixtures_dir / "gan_mnist_clean.onnx")
    assert clean.findings[0].severity == Severity.INFO and rows == 0
