"""Exact latent gradients: the model's ONNX graph evaluated by torch (``onnx_torch``) with autograd.

The conversion is checked against onnxruntime on a random batch before any gradient is used. Work is counted
in ``rows`` (forward rows through torch, each followed by a backward pass), apart from onnxruntime's counter.
"""

from __future__ import annotations

import numpy as np
import torch

from auditor.errors import AuditorError
from auditor.gradients.onnx_torch import TorchGraph

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
        z = model.sample_latents(rng, VERIFY_ROWS)
        labels = model.sample_labels(rng, VERIFY_ROWS)
        feeds = model.generator_feeds(z, labels)
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
        out = self.graph(feeds)[self.output_index].float()
        c, h, w = info.image_shape
        if info.layout == "NHWC":
            out = out.permute(0, 3, 1, 2)
        out = out.reshape(len(out), c, h, w)
        lo, hi = info.value_range
        self.rows += len(z)
        return torch.clamp((out - lo) / (hi - lo), 0.0, 1.0) if hi > lo else out

    def mse_and_grad(self, z: np.ndarray, targets: np.ndarray, labels: np.ndarray | None,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        latent = torch.tensor(z, dtype=torch.float32, requires_grad=True)
        out = self.generate(latent, labels)
        per_sample = ((out - torch.from_numpy(targets.astype(np.float32))) ** 2).mean(dim=(1, 2, 3))
        (grad,) = torch.autograd.grad(per_sample.sum(), latent)
        return per_sample.detach().numpy().astype(np.float64), grad.numpy()
