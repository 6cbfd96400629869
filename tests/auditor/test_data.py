"""Probe images: folder reading with conversion, refusal of bad input, and self-generated images."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from auditor.data import ImageReadError, load_image, load_image_folder, self_generated_images


def test_folder_reader_converts_channels_and_size(tmp_path):
    """Grey images become RGB at the requested size, floats in [0, 1]."""
    Image.fromarray(np.full((20, 20), 255, dtype=np.uint8)).save(tmp_path / "a.png")
    out = load_image_folder(tmp_path, size=(28, 28), channels=3)
    assert out.shape == (1, 3, 28, 28) and out.dtype == np.float32 and out.max() <= 1.0
    assert load_image(tmp_path / "a.png").shape == (1, 20, 20)


def test_broken_and_empty_folders(tmp_path):
    """An undecodable file or an empty folder is an ImageReadError naming the problem."""
    with pytest.raises(ImageReadError, match="no PNG"):
        load_image_folder(tmp_path)
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.raises(ImageReadError, match="x.png"):
        load_image_folder(tmp_path)


def test_self_generated_images_reach_a_fixed_point():
    """Iterating a contracting 'autoencoder' moves noise onto its fixed point."""
    rng = np.random.default_rng(0)
    target = np.full((1, 8, 8), 0.25, dtype=np.float32)
    images = self_generated_images(lambda x: 0.5 * x + 0.5 * target, (1, 8, 8), 4, rng, iterations=12)
    assert images.shape == (4, 1, 8, 8) and np.abs(images - target).max() < 1e-3
