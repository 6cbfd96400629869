"""Generator inversion: recovers a generator's own samples, keeps latents plausible, and refuses what it can't reach."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from auditor.gradients import make_oracle
from auditor.inversion import (
    InversionParams,
    _project,
    at_edge,
    from_generator,
    invert,
    norm_statistic,
    reachability_threshold,
    retry_rejected,
)
from auditor.loading import load_model
from tests.auditor import builders

PARAMS = InversionParams(restarts=2, steps=150, pool=64)


@settings(max_examples=50, deadline=None)
@given(z=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 40)),
                elements=st.floats(-50, 50, allow_nan=False)),
       limit=st.floats(0, 5))
def test_projection_keeps_latents_plausible_and_never_grows_them(z, limit):
    """After projection the norm statistic is at most the limit (when it was above) and no norm grows."""
    out = _project(z, limit)
    assert np.all(np.linalg.norm(out, axis=1) <= np.linalg.norm(z, axis=1) + 1e-9)
    assert np.all(norm_statistic(out) <= limit + 1e-6)
    np.testing.assert_array_equal(_project(z, None), z)


def test_norm_statistic_is_standard_for_prior_samples():
    z = np.random.default_rng(0).standard_normal((4000, 64))
    stat = norm_statistic(z)
    assert abs(stat.mean()) < 0.1 and abs(stat.std() - 1) < 0.1


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(-5, 5)), min_size=1, max_size=40), st.floats(0, 1))
def test_provenance_needs_the_residual_and_a_latent_off_the_edge(rows, threshold):
    """The verdict implies the residual rule; without a bound it is the residual rule; projected latents (norm
    statistic at the bound) never count."""
    mse, norm_z = (np.array(c) for c in zip(*rows, strict=True))
    verdict = from_generator(mse, norm_z, threshold)
    assert not (verdict & (mse > threshold)).any()
    np.testing.assert_array_equal(from_generator(mse, norm_z, threshold, None), mse <= threshold)
    z = _project(np.random.default_rng(0).standard_normal((8, 100)) * 3, 3.0)
    assert at_edge(norm_statistic(z)).all() and not from_generator(np.zeros(8), norm_statistic(z), threshold).any()


@pytest.mark.parametrize("d", [32, 100, 128])
def test_prior_latents_are_rarely_at_the_edge(d):
    """Own samples come from prior latents: under 1% of them sit at or beyond the edge (norm statistic 3)."""
    z = np.random.default_rng(d).standard_normal((20000, d))
    assert at_edge(norm_statistic(z)).mean() < 0.01


@given(st.lists(st.floats(0, 1), min_size=2, max_size=50))
def test_threshold_covers_every_calibration_sample(residuals):
    """Distribution-free: every own calibration sample is under the threshold (so a new one is above it with
    probability 1 / (K + 1))."""
    threshold = reachability_threshold(np.asarray(residuals))
    assert threshold == max(residuals)


def test_threshold_coverage_of_new_samples_is_k_over_k_plus_one():
    """Over many draws of K = 32 heavy-tailed residuals, a new sample falls under the threshold ~32/33 of the time."""
    rng = np.random.default_rng(0)
    draws = rng.lognormal(-9, 1.5, (4000, 33))
    covered = np.mean([draws[i, 32] <= reachability_threshold(draws[i, :32]) for i in range(len(draws))])
    assert abs(covered - 32 / 33) < 0.01


@pytest.fixture(scope="module")
def small_generator(tmp_path_factory):
    return load_model(builders.generator(tmp_path_factory.mktemp("g") / "g.onnx", image=(1, 12, 12)), device="cpu")


def test_own_samples_are_recovered_and_noise_is_not(small_generator):
    """Query-only (central differences, d = 8): own samples invert to a near-zero residual from a plausible
    latent; smooth noise stays far above the threshold those samples set."""
    model = small_generator
    rng = np.random.default_rng(0)
    own = model.generate(model.sample_latents(rng, 8))
    noise = rng.random((4, 1, 12, 12)).astype(np.float32)
    result = invert(model, make_oracle(model, "query"), np.concatenate([own, noise]), None, PARAMS, rng)
    threshold = reachability_threshold(result.mse[:8])
    assert np.median(result.mse[:8]) < 1e-4 and result.ssim[:8].min() > 0.95
    assert np.all(result.mse[8:] > 10 * threshold)
    assert np.all(result.norm_z <= PARAMS.max_norm_z + 1e-4)
    assert result.latents.shape == (12, 8) and result.outputs.shape == (12, 1, 12, 12)


def test_retry_only_reinverts_rejections_and_can_only_accept_more(small_generator):
    """A first inversion cut short (5 steps) rejects own samples; the retry re-inverts exactly those, keeps the
    accepted ones untouched, turns own samples into acceptances and still rejects noise."""
    model = small_generator
    rng = np.random.default_rng(1)
    own = model.generate(model.sample_latents(rng, 6))
    noise = rng.random((3, 1, 12, 12)).astype(np.float32)
    targets = np.concatenate([own, noise])
    oracle = make_oracle(model, "query")
    first = invert(model, oracle, targets, None, InversionParams(restarts=2, steps=5, refine_steps=0, pool=64), rng)
    threshold = 1e-4
    before = from_generator(first.mse, first.norm_z, threshold)
    kept, verdict = retry_rejected(model, oracle, targets, None, first, threshold, PARAMS, rng)
    assert not before[:6].all() and verdict[:6].all() and not verdict[6:].any()
    assert (verdict >= before).all()
    np.testing.assert_array_equal(kept.mse[before], first.mse[before])
    np.testing.assert_array_equal(first.select(slice(6, None)).mse, first.mse[6:])


def test_progress_is_reported_per_step(small_generator):
    seen = []
    model = small_generator
    invert(model, make_oracle(model, "query"), model.generate(model.sample_latents(np.random.default_rng(1), 2)),
           None, InversionParams(restarts=1, steps=5, pool=8, refine_steps=3), np.random.default_rng(2),
           lambda done, total: seen.append((done, total)))
    assert seen == [(i, 8) for i in range(1, 9)]


@pytest.mark.parametrize("kwargs", [{"restarts": 0}, {"steps": 0}, {"restarts": 9, "pool": 8},
                                    {"learning_rate": 0}, {"prior_weight": -1},
                                    {"max_norm_z": -0.5}, {"refine_steps": -1}, {"refine_rate": 0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        InversionParams(**kwargs)
