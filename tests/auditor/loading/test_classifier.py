"""The user's domain classifier (--classifier): checked against the generator's image shape before use; scores
become probabilities; broken or mismatched files give one-line ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from auditor.errors import ConfigError
from auditor.loading.classifier import load_classifier
from tests.auditor import builders

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


@pytest.fixture(scope="module")
def logits_classifier(tmp_path_factory):
    path = builders.classifier(tmp_path_factory.mktemp("clf") / "c.onnx", classes=4)
    return load_classifier(path, (1, 12, 12), device="cpu")


@settings(max_examples=25, deadline=None)
@given(arrays(np.float32, (3, 1, 12, 12), elements=st.floats(0, 1, width=32)))
def test_probabilities_are_a_distribution_per_image(logits_classifier, images):
    p = logits_classifier.probabilities(images)
    assert p.shape == (3, 4)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)


def test_softmax_output_is_taken_as_is_and_nhwc_input_is_transposed(tmp_path):
    images = np.random.default_rng(0).random((5, 1, 12, 12), dtype=np.float32)
    logits = load_classifier(builders.classifier(tmp_path / "l.onnx"), (1, 12, 12), device="cpu")
    soft = load_classifier(builders.classifier(tmp_path / "s.onnx", output="softmax"), (1, 12, 12), device="cpu")
    np.testing.assert_allclose(soft.probabilities(images), logits.probabilities(images), atol=1e-5)
    nhwc = load_classifier(builders.classifier(tmp_path / "n.onnx", image=(3, 12, 12), layout="NHWC"), (3, 12, 12),
                           device="cpu")
    assert nhwc.channels_last and nhwc.probabilities(np.zeros((2, 3, 12, 12), np.float32)).shape == (2, 3)


def test_rows_count_images_classified(logits_classifier):
    before = logits_classifier.rows
    logits_classifier.probabilities(np.zeros((7, 1, 12, 12), np.float32))
    assert logits_classifier.rows - before == 7


@pytest.mark.parametrize(("make", "shape", "message"), [
    (lambda p: builders.classifier(p), (1, 28, 28), "does not take the model's 1x28x28 images"),
    (lambda p: builders.classifier(p, output="single"), (1, 12, 12), "two or more classes"),
    (lambda p: builders.classifier(p, output="nan"), (1, 12, 12), "NaN or Inf"),
    (lambda p: builders.generator(p), (1, 12, 12), "rank 2"),
    (lambda p: p.write_bytes(b"\x08\x01garbage that is not a protobuf") and p, (1, 12, 12), "c.onnx"),
])
def test_unusable_classifiers_are_refused_in_one_line(tmp_path, make, shape, message):
    path = tmp_path / "c.onnx"
    make(path)
    with pytest.raises(ConfigError) as info:
        load_classifier(path, shape, device="cpu")
    text = str(info.value)
    assert message in text and "\n" not in text and text.startswith("--classifier")


def test_the_fixture_classifier_takes_mnist_images():
    clf = load_classifier(FIXTURES / "mnist_classifier.onnx", (1, 28, 28), device="cpu")
    assert clf.classes == 10 and not clf.channels_last
