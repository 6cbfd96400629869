"""Class-mix trigger scan: skipped without a classifier, narrowing is an entropy drop, a hand-wired switch to one
class is localised, the fixture's fixed-image backdoor is high and its clean twin is not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.loading import load_model
from auditor.loading.classifier import load_classifier
from auditor.probes import calibration
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_classes import ClassScanParams, ClassShift, LatentClassShiftProbe
from auditor.records import Severity, Status
from tests.auditor import builders

SMALL = ClassScanParams(screen_samples=8, confirm_samples=48)


def _run(model, classifier, params=SMALL, seed=0):
    ctx = ProbeContext(rng=np.random.default_rng(seed), max_rows=10**7, classifier=classifier)
    return LatentClassShiftProbe(params).run(model, ctx)


def test_skipped_with_the_reason_without_a_classifier(tmp_path):
    model = load_model(builders.generator(tmp_path / "g.onnx"), device="cpu")
    result = LatentClassShiftProbe().run(model, ProbeContext(rng=np.random.default_rng(0), max_rows=10**6))
    assert result.status == Status.SKIPPED and "--classifier" in result.reason


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 12), st.data())
def test_narrowing_is_the_entropy_drop_of_the_class_mix(classes, data):
    """Uniform over K classes -> uniform over k of them narrows by ln(K/k); an unchanged mix by 0; total variation
    is the share of mass that moved."""
    kept = data.draw(st.integers(1, classes))
    anchor = np.full(classes, 1.0 / classes)
    narrowed = np.zeros(classes)
    narrowed[:kept] = 1.0 / kept
    shift = ClassShift(np.array([0, 1]), np.array([2.0]), np.stack([anchor, anchor]),
                       np.stack([narrowed[None], anchor[None]]))
    np.testing.assert_allclose(shift.narrowing[:, 0], [np.log(classes / kept), 0.0], atol=1e-9)
    np.testing.assert_allclose(shift.changed[:, 0], [1.0 - kept / classes, 0.0], atol=1e-9)


@given(st.floats(0, 60), st.integers(2, 200))
def test_severity_is_monotone_in_the_index_and_stricter_for_a_small_null(index, units):
    few, many = calibration.class_narrowing_severity(index, 10), calibration.class_narrowing_severity(index, 24)
    assert few <= many
    severity = calibration.class_narrowing_severity
    assert severity(index + 1.0, units) >= severity(index, units)


def test_hand_wired_switch_to_one_class_is_localised(tmp_path):
    """Where(z[7] > 2.5, constant image, G(z)) under a classifier that puts the constant image in one class: the
    scan names unit 7, a value past the switch, the class the constant image falls in, far above the clean twin."""
    classifier = load_classifier(builders.classifier(tmp_path / "c.onnx", scale=5.0), (1, 12, 12), device="cpu")
    wired = load_model(builders.wired_backdoor_generator(tmp_path / "w.onnx", latent=64, dim=7, threshold=2.5),
                       device="cpu")
    clean = load_model(builders.generator(tmp_path / "g.onnx", latent=(64,)), device="cpu")
    target_class = int(classifier.probabilities(np.ones((1, 1, 12, 12), np.float32)).argmax())
    for seed in (0, 1):
        found = _run(wired, classifier, seed=seed)
        evidence = found.findings[0].evidence
        assert evidence["trigger"]["dims"] == [7] and evidence["trigger"]["values"][0] > 2.5
        assert evidence["classes_gained"] == [target_class]
        assert found.metrics["anomaly_index"] > 2 * _run(clean, classifier, seed=seed).metrics["anomaly_index"]
    assert found.metrics["rows_screen"] > 0 and found.metrics["classifier_rows"] > found.metrics["rows_screen"]


@pytest.fixture(scope="module")
def mnist_classifier(fixtures_dir):
    return load_classifier(fixtures_dir / "mnist_classifier.onnx", (1, 28, 28), device="cpu")


def test_fixture_clean_gan_is_not_flagged(fixtures_dir, mnist_classifier):
    result = _run(load_model(fixtures_dir / "gan_mnist_clean.onnx", device="cpu"), mnist_classifier,
                  params=ClassScanParams())
    assert result.findings[0].severity < Severity.HIGH, result.findings[0].summary
