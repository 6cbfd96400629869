"""TorchScript through torch: converted to ONNX, checked against torch; pickled checkpoints refused."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from auditor.errors import ModelLoadError  # noqa: E402
from auditor.loading import load_model  # noqa: E402
from auditor.runner import AuditConfig, run_audit  # noqa: E402


def _traced(tmp_path, module, example):
    path = tmp_path / "m.pt"
    torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


def test_traced_generator_is_inspected_and_flagged_as_code(tmp_path):
    """A traced generator loads as a generator, and the report says TorchScript carries code."""
    module = torch.nn.Sequential(torch.nn.Linear(12, 256), torch.nn.Sigmoid(), torch.nn.Unflatten(1, (1, 16, 16)))
    path = _traced(tmp_path, module, torch.randn(2, 12))
    model = load_model(path, device="cpu")
    assert model.info.format == "torchscript" and model.info.latent_shape == (12,)
    z = model.sample_latents(np.random.default_rng(0), 4)
    np.testing.assert_allclose(model.generate(z)[:, 0], module(torch.from_numpy(z)).detach().numpy()[:, 0],
                               atol=1e-5)
    report = run_audit(path, AuditConfig(device="cpu"))
    assert any(f.code == "STATIC-TORCHSCRIPT-001" for f in report.static_findings)


def test_traced_conv_autoencoder_finds_its_image_size(tmp_path):
    """A conv autoencoder that only accepts 32x32 RGB has its input size found by trial."""
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3, padding=1), torch.nn.Flatten(),
                                 torch.nn.Linear(2 * 32 * 32, 3 * 32 * 32), torch.nn.Sigmoid(),
                                 torch.nn.Unflatten(1, (3, 32, 32)))
    info = load_model(_traced(tmp_path, module, torch.rand(2, 3, 32, 32)), device="cpu").info
    assert info.kind.value == "autoencoder" and info.image_shape == (3, 32, 32)


def test_pickled_checkpoint_is_refused(tmp_path):
    """torch.save of a whole module is a pickle: refused without unpickling."""
    path = tmp_path / "ckpt.pt"
    torch.save(torch.nn.Linear(2, 2), str(path))
    with pytest.raises(ModelLoadError, match="pickled torch checkpoint"):
        load_model(path, device="cpu")


@pytest.mark.parametrize("stem", ["vae_mnist_kld_vae", "gan_mnist_classes"])
def test_fixture_torchscript_matches_its_onnx_twin(fixtures_dir, stem):
    """The committed TorchScript generators behave like their ONNX exports under the auditor."""
    pt = load_model(fixtures_dir / f"{stem}.pt", device="cpu")
    ox = load_model(fixtures_dir / f"{stem}.onnx", device="cpu")
    assert pt.info.latent_shape == ox.info.latent_shape
    z = pt.sample_latents(np.random.default_rng(0), 3)
    np.testing.assert_allclose(pt.generate(z), ox.generate(z), atol=1e-4)
