"""Inspection reads kind, latent shape, layout, range and batch behaviour from graphs mimicking real files."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.errors import InspectionError, ModelRunError
from auditor.loading import Overrides, load_model
from auditor.records import ModelKind
from tests.auditor import builders


@pytest.mark.parametrize("kwargs,latent,image,layout,range_kind", [
    (dict(latent=(8,)), (8,), (1, 12, 12), "NCHW", "tanh"),
    (dict(latent=(16, 1, 1)), (16, 1, 1), (1, 12, 12), "NCHW", "tanh"),
    (dict(latent=(32, 2, 2), image=(3, 16, 16)), (32, 2, 2), (3, 16, 16), "NCHW", "tanh"),
    (dict(latent=(8,), image=(3, 16, 16), layout="NHWC", activation="Sigmoid"), (8,), (3, 16, 16), "NHWC", "sigmoid"),
    (dict(latent=(8,), out_dtype="uint8", activation="Sigmoid"), (8,), (1, 12, 12), "NCHW", "uint8"),
    (dict(latent=(8,), flat_output=True, image=(1, 16, 16)), (8,), (1, 16, 16), "flat", "tanh"),
], ids=["flat", "d11", "spatial", "nhwc-sigmoid", "uint8", "flat-output"])
def test_generator_interfaces(tmp_path, kwargs, latent, image, layout, range_kind):
    """Flat, [d,1,1] and spatial latents; NCHW, NHWC and flat outputs; tanh, sigmoid and uint8 ranges."""
    model = load_model(builders.generator(tmp_path / "g.onnx", **kwargs), device="cpu")
    info = model.info
    assert info.kind == ModelKind.GENERATOR
    assert info.latent_shape == latent and info.image_shape == image
    assert info.layout == layout and info.range_kind == range_kind
    out = model.generate(model.sample_latents(np.random.default_rng(0), 5))
    assert out.shape == (5, *image) and out.min() >= 0 and out.max() <= 1


def test_unbounded_output_is_an_assumption(tmp_path):
    """With no final squashing op the range is read from trial outputs and listed as an assumption."""
    info = load_model(builders.generator(tmp_path / "g.onnx", activation=None), device="cpu").info
    assert info.range_kind == "unbounded" and any("--range" in a for a in info.assumptions)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_autoencoder(tmp_path, layout):
    """Image in, same image shape out: an autoencoder, in either layout; reconstruct() round-trips layout."""
    model = load_model(builders.autoencoder(tmp_path / "a.onnx", image=(3, 16, 16), layout=layout), device="cpu")
    assert model.info.kind == ModelKind.AUTOENCODER and model.info.layout == layout
    x = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
    expected = 1 / (1 + np.exp(-(4 * x - 2)))
    np.testing.assert_allclose(model.reconstruct(x), expected, atol=1e-5)


def test_conditional_generator_reads_classes_from_embedding(tmp_path):
    """A label input feeding a Gather on a [5, d] table: conditional generator with 5 classes."""
    model = load_model(builders.conditional_generator(tmp_path / "c.onnx", classes=5), device="cpu")
    assert model.info.kind == ModelKind.CONDITIONAL_GENERATOR and model.info.num_classes == 5
    rng = np.random.default_rng(0)
    out = model.generate(model.sample_latents(rng, 3), model.sample_labels(rng, 3))
    assert out.shape == (3, 1, 12, 12)


def test_batch_dropping_graph_runs_row_by_row(tmp_path):
    """A dynamic batch that really returns one image is run one row at a time, and says so."""
    model = load_model(builders.batch_dropping_generator(tmp_path / "d.onnx"), device="cpu")
    assert model.info.batch_mode == "row-by-row"
    z = model.sample_latents(np.random.default_rng(0), 4)
    out = model.generate(z)
    assert out.shape == (4, 1, 12, 12)
    assert not np.allclose(out[0], out[1])  # each row really got its own latent


def test_fixed_batch_is_padded(tmp_path):
    """A graph with a fixed batch of 4 still serves populations of any size."""
    model = load_model(builders.generator(tmp_path / "f.onnx", batch=4), device="cpu")
    assert not model.info.dynamic_batch
    assert model.generate(model.sample_latents(np.random.default_rng(0), 7)).shape == (7, 1, 12, 12)


def test_nan_output_is_a_run_error(tmp_path):
    """NaN outputs stop inspection with a one-line ModelRunError."""
    with pytest.raises(ModelRunError, match="NaN"):
        load_model(builders.nan_generator(tmp_path / "n.onnx"), device="cpu")


def test_overrides_replace_inference(tmp_path):
    """--kind/--range overrides win over inference."""
    info = load_model(builders.generator(tmp_path / "g.onnx", activation=None), device="cpu",
                      overrides=Overrides(value_range=(-3.0, 3.0))).info
    assert info.value_range == (-3.0, 3.0) and info.range_kind == "given"


def test_model_without_image_output_is_out_of_scope(tmp_path):
    """A model whose output is not an image (a classifier, an encoder) is UNKNOWN, not broken: the report says why
    and which flag would make it an image model; with --layout given it is an inspection error."""
    path = builders.generator(tmp_path / "g.onnx", flat_output=True, image=(1, 5, 7))
    info = load_model(path, device="cpu").info
    assert info.kind == ModelKind.UNKNOWN and info.image_shape is None
    assert any("not an image" in a and "--layout" in a for a in info.assumptions)
    with pytest.raises(InspectionError, match="--layout"):
        load_model(path, device="cpu", overrides=Overrides(layout="NCHW"))


def test_committed_fixtures_inspect_correctly(fixtures_dir):
    """Every committed ONNX fixture is inspected as its manifest's ground truth says (manifest not read by
    the auditor: the test compares)."""
    import json

    manifest = json.loads((fixtures_dir / "manifest.json").read_text())
    for entry in manifest["models"]:
        if entry["format"] != "onnx" or entry["kind"] == "classifier":
            continue
        info = load_model(fixtures_dir / entry["file"], device="cpu").info
        expected_kind = "autoencoder" if entry["kind"] == "autoencoder" else "generator"
        assert info.kind.value == expected_kind, entry["file"]
        assert list(info.image_shape) == entry["output"]["shape"][1:], entry["file"]
        assert list(info.value_range) == entry["output"]["range"], entry["file"]
        if entry["latent_shape"]:
            assert list(info.latent_shape) == entry["latent_shape"], entry["file"]
