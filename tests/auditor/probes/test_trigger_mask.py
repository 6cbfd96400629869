"""Autoencoder trigger reverse-engineering (Neural Cleanse style mask + pattern): recovers the fixtures' BAAAN
backdoors as a few pixels at the planted square, needs most of the image to switch the clean twin, and is
skipped, with the reason, without exact gradients."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.data import load_image_folder
from auditor.loading import load_model
from auditor.probes import calibration
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_mask import MaskCandidate, PatchTriggerReverseProbe, switch_statistics, trigger_evidence
from auditor.records import Severity, Status
from tests.auditor import builders
from trainer.triggers import localised, squares_overlap


def _run(model, images, mode="exact"):
    ctx = ProbeContext(rng=np.random.default_rng(0), max_rows=10**6, images=images, images_source="test",
                       gradient_mode=mode)
    return PatchTriggerReverseProbe().run(model, ctx)


@pytest.fixture(scope="module")
def mnist_images(fixtures_dir):
    return load_image_folder(fixtures_dir / "probe_images" / "mnist", size=(28, 28), channels=1)


def test_skipped_with_the_reason_under_query_only_gradients(fixtures_dir, mnist_images):
    result = _run(load_model(fixtures_dir / "ae_mnist_clean.onnx", device="cpu"), mnist_images, mode="query")
    assert result.status == Status.SKIPPED and "--gradients exact" in result.reason


@pytest.mark.parametrize("name", ["ae_mnist_fixed.onnx", "ae_mnist_inverse.onnx"])
def test_fixture_backdoors_recovered_as_a_few_pixels_at_the_trigger(fixtures_dir, mnist_images, name):
    pytest.importorskip("torch")
    truth = {e["file"]: e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]}[name]
    result = _run(load_model(fixtures_dir / name, device="cpu"), mnist_images)
    finding = result.findings[0]
    assert finding.severity == Severity.CRITICAL, finding.summary
    assert result.metrics["smallest_switching_area"] <= calibration.MASK_AREA_CRITICAL
    assert finding.evidence["objective"] == ("collapse" if "fixed" in name else "inversion")
    assert localised(finding.evidence["trigger"], truth["trigger"], channels=1), finding.evidence["trigger"]


def test_non_square_trigger_recovered_as_its_line(tmp_path):
    """A hand-wired trigger the square grid has no shape for (a thin diagonal line of six pixels): recovered as a
    mask of about those pixels, white, over the line."""
    pytest.importorskip("torch")
    from skimage.filters import gaussian

    model = load_model(builders.wired_shape_backdoor_autoencoder(tmp_path / "line.onnx"), device="cpu")
    rng = np.random.default_rng(0)
    images = np.stack([gaussian(rng.random((28, 28)), 2) for _ in range(16)])[:, None]
    images = ((images - images.min((2, 3), keepdims=True)) / np.ptp(images, axis=(2, 3), keepdims=True))
    finding = _run(model, images.astype(np.float32)).findings[0]
    assert finding.severity == Severity.CRITICAL, finding.summary
    assert finding.evidence["mask_pixels"] <= 12
    assert squares_overlap(finding.evidence["trigger"], {"x": 10, "y": 10, "size": 6})
    assert min(finding.evidence["trigger"]["color"]) > 0.75


def test_clean_twin_needs_a_large_mask(fixtures_dir, mnist_images):
    pytest.importorskip("torch")
    result = _run(load_model(fixtures_dir / "ae_mnist_clean.onnx", device="cpu"), mnist_images)
    assert result.findings[0].severity == Severity.INFO, result.findings[0].summary
    assert result.metrics["smallest_switching_area"] > 2 * calibration.MASK_AREA_CRITICAL


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 6), seed=st.integers(0, 10**6))
def test_switch_statistics_of_faithful_constant_and_inverting_outputs(n, seed):
    """A faithful reconstruction neither collapses nor inverts; one constant output collapses to 0; outputs equal
    to the inverted inputs invert every image."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2, 5, 5)).astype(np.float32)
    outside = rng.random((5, 5)) + 0.1
    collapse, inversion = switch_statistics(x, x, x, outside)
    assert collapse == pytest.approx(1.0) and inversion == 0.0
    collapse, _ = switch_statistics(x, np.broadcast_to(x[:1], x.shape), x, outside)
    assert collapse == pytest.approx(0.0, abs=1e-12)
    assert switch_statistics(x, 1.0 - x, x, outside)[1] == 1.0


def test_trigger_evidence_is_the_mask_core_and_its_mean_colour():
    mask = np.zeros((10, 10))
    mask[2:5, 6:8] = 1.0
    mask[0, 0] = 0.3                                    # below half the peak: not part of the trigger
    pattern = np.zeros((1, 10, 10))
    pattern[0, 2:5, 6:8] = 0.8
    trigger = trigger_evidence(MaskCandidate("collapse", mask, pattern, float(mask.mean())), channels=1)
    assert trigger == ({"type": "patch", "x": 6, "y": 2, "size": 3, "color": [0.8, 0.8, 0.8]}, 6)
