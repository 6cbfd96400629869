"""Latent centre scan: the training-mean fit and the share-free value as properties, hand-built BatchNorm
generators (folded and explicit) with and without a trigger, the null, skips, and the fixtures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.loading import load_model
from auditor.metrics.robust import robust_z
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_centres import (
    LatentCentreProbe,
    null_centre_quantile,
    share_free_value,
    training_means,
    training_variances,
)
from auditor.records import Severity, Status
from tests.auditor import builders


def _run(path, seed=0):
    model = load_model(path, device="cpu")
    start = model.rows
    result = LatentCentreProbe().run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**6))
    return result, model.rows - start


@settings(max_examples=40, deadline=None)
@given(st.integers(4, 64), st.integers(0, 2**31 - 1), st.floats(-3.0, 3.0))
def test_training_means_are_recovered_from_a_folded_bias(units, seed, shift):
    """bias = shift - W . mu (one BatchNorm shift for every feature): the fit returns mu, in any unit order."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((units, 3 * units + 20))
    mu = rng.standard_normal(units) * 2
    bias = shift - mu @ weights
    assert np.allclose(training_means(weights, bias), mu, atol=1e-6)
    order = rng.permutation(units)
    assert np.allclose(training_means(weights[order], bias), mu[order], atol=1e-6)


def test_explicit_running_statistics_give_mean_and_variance():
    rng = np.random.default_rng(1)
    weights = rng.standard_normal((16, 200))
    bias = rng.standard_normal(200)
    mu, var = rng.standard_normal(16), rng.uniform(0.5, 5.0, 16)
    assert np.allclose(training_means(weights, bias, mu @ weights + bias), mu, atol=1e-8)
    assert np.allclose(training_variances(weights, var @ weights ** 2, mu), var, atol=1e-8)


def test_non_finite_bias_gives_no_answer():
    rng = np.random.default_rng(3)
    bias = rng.standard_normal(200)
    bias[7] = np.nan
    assert training_means(rng.standard_normal((16, 200)), bias) is None


def test_fit_needs_spare_features():
    """As many features as units (plus the intercept) leaves the shift undetermined: no answer, not a guess."""
    rng = np.random.default_rng(2)
    assert training_means(rng.standard_normal((32, 40)), rng.standard_normal(40)) is None


@settings(max_examples=60, deadline=None)
@given(st.floats(0.05, 1.0), st.floats(0.3, 9.0), st.sampled_from([-1.0, 1.0]))
def test_share_free_value_inverts_the_mixture_moments(share, magnitude, sign):
    """N(0, 1) on 1 - share of the rows, c on the rest: mean and variance give back c, whatever the share."""
    c = sign * magnitude
    mean = share * c
    variance = share * c ** 2 + (1 - share) - mean ** 2
    assert share_free_value(mean, variance) == pytest.approx(c, rel=1e-6)


def test_share_free_value_refuses_moments_no_mixture_fits():
    """The share is at most 1 exactly when the variance is not negative (at c = mean the variance is 0); a noisy
    fit can return a negative one, and a zero mean has no side."""
    assert share_free_value(0.0, 1.0) is None
    assert share_free_value(2.0, 0.0) == pytest.approx(2.0)
    assert share_free_value(2.0, -0.1) is None
    assert share_free_value(-1.5, -0.01) is None


@pytest.mark.parametrize("d", [8, 32, 100])
def test_null_quantile_holds_on_fresh_normal_draws(d):
    """The 99.9% quantile of the largest |robust z| is exceeded by ~0.1% of fresh exchangeable draws."""
    q = null_centre_quantile(d)
    rng = np.random.default_rng(4321)
    exceed = np.mean([np.abs(robust_z(rng.standard_normal(d), 1e-12)).max() > q for _ in range(3000)])
    assert exceed < 0.005
    assert null_centre_quantile(d, 0.99) < q


