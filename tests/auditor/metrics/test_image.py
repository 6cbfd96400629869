"""Batched SSIM/PSNR/MSE against scikit-image, and their basic properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from auditor.metrics.image import mse, psnr, ssim

images = arrays(np.float32, st.tuples(st.integers(1, 3), st.sampled_from([1, 3]), st.integers(11, 20),
                                      st.integers(11, 20)), elements=st.floats(0, 1, width=32))


@settings(max_examples=25, deadline=None)
@given(images, st.integers(0, 2**31 - 1))
def test_ssim_matches_skimage(a, seed):
    """Per-sample SSIM equals skimage's gaussian-weighted SSIM (Wang et al. settings) to 1e-5 (skimage
    computes float32 inputs in float32, we in float64)."""
    b = np.clip(a + 0.2 * np.random.default_rng(seed).standard_normal(a.shape), 0, 1).astype(np.float32)
    ref = [structural_similarity(a[i], b[i], data_range=1.0, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=0) for i in range(len(a))]
    np.testing.assert_allclose(ssim(a, b), ref, atol=1e-5)


@given(images)
def test_ssim_of_identical_images_is_one(a):
    """SSIM(x, x) = 1."""
    np.testing.assert_allclose(ssim(a, a), 1.0, atol=1e-9)


def test_psnr_matches_skimage_and_caps():
    """PSNR equals skimage's and is capped (finite) for identical images."""
    rng = np.random.default_rng(0)
    a = rng.random((2, 1, 16, 16))
    b = np.clip(a + 0.05, 0, 1)
    np.testing.assert_allclose(psnr(a, b), [peak_signal_noise_ratio(a[i], b[i], data_range=1.0) for i in range(2)])
    assert psnr(a, a).tolist() == [100.0, 100.0]
    assert mse(a, b).shape == (2,)


def test_shape_errors():
    """Mismatched shapes and too-small images are refused."""
    with pytest.raises(ValueError):
        ssim(np.zeros((1, 1, 16, 16)), np.zeros((1, 1, 16, 15)))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 8, 8)))


@given(st.integers(1, 3), st.sampled_from([8, 16, 24, 32]), st.integers(0, 2**31 - 1))
def test_pooled_features_are_block_means(channels, side, seed):
    """Shape [..., C*8*8]; on a side divisible by 8 each feature is a block mean, so the overall mean is kept."""
    from auditor.metrics.image import pooled_features

    x = np.random.default_rng(seed).random((2, 3, channels, side, side))
    f = pooled_features(x)
    assert f.shape == (2, 3, channels * 64)
    np.testing.assert_allclose(f.mean(-1), x.mean(axis=(-1, -2, -3)), rtol=1e-9)
