"""Exact gradients (torch autograd through the ONNX graph) agree with query-only ones on real fixtures."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from auditor.errors import AuditorError  # noqa: E402
from auditor.gradients import make_oracle  # noqa: E402
from auditor.loading import load_model  # noqa: E402
from tests.auditor import builders  # noqa: E402


def _targets(model, n, seed):
    rng = np.random.default_rng(seed)
    return model.sample_latents(rng, n), model.generate(model.sample_latents(rng, n))


@pytest.mark.parametrize("name, estimator", [("vae_mnist_kld_vae.onnx", "central"),
                                             ("gan_mnist_clean.onnx", "forward")])
def test_exact_and_query_only_gradients_agree(fixtures_dir, name, estimator):
    """Same loss to 1e-6; gradients with cosine > 0.99 and norms within 5% (central / forward differences)."""
    model = load_model(fixtures_dir / name, device="cpu")
    exact, query = make_oracle(model, "exact"), make_oracle(model, "query")
    assert exact.exact and query.mode == estimator
    z, targets = _targets(model, 4, 0)
    v_exact, g_exact = exact.mse_and_grad(z, targets, None)
    v_query, g_query = query.mse_and_grad(z, targets, None, np.random.default_rng(1))
    np.testing.assert_allclose(v_exact, v_query, atol=1e-6)
    a, b = g_exact.reshape(4, -1), g_query.reshape(4, -1)
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99
    np.testing.assert_allclose(np.linalg.norm(b, axis=1) / np.linalg.norm(a, axis=1), 1.0, atol=0.05)
    assert exact.rows == 4 and "checked against onnxruntime" in exact.note


def test_auto_uses_exact_when_torch_and_the_graph_allow(tmp_path):
    model = load_model(builders.generator(tmp_path / "g.onnx"), device="cpu")
    assert make_oracle(model, "auto").exact
    assert not make_oracle(model, "query").exact


def test_unsupported_graph_fails_exact_and_falls_back_under_auto(tmp_path, monkeypatch):
    """A graph the interpreter cannot evaluate: `exact` fails with a one-line reason, `auto` records why it fell
    back to query-only."""
    from auditor.gradients import onnx_torch

    model = load_model(builders.generator(tmp_path / "g.onnx"), device="cpu")
    monkeypatch.delitem(onnx_torch.OPS, "Tanh")
    with pytest.raises(AuditorError, match="--gradients exact: .*Tanh"):
        make_oracle(model, "exact")
    fallback = make_oracle(model, "auto")
    assert not fallback.exact and "Tanh" in fallback.note


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_autoencoder_reconstruction_matches_onnxruntime_and_has_input_gradients(tmp_path, layout):
    """Autoencoders: the torch graph reconstructs as onnxruntime does (either layout) and is differentiable in
    the input image, which mask reverse-engineering optimises."""
    import torch

    from auditor.gradients.exact import ExactOracle

    model = load_model(builders.autoencoder(tmp_path / "ae.onnx", image=(3, 8, 8), layout=layout), device="cpu")
    oracle = ExactOracle(model)
    images = np.random.default_rng(0).random((5, 3, 8, 8), dtype=np.float32)
    x = torch.from_numpy(images).requires_grad_()
    out = oracle.reconstruct(x)
    np.testing.assert_allclose(out.detach().numpy(), model.reconstruct(images), atol=1e-5)
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.shape == x.shape and float(grad.abs().min()) > 0 and oracle.rows == 5


def test_integer_image_input_has_no_gradient(tmp_path):
    """A uint8 image input cannot be differentiated: a clear refusal, not a crash."""
    import dataclasses

    from auditor.gradients.exact import ExactOracle

    model = load_model(builders.autoencoder(tmp_path / "ae.onnx"), device="cpu")
    first = dataclasses.replace(model.info.inputs[0], dtype="uint8")
    model.info = dataclasses.replace(model.info, inputs=(first, *model.info.inputs[1:]))
    with pytest.raises(AuditorError, match="uint8"):
        ExactOracle(model)