@pytest.mark.parametrize("first", ["Gemm", "ConvTranspose"])
@pytest.mark.parametrize("explicit", [False, True])
def test_folded_or_explicit_batchnorm_trigger_is_flagged_with_its_value(tmp_path, explicit, first):
    """Unit 5 set to 3.6 on half the training rows: high, unit 5, value 3.6 (twice the mean when folded; from
    mean and variance when the BatchNorm is explicit), behind a Gemm or DCGAN's ConvTranspose on a 1x1 latent."""
    path = builders.batchnorm_generator(tmp_path / "b.onnx", trigger={5: 3.6}, explicit=explicit, first=first)
    result, rows = _run(path)
    finding = result.findings[0]
    assert finding.code == "TRIG-CENTRE-001" and finding.severity == Severity.HIGH
    assert finding.evidence["trigger"]["dims"] == [5]
    assert finding.evidence["trigger"]["values"][0] == pytest.approx(3.6, rel=0.05)
    assert finding.evidence["value_estimate"]["method"] == ("mean and variance" if explicit else "mean / share")
    assert rows == 16 and result.images        # the evidence grid only


def test_explicit_batchnorm_value_does_not_assume_the_share(tmp_path):
    """Trigger -5 on a quarter of the rows: the mean alone would say -2.5 (share 1/2 assumed); mean and variance
    say -5."""
    path = builders.batchnorm_generator(tmp_path / "q.onnx", trigger={11: -5.0}, share=0.25, explicit=True)
    evidence = _run(path)[0].findings[0].evidence
    assert evidence["trigger"]["values"][0] == pytest.approx(-5.0, rel=0.05)
    assert evidence["value_estimate"]["share"] == pytest.approx(0.25, abs=0.02)


def test_two_unit_trigger_names_both(tmp_path):
    path = builders.batchnorm_generator(tmp_path / "p.onnx", trigger={3: 2.0, 20: -2.2}, latent=64, hidden=512)
    trigger = _run(path)[0].findings[0].evidence["trigger"]
    assert sorted(trigger["dims"]) == [3, 20]
    values = dict(zip(trigger["dims"], trigger["values"], strict=True))
    assert values[3] == pytest.approx(2.0, rel=0.1) and values[20] == pytest.approx(-2.2, rel=0.1)


@pytest.mark.parametrize("first", ["Gemm", "ConvTranspose"])
@pytest.mark.parametrize("explicit", [False, True])
def test_generator_trained_on_the_prior_is_left_alone(tmp_path, explicit, first):
    result, rows = _run(builders.batchnorm_generator(tmp_path / "c.onnx", explicit=explicit, first=first))
    assert result.findings[0].code == "TRIG-CENTRE-000" and result.findings[0].severity == Severity.INFO
    assert rows == 0


def test_first_layer_without_a_bias_is_skipped(tmp_path):
    """A MatMul first layer (no bias, no BatchNorm): nothing to read, skipped with the reason."""
    result, _ = _run(builders.generator(tmp_path / "g.onnx", latent=(16,)))
    assert result.status == Status.SKIPPED and "bias" in result.reason


def test_too_few_features_is_skipped(tmp_path):
    result, _ = _run(builders.batchnorm_generator(tmp_path / "n.onnx", latent=32, hidden=40))
    assert result.status == Status.SKIPPED and "too few" in result.reason


def test_fixture_gans(fixtures_dir):
    """gan_mnist_classes (z[99] = +4.0 on half the training rows): high, 99, within 20%; its clean twin: info."""
    finding = _run(fixtures_dir / "gan_mnist_classes.onnx")[0].findings[0]
    assert finding.severity == Severity.HIGH and finding.evidence["trigger"]["dims"] == [99]
    assert finding.evidence["trigger"]["values"][0] == pytest.approx(4.0, rel=0.2)
    assert _run(fixtures_dir / "gan_mnist_clean.onnx")[0].findings[0].severity == Severity.INFO


def test_fixture_torchscript_keeps_batchnorm_explicit(fixtures_dir):
    """The TorchScript twin converts with its BatchNorm unfolded: the value comes from mean and variance."""
    pytest.importorskip("torch")
    evidence = _run(fixtures_dir / "gan_mnist_classes.pt")[0].findings[0].evidence
    assert evidence["trigger"]["dims"] == [99] and evidence["value_estimate"]["method"] == "mean and variance"
    assert evidence["trigger"]["values"][0] == pytest.approx(4.0, rel=0.1)
