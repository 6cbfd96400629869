"""Latent gradients of "how far is G(z) from this image": exact (torch autograd) or query-only (onnxruntime).

Both oracles answer ``mse_and_grad(z, targets, labels, rng) -> (MSE [N], gradient [N, *latent_shape])`` in the
auditor's image convention (NCHW in [0, 1]), which is all latent PGD and generator inversion need.

Modes (``--gradients``):
  query   onnxruntime only: central differences for d <= 32 (2d + 1 rows per latent per step), forward
          differences above (d + 1 rows) while the caller's row budget allows, else antithetic random
          directions (2n + 1 rows). Never imports torch; the default of `auditor scan`.
  exact   torch autograd through the ONNX graph (``onnx_torch.TorchGraph``), verified against onnxruntime on a
          batch before use. Needs torch (the `train` extra); fails with a one-line reason when the graph uses an
          operator the interpreter does not cover.
  auto    exact when torch is installed and the graph converts and verifies, else query; the reason is recorded.
          The default of `auditor invert`, where hundreds of gradient steps make query-only slow at large d.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from auditor.errors import AuditorError
from auditor.gradients.query import GradientOracle, QueryOracle

MODES = ("query", "exact", "auto")

__all__ = ["MODES", "GradientOracle", "QueryOracle", "make_oracle"]


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def make_oracle(model, mode: str = "query", directions: int = 32, rows_per_latent: int | None = None):
    """The gradient oracle for ``model`` in ``mode``; its ``note`` says which was chosen and why.
    ``rows_per_latent`` caps the forward rows a query-only gradient may spend per latent and step."""
    if mode not in MODES:
        raise ValueError(f"gradient mode must be one of {', '.join(MODES)}, got {mode!r}")
    d = int(np.prod(model.info.latent_shape))
    query = QueryOracle(model, GradientOracle.auto(d, directions, rows_per_latent))
    if mode == "query":
        return query
    if not torch_installed():
        if mode == "exact":
            raise AuditorError("--gradients exact needs torch: pip install torch==2.13.0")
        query.note += " (auto: torch is not installed)"
        return query
    from auditor.gradients.exact import ExactOracle

    try:
        return ExactOracle(model)
    except AuditorError as exc:
        if mode == "exact":
            raise AuditorError(f"--gradients exact: {exc}") from None
        query.note += f" (auto: {exc})"
        return query
