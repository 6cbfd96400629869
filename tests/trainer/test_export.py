"""ONNX and TorchScript exports: single file, dynamic batch, checker-clean, parity with torch."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from trainer.export import ExportError, _check_parity, export_onnx, export_torchscript
from trainer.models import ConvAutoencoder, Generator, VAEDecoder


@pytest.mark.parametrize("model,example,kind", [
    (ConvAutoencoder(1, 28, 8, 8), torch.rand(2, 1, 28, 28), "image"),
    (Generator(16, 3, 32, 8), torch.randn(2, 16), "latent"),
    (VAEDecoder(1, 28, 4), torch.randn(2, 4), "latent"),
], ids=["ae", "gan-rgb", "vae-decoder"])
def test_onnx_export_is_single_file_dynamic_and_matches(tmp_path, model, example, kind):
    """The export is one opset-18 file with a symbolic batch axis that runs any batch size like torch."""
    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    error = export_onnx(model, example, path, input_kind=kind, metadata={"producer": "test"})
    assert error <= 1e-4
    assert list(tmp_path.iterdir()) == [path]  # no external .data file
    proto = onnx.load(str(path))
    assert any(o.domain in ("", "ai.onnx") and o.version == 18 for o in proto.opset_import)
    batch_dim = proto.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.dim_value
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: example[:1].numpy()})[0]
    assert out.shape[0] == 1


def test_torchscript_export_round_trips(tmp_path):
    """A traced TorchScript file reloads and matches the module."""
    model = ConvAutoencoder(1, 28, 8, 8)
    assert export_torchscript(model, torch.rand(2, 1, 28, 28), tmp_path / "m.pt", input_kind="image") <= 1e-4


def test_parity_failure_is_reported(tmp_path):
    """A runtime that disagrees with torch raises ExportError naming the file."""
    model = VAEDecoder(1, 28, 4).eval()
    with pytest.raises(ExportError, match="bad.onnx"):
        _check_parity(model, lambda x: model(torch.from_numpy(x)).detach().numpy() + 0.01, torch.randn(2, 4),
                      "latent", tmp_path / "bad.onnx")
    with pytest.raises(ExportError, match="shape"):
        _check_parity(model, lambda x: np.zeros((1, 1, 28, 28)), torch.randn(2, 4), "latent", tmp_path / "b.onnx")
