"""AADDC: normalised areas in [0, 1], equal to the trapezoid rule, and budget interpolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from auditor.metrics.dd_curve import aaddc_distance, aaddc_similarity, budget_at

grids = st.lists(st.floats(0.001, 10), min_size=2, max_size=10, unique=True).map(sorted)


@given(grids, st.data())
def test_similarity_area_in_unit_interval_and_trapezoid(eps, data):
    """The normalised area lies in [0, 1] and equals numpy's trapezoid over the span."""
    ys = data.draw(st.lists(st.floats(0, 1), min_size=len(eps), max_size=len(eps)))
    area = aaddc_similarity(eps, ys)
    assert 0.0 <= area <= 1.0
    assert area == pytest.approx(np.trapezoid(ys, eps) / (eps[-1] - eps[0]))


@given(grids, st.data(), st.floats(0.01, 5))
def test_distance_area_in_unit_interval_and_monotone_in_damage(eps, data, reference):
    """More distortion never raises the distance AADDC; zero distortion scores 1."""
    ys = np.array(data.draw(st.lists(st.floats(0, 10), min_size=len(eps), max_size=len(eps))))
    area = aaddc_distance(eps, ys, reference)
    assert 0.0 <= area <= 1.0
    assert aaddc_distance(eps, ys * 2, reference) <= area + 1e-12
    assert aaddc_distance(eps, np.zeros(len(eps)), reference) == pytest.approx(1.0)


def test_constant_curves():
    """A flat SSIM of 0.4 has area 0.4."""
    assert aaddc_similarity([0.1, 0.5, 1.0], [0.4, 0.4, 0.4]) == pytest.approx(0.4)


def test_bad_curves_rejected():
    """Non-increasing eps, NaNs and short curves are errors."""
    for eps, ys in (([0.2, 0.1], [1, 1]), ([0.1, 0.2], [np.nan, 1]), ([0.1], [1])):
        with pytest.raises(ValueError):
            aaddc_similarity(eps, ys)
    with pytest.raises(ValueError):
        aaddc_distance([0.1, 0.2], [0, 0], 0.0)


def test_budget_at_interpolates():
    """The crossing of 0.5 between (0.2, 0.7) and (0.4, 0.3) is at 0.3; never crossing gives None."""
    assert budget_at([0.1, 0.2, 0.4], [0.9, 0.7, 0.3], 0.5) == pytest.approx(0.3)
    assert budget_at([0.1, 0.2], [0.9, 0.8], 0.5) is None
    assert budget_at([0.1, 0.2], [0.4, 0.3], 0.5) == pytest.approx(0.1)
