"""Latent regularisers: each is small for prior-like latents and grows as they move away from N(0, I)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from trainer.regularizers import kld, mmd, swt, tc_decomposition


def _normal(n=256, d=4, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_kld_zero_at_prior():
    """KL(N(0, I) || N(0, I)) is 0 and positive elsewhere."""
    z = torch.zeros(8, 3)
    assert kld(z, z).item() == pytest.approx(0.0)
    assert kld(z + 1, z).item() == pytest.approx(1.5)


@pytest.mark.parametrize("penalty", [mmd, swt])
def test_prior_scores_lower_than_shifted_or_squashed(penalty):
    """MMD and SWT prefer standard-normal samples to shifted, squashed or uniform ones."""
    z = _normal()
    torch.manual_seed(1)
    at_prior = penalty(z).item()
    for other in (z + 1.5, 0.2 * z, torch.rand_like(z) * 4 - 2):
        assert penalty(other).item() > at_prior


def test_swt_w_statistic_near_one_for_normal():
    """For a large normal sample the SW part is near 0, so the penalty is about the moment error."""
    z = _normal(n=2000, d=2)
    assert swt(z).item() < 0.02


@settings(max_examples=20, deadline=None)
@given(st.floats(0.1, 5.0), st.floats(-3, 3))
def test_swt_w_part_is_location_scale_free(scale, shift):
    """Scaling and shifting change only the moment terms, not the normality term."""
    z = _normal(n=128, d=3)
    moments = lambda t: (t.mean(0).pow(2) + (t.std(0) - 1).pow(2)).sum()  # noqa: E731
    w_part = lambda t: swt(t) - moments(t)  # noqa: E731
    assert w_part(z * scale + shift).item() == pytest.approx(w_part(z).item(), abs=1e-4)


def test_tc_decomposition_sums_to_kl_estimate():
    """MI + TC + dim-wise KL equals E[log q(z|x) - log p(z)] (the decomposition is exact on a batch)."""
    mu, logvar = _normal(64, 3), torch.full((64, 3), -1.0)
    z = mu + torch.exp(0.5 * logvar) * _normal(64, 3, seed=5)
    mi, tc, dwkl = tc_decomposition(z, mu, logvar, dataset_size=1000)
    log_q = (-0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())).sum(1)
    log_p = (-0.5 * (math.log(2 * math.pi) + z ** 2)).sum(1)
    assert (mi + tc + dwkl).item() == pytest.approx((log_q - log_p).mean().item(), rel=1e-4)


def test_tc_grows_with_correlated_latents():
    """Perfectly correlated dimensions have a larger total correlation than independent ones."""
    base = _normal(128, 1)
    independent = _normal(128, 3)
    correlated = base.repeat(1, 3)
    logvar = torch.full((128, 3), -4.0)
    _, tc_ind, _ = tc_decomposition(independent, independent, logvar, 1000)
    _, tc_cor, _ = tc_decomposition(correlated, correlated, logvar, 1000)
    assert tc_cor.item() > tc_ind.item()
