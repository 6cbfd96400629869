"""Query-only gradient estimators agree with analytic gradients; the automatic choice respects row budgets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.gradients import GradientOracle


def _quadratic(a: np.ndarray):
    """L(z) = sum_i a_i z_i^2 + sin(z_0): gradient 2 a z + cos(z_0) e_0."""
    def loss(points, owner):
        flat = points.reshape(len(points), -1)
        return (a * flat ** 2).sum(1) + np.sin(flat[:, 0])

    def grad(z):
        g = 2 * a * z.reshape(len(z), -1)
        g[:, 0] += np.cos(z.reshape(len(z), -1)[:, 0])
        return g.reshape(z.shape)
    return loss, grad


def test_central_differences_are_exact_to_second_order():
    """Central differences match the analytic gradient to 1e-3 on a smooth loss."""
    rng = np.random.default_rng(0)
    loss, grad = _quadratic(rng.random(6))
    z = rng.standard_normal((4, 6))
    np.testing.assert_allclose(GradientOracle("central", step=1e-3)(loss, z, rng), grad(z), atol=1e-3)


def test_antithetic_estimate_is_unbiased_in_direction_and_scale():
    """With many directions the antithetic estimate approaches the true gradient (cosine > 0.95, scale +-15%)."""
    rng = np.random.default_rng(1)
    loss, grad = _quadratic(rng.random(64))
    z = rng.standard_normal((3, 64, 1, 1))
    est = GradientOracle("antithetic", step=1e-3, directions=2000)(loss, z, rng).reshape(3, -1)
    true = grad(z).reshape(3, -1)
    cos = (est * true).sum(1) / np.linalg.norm(est, axis=1) / np.linalg.norm(true, axis=1)
    assert cos.min() > 0.95
    assert np.linalg.norm(est, axis=1) / np.linalg.norm(true, axis=1) == pytest.approx(1.0, rel=0.15)


def test_forward_differences_are_exact_to_first_order_and_return_the_value():
    """Forward differences match the analytic gradient to O(h), and the loss at z comes with them."""
    rng = np.random.default_rng(2)
    loss, grad = _quadratic(rng.random(40))
    z = rng.standard_normal((3, 40))
    value, est = GradientOracle("forward", step=1e-4).value_and_grad(loss, z, rng)
    np.testing.assert_allclose(est, grad(z), atol=1e-3)
    np.testing.assert_allclose(value, loss(z, np.arange(3)))


@given(d=st.integers(1, 600), budget=st.one_of(st.none(), st.integers(1, 2000)))
def test_auto_choice_fits_the_row_budget(d, budget):
    """Central up to d = 32; forward while d + 1 rows fit; else as many antithetic pairs as fit (never < 4)."""
    oracle = GradientOracle.auto(d, directions=32, rows_per_latent=budget)
    if d <= 32:
        assert oracle.mode == "central" and oracle.rows_per_latent(d) == 2 * d + 1
    elif budget is None or d + 1 <= budget:
        assert oracle.mode == "forward" and oracle.rows_per_latent(d) == d + 1
    else:
        assert oracle.mode == "antithetic" and 4 <= oracle.directions <= 32
        assert oracle.rows_per_latent(d) <= max(budget, 9)
