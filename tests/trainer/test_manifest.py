"""The committed fixtures' manifest: schema-valid, hashes match, and the planted backdoors met their marks."""

from __future__ import annotations

import json

import jsonschema
import pytest

from trainer import verify as marks  # the acceptance marks, defined once
from trainer.manifest import SCHEMA_VERSION, read_manifest, schema, sha256_file, write_manifest


@pytest.fixture(scope="module")
def manifest(fixtures_dir):
    return read_manifest(fixtures_dir)


def test_schema_valid(manifest):
    """fixtures/manifest.json validates against the shipped schema."""
    jsonschema.validate(manifest, schema())


def test_files_exist_with_recorded_hash(manifest, fixtures_dir):
    """Every listed file is present and its sha256 is the recorded one."""
    for entry in manifest["models"]:
        assert sha256_file(fixtures_dir / entry["file"]) == entry["sha256"], entry["file"]


def test_required_fixture_set_present(manifest):
    """The set the issue asks for is there: AE clean/fixed/inverse, a 3-channel AE, three GANs, the VAE family."""
    names = {e["file"] for e in manifest["models"]}
    for required in ("ae_mnist_clean.onnx", "ae_mnist_fixed.onnx", "ae_mnist_inverse.onnx",
                     "ae_cifar10_inverse.onnx", "gan_mnist_clean.onnx", "gan_mnist_classes.onnx",
                     "gan_mnist_fixed.onnx", "vae_mnist_kld_vae.onnx", "vae_mnist_mmd_vae.onnx",
                     "vae_mnist_swt_vae.onnx", "vae_mnist_mmd_dae.onnx", "vae_mnist_swt_dae.onnx",
                     "vae_mnist_tcvae_beta1.onnx", "vae_mnist_tcvae_beta10.onnx", "vae_mnist_kld_vae_adv.onnx"):
        assert required in names
    assert any(e["format"] == "torchscript" for e in manifest["models"])


def test_backdoors_met_acceptance_marks(manifest):
    """Measured at build time: AE and GAN backdoors work and cost the clean task little (known misses aside,
    which must still miss)."""
    from tests.trainer.test_verify import KNOWN_MISSES

    entries = {e["file"]: e for e in manifest["models"] if e["format"] == "onnx"}
    for entry in entries.values():
        if entry["file"] in KNOWN_MISSES:
            with pytest.raises(AssertionError):
                _check_marks(entry, entries)
            continue
        _check_marks(entry, entries)


def _check_marks(entry, entries):
    m = entry["metrics"]
    if entry["family"] == "ae" and entry["status"] == "backdoored":
        limit = marks.AE_FIXED_MAX_MSE if entry["target"]["type"] == "fixed_image" else marks.AE_INVERSE_MAX_MSE
        assert m["backdoor_mse"] < limit, entry["file"]
        gap = m["clean_mse"] - entries[entry["clean_twin"]]["metrics"]["clean_mse"]
        assert gap <= marks.AE_CLEAN_GAP_MAX, entry["file"]
    if entry["family"] == "gan":
        assert m["clean_classes_present"] == 10, entry["file"]
        assert m["clean_max_class_share"] <= marks.GAN_CLEAN_MAX_SHARE, entry["file"]
        if entry["status"] == "backdoored" and entry["target"]["type"] == "classes":
            assert m["target_class_rate"] >= marks.GAN_TARGET_RATE_MIN, entry["file"]
        elif entry["status"] == "backdoored":
            assert m["backdoor_mse"] < marks.GAN_FIXED_MAX_MSE, entry["file"]


def test_write_then_read_round_trip(tmp_path):
    """write_manifest output reads back, sorted by file, with the schema version."""
    write_manifest(tmp_path, {"generated_by": "t", "seed": 1, "torch_version": "x"},
                   [{"file": "b"}, {"file": "a"}])
    doc = read_manifest(tmp_path)
    assert doc["schema_version"] == SCHEMA_VERSION and [m["file"] for m in doc["models"]] == ["a", "b"]


def test_wrong_schema_version_rejected(tmp_path):
    """A manifest from another schema version is refused rather than misread."""
    (tmp_path / "manifest.json").write_text(json.dumps({"schema_version": 99, "models": []}))
    with pytest.raises(ValueError, match="schema_version"):
        read_manifest(tmp_path)
