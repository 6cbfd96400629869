"""Export to ONNX (torch 2.13 dynamo exporter, one file, opset 18, dynamic batch) and TorchScript, each checked.

Every ONNX export passes onnx.checker's full check and an onnxruntime-vs-torch parity test on batches of
several sizes (a graph that silently fixed its batch at the traced size fails it); every TorchScript export is
reloaded and compared the same way.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

PARITY_TOLERANCE = 1e-4
PARITY_BATCHES = (1, 3, 17)


class ExportError(RuntimeError):
    """An exported file failed its check or its parity test."""


def _session(path: Path):
    from auditor.loading.session import make_session  # the one session factory: quiet logs, no spinning threads

    return make_session(path.read_bytes(), device="cpu")[0]


def export_onnx(model: torch.nn.Module, example: torch.Tensor, path: str | Path, *, input_kind: str,
                metadata: dict[str, str] | None = None) -> float:
    """Exports ``model`` to a single ONNX file; returns the worst parity error seen.

    ``input_kind`` is "image" (parity inputs uniform in [0, 1]) or "latent" (standard normal).
    """
    path = Path(path)
    model = model.eval().cpu()
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example.cpu(),), str(path), dynamo=True, external_data=False,
                          opset_version=18, dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
                          input_names=["input"], output_names=["output"])
    proto = onnx.load(str(path))
    if metadata:
        onnx.helper.set_model_props(proto, metadata)
        onnx.save(proto, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    session = _session(path)
    name = session.get_inputs()[0].name
    return _check_parity(model, lambda x: session.run(None, {name: x})[0], example, input_kind, path)


def export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: str | Path, *,
                       input_kind: str) -> float:
    """Traces ``model`` to TorchScript, reloads it and checks parity; returns the worst error seen."""
    path = Path(path)
    model = model.eval().cpu()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in 2.13 but still the TorchScript route
        traced = torch.jit.trace(model, example.cpu())
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
    return _check_parity(model, lambda x: loaded(torch.from_numpy(x)).detach().numpy(), example, input_kind,
                         path)


@torch.no_grad()
def _check_parity(model: torch.nn.Module, run, example: torch.Tensor, input_kind: str, path: Path) -> float:
    if input_kind not in ("image", "latent"):
        raise ValueError(f"input_kind must be 'image' or 'latent', got {input_kind!r}")
    rng = np.random.default_rng(0)
    worst = 0.0
    for batch in PARITY_BATCHES:
        if input_kind == "image":
            x = rng.random((batch, *example.shape[1:]), dtype=np.float32)
        else:
            x = rng.standard_normal((batch, *example.shape[1:])).astype(np.float32)
        expected = model(torch.from_numpy(x)).numpy()
        got = np.asarray(run(x))
        if got.shape != expected.shape:
            raise ExportError(f"{path.name}: batch {batch} gave shape {got.shape}, torch gave {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
    if not worst <= PARITY_TOLERANCE:
        raise ExportError(f"{path.name}: max |runtime - torch| = {worst:.2e} > {PARITY_TOLERANCE:.0e}")
    return worst
