"""Batched image similarity for NCHW float images in [0, 1].

``ssim`` is Wang et al.'s SSIM with an 11-tap gaussian window (sigma 1.5), population covariance and the
radius-5 border cropped: exactly scikit-image's ``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1)`` averaged over channels, computed for a whole batch with one
separable filter call per moment (written here because looping scikit-image over samples is ~10x slower).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

SIGMA = 1.5
TRUNCATE = 3.5
K1, K2 = 0.01, 0.03


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"expected two NCHW batches of the same shape, got {a.shape} and {b.shape}")


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Per-sample SSIM of two NCHW batches (mean over channels and the cropped window positions)."""
    _check(a, b)
    radius = int(TRUNCATE * SIGMA + 0.5)
    if min(a.shape[2:]) < 2 * radius + 1:
        raise ValueError(f"images must be at least {2 * radius + 1} pixels on each side, got {a.shape[2:]}")
    a, b = a.astype(np.float64), b.astype(np.float64)

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma=(0, 0, SIGMA, SIGMA), truncate=TRUNCATE, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s[:, :, radius:-radius, radius:-radius].mean(axis=(1, 2, 3))


def mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-sample mean squared error."""
    _check(a, b)
    return ((a.astype(np.float64) - b) ** 2).mean(axis=(1, 2, 3))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, cap: float = 100.0) -> np.ndarray:
    """Per-sample PSNR in dB, capped at ``cap`` for identical images (so curves stay finite)."""
    err = mse(a, b)
    with np.errstate(divide="ignore"):
        value = 10 * np.log10(data_range ** 2 / err)
    return np.minimum(value, cap)


def pooled_features(images: np.ndarray, size: int = 8) -> np.ndarray:
    """[..., C, H, W] -> [..., C*size*size] block means: cheap features that need no downloaded weights (used to
    compare output populations and to find tightly packed outputs)."""
    *lead, c, h, w = images.shape
    fh, fw = max(1, h // size), max(1, w // size)
    x = images[..., : h - h % fh, : w - w % fw].astype(np.float64)
    x = x.reshape(*lead, c, h // fh, fh, w // fw, fw).mean(axis=(-1, -3))
    return x.reshape(*lead, -1)
