"""Exact latent gradients: the model's ONNX graph evaluated by torch (``onnx_torch``) with autograd.

The conversion is checked against onnxruntime on a random batch before any gradient is used. Work is counted
in ``rows`` (forward rows through torch, each followed by a backward pass), apart from onnxruntime's counter.
"""

from __future__ import annotations

import numpy as np
import torch

from auditor.errors import AuditorError
from auditor.gradients.onnx_torch import TorchGraph
from auditor.records import ModelKind

VERIFY_ROWS = 4


class ExactOracle:
    exact = True
    mode = "exact"

    def __init__(self, model) -> None:
        if model.onnx_file is None:
            raise AuditorError("no ONNX graph to differentiate")
        self.model = model
        self.graph = TorchGraph(model.onnx_file.proto)
        info = model.info
        self.output_index = [o.name for o in info.outputs].index(model._output_name())
        rng = np.random.default_rng(0)
        if info.kind is ModelKind.AUTOENCODER:
            if not info.inputs[0].dtype.startswith("float"):
                raise AuditorError(f"a {info.inputs[0].dtype} image input has no gradient")
            feeds = {info.inputs[0].name: model.from_unit(rng.random((VERIFY_ROWS, *info.image_shape),
                                                                     dtype=np.float32))}
        else:
            z = model.sample_latents(rng, VERIFY_ROWS)
            feeds = model.generator_feeds(z, model.sample_labels(rng, VERIFY_ROWS))
        self.verified_max_diff = self.graph.verify(model.runner.session, feeds)
        self.rows = 0
        self.note = (f"exact: torch autograd through the ONNX graph (checked against onnxruntime, max difference "
                     f"{self.verified_max_diff:.1e})")

    def rows_per_latent(self) -> int:
        return 1

    def generate(self, z: torch.Tensor, labels: np.ndarray | None = None) -> torch.Tensor:
        """Latents (a torch tensor, may require grad) -> NCHW images in [0, 1], like ``AuditModel.generate``."""
        info = self.model.info
        feeds = {info.inputs[0].name: z}
        if info.label_input:
            feeds[info.label_input] = torch.from_numpy(self.model._label_feed(labels))
        return self._to_unit(self.graph(feeds)[self.output_index])

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """Autoencoders: NCHW [0, 1] images (a torch tensor, may require grad) -> NCHW [0, 1] outputs, like
        ``AuditModel.reconstruct``."""
        info = self.model.info
        lo, hi = info.value_range
        x = images * (hi - lo) + lo
        if self.model.input_channels_last:
            x = x.permute(0, 2, 3, 1)
        return self._to_unit(self.graph({info.inputs[0].name: x})[self.output_index])

    def _to_unit(self, out: torch.Tensor) -> torch.Tensor:
        """The model's output -> NCHW [0, 1] (``AuditModel.to_unit`` in torch); counts the rows."""
        info = self.model.info
        out = out.float()
        c, h, w = info.image_shape
        if info.layout == "NHWC":
            out = out.permute(0, 3, 1, 2)
        out = out.reshape(len(out), c, h, w)
        lo, hi = info.value_range
        self.rows += len(out)
        return torch.clamp((out - lo) / (hi - lo), 0.0, 1.0) if hi > lo else out

    def mse_and_grad(self, z: np.ndarray, targets: np.ndarray, labels: np.ndarray | None,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        latent = torch.tensor(z, dtype=torch.float32, requires_grad=True)
        out = self.generate(latent, labels)
        per_sample = ((out - torch.from_numpy(targets.astype(np.float32))) ** 2).mean(dim=(1, 2, 3))
        (grad,) = torch.autograd.grad(per_sample.sum(), latent)
        return per_sample.detach().numpy().astype(np.float64), grad.numpy()
