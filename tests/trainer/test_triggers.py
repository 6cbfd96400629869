"""Patch and latent triggers: stamping, placement, serialisation and validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from trainer.triggers import CORNERS, LatentTrigger, PatchTrigger, localised, parse_colour


class TestPatchTrigger:
    @given(st.sampled_from(CORNERS), st.integers(1, 8), st.sampled_from([28, 32]))
    def test_corner_square_stays_inside(self, corner, size, image_size):
        """A corner trigger of any size lies fully inside the image."""
        t = PatchTrigger.at_corner(corner, size, image_size, (1, 1, 1))
        assert 0 <= t.x <= image_size - size and 0 <= t.y <= image_size - size

    def test_apply_stamps_only_the_square(self):
        """Only the square's pixels change, to the colour (mean colour on one channel); input untouched."""
        x = np.zeros((2, 3, 8, 8), dtype=np.float32)
        t = PatchTrigger(5, 1, 2, (1.0, 0.5, 0.0))
        out = t.apply(x)
        assert x.sum() == 0
        assert out[:, 0, 1:3, 5:7].min() == 1.0 and out[:, 1, 1:3, 5:7].max() == 0.5
        assert out.sum() == pytest.approx(2 * 4 * 1.5)
        grey = t.apply(np.zeros((1, 1, 8, 8), dtype=np.float32))
        assert grey[0, 0, 1, 5] == pytest.approx(0.5)

    def test_torch_input(self):
        """Tensors are stamped the same way and not modified in place."""
        x = torch.zeros(1, 1, 4, 4)
        out = PatchTrigger(0, 0, 2, (1, 1, 1)).apply(x)
        assert x.sum() == 0 and out.sum() == 4

    def test_evidence_shape(self):
        """to_dict gives the auditor's trigger evidence shape."""
        assert PatchTrigger(1, 2, 3, (1, 0, 0)).to_dict() == {"type": "patch", "x": 1, "y": 2, "size": 3,
                                                               "color": [1.0, 0.0, 0.0]}


class TestLatentTrigger:
    def test_apply_sets_dimensions(self):
        """Trigger dimensions get their values; the rest is unchanged."""
        z = np.random.default_rng(0).standard_normal((4, 10))
        out = LatentTrigger((9, 2), (3.0, -1.0)).apply(z)
        assert (out[:, 9] == 3.0).all() and (out[:, 2] == -1.0).all()
        np.testing.assert_array_equal(np.delete(out, [2, 9], 1), np.delete(z, [2, 9], 1))

    def test_mismatched_lengths_rejected(self):
        """One value per dimension is required."""
        with pytest.raises(ValueError):
            LatentTrigger((1, 2), (3.0,))


def test_parse_colour():
    """Names and r,g,b strings parse; out-of-range values are refused."""
    assert parse_colour("white") == (1.0, 1.0, 1.0)
    assert parse_colour("0.2,0.4,1") == (0.2, 0.4, 1.0)
    for bad in ("purple-ish", "1,2,3", "0.1,0.2"):
        with pytest.raises(ValueError):
            parse_colour(bad)


def test_localised_latent_needs_same_dims_and_value_within_20_percent():
    truth = LatentTrigger((4, 9), (3.0, -2.0)).to_dict()
    assert localised({"type": "latent", "dims": [9, 4], "values": [-2.3, 3.5]}, truth, 1)
    assert not localised({"type": "latent", "dims": [4, 9], "values": [3.7, -2.0]}, truth, 1)
    assert not localised({"type": "latent", "dims": [4], "values": [3.0]}, truth, 1)
    assert not localised(PatchTrigger(0, 0, 3, (1.0, 1.0, 1.0)).to_dict(), truth, 1)


def test_localised_patch_needs_overlap_and_close_colour():
    truth = PatchTrigger(10, 10, 4, (1.0, 0.41, 0.71)).to_dict()
    assert localised(PatchTrigger(13, 8, 5, (1.0, 0.41, 0.6)).to_dict(), truth, 3)
    assert not localised(PatchTrigger(14, 10, 5, (1.0, 0.41, 0.71)).to_dict(), truth, 3)   # touches, no overlap
    assert not localised(PatchTrigger(10, 10, 4, (1.0, 0.0, 0.0)).to_dict(), truth, 3)
    # one channel: only the gray level counts (mean 0.707 vs 0.5 for gray)
    assert localised(PatchTrigger(10, 10, 4, (0.5, 0.5, 0.5)).to_dict(), truth, 1)
