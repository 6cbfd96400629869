"""Robust z-scores: affine invariance, and the null rows set the centre and spread."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from auditor.metrics.robust import robust_z


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (9, 3), elements=st.floats(-1e3, 1e3)), st.floats(0.1, 100), st.floats(-100, 100))
def test_robust_z_is_affine_invariant(values, scale, offset):
    """z-scores do not change when every unit's statistic is scaled and shifted alike (floor scaled too)."""
    floor = 1e-3
    a = robust_z(values, floor)
    b = robust_z(values * scale + offset, floor * scale)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_robust_z_uses_the_null_rows():
    null = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    z = robust_z(np.array([[2.0], [12.0]]), 1e-9, null)
    assert z[0, 0] == 0.0 and z[1, 0] == pytest.approx(10 / 1.4826)
