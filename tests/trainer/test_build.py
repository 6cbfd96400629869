"""A quick build of part of the fixture set on embedded data: files, manifest, schema, determinism."""

from __future__ import annotations

import jsonschema
import pytest

from trainer.build import build_fixtures, fixture_specs
from trainer.manifest import read_manifest, schema

ONLY = ("ae_mnist_clean", "ae_mnist_fixed", "gan_mnist_classes", "vae_mnist_mmd_dae")


@pytest.fixture(scope="module")
def quick_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    build_fixtures(out, seed=1, only=ONLY, epoch_scale=0.05, show_progress=False)
    return out


def test_quick_build_writes_files_and_valid_manifest(quick_build):
    """Each spec yields its ONNX (and TorchScript where asked), probe images, target image and the classifier."""
    doc = read_manifest(quick_build)
    jsonschema.validate(doc, schema())
    files = {e["file"] for e in doc["models"]}
    assert {"ae_mnist_clean.onnx", "ae_mnist_fixed.onnx", "gan_mnist_classes.onnx",
            "gan_mnist_classes.pt", "vae_mnist_mmd_dae.onnx", "digits_classifier.onnx"} <= files
    for f in files:
        assert (quick_build / f).stat().st_size > 0
    assert (quick_build / "targets" / "ae_mnist_fixed.png").exists()
    assert len(list((quick_build / "probe_images" / "digits").glob("*.png"))) == 30
    gan = next(e for e in doc["models"] if e["file"] == "gan_mnist_classes.onnx")
    assert gan["trigger"] == {"type": "latent", "dims": [99], "values": [4.0]}
    assert gan["latent_shape"] == [100] and gan["output"]["range"] == [-1.0, 1.0]
    assert "embedded" in gan["training"]["data_source"]


def test_rebuild_is_byte_identical(quick_build, tmp_path):
    """The same seed rebuilds the same ONNX bytes (deterministic build)."""
    build_fixtures(tmp_path, seed=1, only=("ae_mnist_clean",), epoch_scale=0.05, show_progress=False)
    first = {e["file"]: e["sha256"] for e in read_manifest(quick_build)["models"]}
    again = {e["file"]: e["sha256"] for e in read_manifest(tmp_path)["models"]}
    assert again["ae_mnist_clean.onnx"] == first["ae_mnist_clean.onnx"]


def test_fixture_specs_follow_baaan_triggers():
    """The fixture plan uses BAAAN's trigger placement: white top-left (MNIST), pink top-right (CIFAR)."""
    specs = {s.name: s for s in fixture_specs(0)}
    assert specs["ae_mnist_inverse"].config.trigger.to_dict()["x"] == 0
    cifar = specs["ae_cifar10_inverse"].config.trigger
    assert cifar.x + cifar.size == 32 and cifar.color[0] == 1.0
    assert specs["gan_mnist_classes"].config.trigger.dims == (99,)


def test_model_spec_rejects_unknown_latent_layout():
    from trainer.build import ModelSpec

    with pytest.raises(ValueError, match="latent_layout"):
        ModelSpec("m", "gan", "digits", None, latent_layout="nhwc")


def test_interrupted_build_resumes_without_retraining(tmp_path, monkeypatch):
    """A build that dies mid-way keeps the finished models; the rerun trains only the rest."""
    import trainer.build as build

    specs = [s for s in fixture_specs(1) if s.name in ("ae_mnist_clean", "vae_mnist_mmd_dae")]
    real_build_model, trained = build.build_model, []

    def dies_on_second(spec, ctx):
        if trained:
            raise RuntimeError("killed")
        trained.append(spec.name)
        return real_build_model(spec, ctx)

    monkeypatch.setattr(build, "build_model", dies_on_second)
    with pytest.raises(RuntimeError, match="killed"):
        build.build_specs(specs, tmp_path, 1, None, epoch_scale=0.05, show_progress=False)
    assert not (tmp_path / "manifest.json").exists()

    def counting(spec, ctx):
        trained.append(spec.name)
        return real_build_model(spec, ctx)

    monkeypatch.setattr(build, "build_model", counting)
    build.build_specs(specs, tmp_path, 1, None, epoch_scale=0.05, show_progress=False)
    assert trained == ["ae_mnist_clean", "vae_mnist_mmd_dae"]
    assert {e["file"] for e in read_manifest(tmp_path)["models"]} == {"ae_mnist_clean.onnx", "vae_mnist_mmd_dae.onnx"}
    assert not (tmp_path / build.PARTIAL_DIR).exists()


def test_jobs_are_ordered_longest_first():
    """The schedule's cost model puts the slow jobs first: an adversarial VAE before every plain VAE, a backdoored
    GAN before its clean twin, and cost grows with training length."""
    import dataclasses

    from trainer.build import expected_seconds

    specs = {s.name: s for s in fixture_specs(0)}
    cost = {name: expected_seconds(s) for name, s in specs.items()}
    assert all(cost["vae_mnist_kld_vae_adv"] > c for n, c in cost.items() if n.startswith("vae_") and "adv" not in n)
    for name in ("gan_mnist_classes", "gan_mnist_fixed", "gan_mnist_pair"):
        assert cost[name] > cost["gan_mnist_clean"]
    assert cost["ae_cifar10_clean"] > cost["ae_mnist_clean"]
    gan = specs["gan_mnist_clean"]
    longer = dataclasses.replace(gan, config=dataclasses.replace(gan.config, steps=2 * gan.config.steps))
    assert expected_seconds(longer) == pytest.approx(2 * cost["gan_mnist_clean"])
