"""Distortion-distortion curves and their areas (AADDC, seed 003).

A DD-curve plots an output distortion (SSIM, MSE, ...) against the latent attack budget epsilon. Seed 003
scores robustness by the area between the curve and a baseline: for a similarity (SSIM, higher = better) the
area under the curve; for a distance (MSE, LPIPS, lower = better) the area above it, up to a baseline. Here
both are normalised to [0, 1] so models are comparable: divide by the epsilon span, and express distances
relative to a reference distance (the distance between unrelated outputs of the same model), clipped at 1.
Higher AADDC = more robust in both cases.
"""

from __future__ import annotations

import numpy as np


def _check_curve(eps, values) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(eps, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(f"need matching 1-d eps and values of length >= 2, got {x.shape} and {y.shape}")
    if not np.all(np.diff(x) > 0):
        raise ValueError("eps must be strictly increasing")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("eps and values must be finite")
    return x, y


def aaddc_similarity(eps, values) -> float:
    """Normalised area under a similarity curve (SSIM in [0, 1]): 1 = untouched at every budget."""
    x, y = _check_curve(eps, np.clip(values, 0.0, 1.0))
    return float(np.trapezoid(y, x) / (x[-1] - x[0]))


def aaddc_distance(eps, values, reference: float) -> float:
    """Normalised area above a distance curve, with ``reference`` as the baseline (distance counted as total
    damage): 1 = no distortion at any budget, 0 = outputs as different as unrelated samples throughout."""
    if not reference > 0:
        raise ValueError(f"reference distance must be positive, got {reference}")
    x, y = _check_curve(eps, values)
    damage = np.clip(y / reference, 0.0, 1.0)
    return float(np.trapezoid(1.0 - damage, x) / (x[-1] - x[0]))


def budget_at(eps, values, level: float) -> float | None:
    """The smallest epsilon at which a decreasing similarity curve falls to ``level`` (linear interpolation);
    None when it never does within the sweep."""
    x, y = _check_curve(eps, values)
    below = np.flatnonzero(y <= level)
    if len(below) == 0:
        return None
    k = below[0]
    if k == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[k - 1], x[k], y[k - 1], y[k]
    return float(x0 + (y0 - level) / (y0 - y1) * (x1 - x0)) if y0 != y1 else float(x1)
