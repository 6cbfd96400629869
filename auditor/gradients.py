"""Gradients of a per-sample loss with respect to the latent, from forward queries only.

onnxruntime has no autograd, so gradients are estimated from batched forward passes:

* ``central``: (L(z + h e_i) - L(z - h e_i)) / 2h for every coordinate i: exact up to O(h^2), 2d rows per
  latent. Used when d is small (the latent-robustness paper's decoders have d = 10).
* ``antithetic``: g = (1/n) sum_k (L(z + s u_k) - L(z - s u_k)) / (2 s) * u_k with u_k ~ N(0, I). Since
  E[u u^T] = I, this is an unbiased estimate of the gradient of the s-smoothed loss; 2n rows per latent,
  independent of d. (foolbox's evolutionary-strategies estimator divides by 2 s * 2 n over n/2 pairs; the
  constant here is re-derived so raw magnitudes are right, not only directions.)

All evaluations for all latents of one step go to the model as one population.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LossFn = Callable[[np.ndarray, np.ndarray], np.ndarray]   # (latents [M, *shape], sample index [M]) -> loss [M]
CENTRAL_MAX_DIM = 32


@dataclass(frozen=True)
class GradientOracle:
    """How gradients are estimated; ``mode`` is "central" or "antithetic" (the report records it)."""

    mode: str
    step: float = 1e-2
    directions: int = 32          # antithetic pairs per latent

    @classmethod
    def auto(cls, latent_dim: int, directions: int = 32) -> GradientOracle:
        return cls("central" if latent_dim <= CENTRAL_MAX_DIM else "antithetic", directions=directions)

    def rows_per_latent(self, latent_dim: int) -> int:
        return 2 * (latent_dim if self.mode == "central" else self.directions)

    def __call__(self, loss: LossFn, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Gradient estimates [N, *shape] of ``loss`` at each latent in ``z`` [N, *shape]."""
        n, shape = len(z), z.shape[1:]
        d = int(np.prod(shape))
        flat = z.reshape(n, d)
        if self.mode == "central":
            dirs = np.broadcast_to(np.eye(d, dtype=z.dtype), (n, d, d))
            scale = 1.0
        elif self.mode == "antithetic":
            dirs = rng.standard_normal((n, self.directions, d)).astype(z.dtype)
            scale = 1.0 / self.directions
        else:
            raise ValueError(f"unknown gradient mode {self.mode!r}")
        k = dirs.shape[1]
        plus = flat[:, None, :] + self.step * dirs
        minus = flat[:, None, :] - self.step * dirs
        points = np.concatenate([plus, minus], axis=1).reshape(n * 2 * k, *shape)
        owner = np.repeat(np.arange(n), 2 * k)
        values = loss(points, owner).reshape(n, 2 * k)
        slopes = (values[:, :k] - values[:, k:]) / (2 * self.step)       # [n, k]
        grad = scale * np.einsum("nk,nkd->nd", slopes, dirs)
        return grad.reshape(z.shape).astype(z.dtype)
