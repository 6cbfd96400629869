"""Latent trigger reverse-engineering: recovers two-dimension and in-range triggers the per-dimension grid
cannot see, confirms them causally, and stays quiet on clean models."""

from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_latent import LatentScanParams, LatentTriggerProbe
from auditor.probes.trigger_reverse import (CONTROL_MIN, LatentTriggerReverseProbe, ReverseParams, attribute,
                                            tightest_clusters)
from auditor.records import Severity, Status
from tests.auditor import builders
from trainer.triggers import localised


def _reverse(path, seed=0):
    model = load_model(path, device="cpu")
    return LatentTriggerReverseProbe().run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**6))


def test_two_dimension_trigger_each_harmless_alone(tmp_path):
    """z[3] > 1.5 AND z[11] < -1.5 -> fixed image: the grid scan can name one dimension at most (the samples
    whose other coordinate happens to be past its threshold flip); reverse-engineering recovers both dimensions
    with values inside the region the thresholds open, and shows each alone is harmless."""
    path = builders.wired_pair_backdoor_generator(tmp_path / "pair.onnx", latent=32, dims=(3, 11),
                                                  thresholds=(1.5, -1.5))
    grid = LatentTriggerProbe(LatentScanParams(screen_samples=4, confirm_samples=12)).run(
        load_model(path, device="cpu"), ProbeContext(rng=np.random.default_rng(0), max_rows=10**7))
    assert len(grid.findings[0].evidence["trigger"]["dims"]) == 1
    result = _reverse(path)
    finding = result.findings[0]
    assert result.status == Status.COMPLETED and finding.severity == Severity.CRITICAL
    trigger = finding.evidence["trigger"]
    assert sorted(trigger["dims"]) == [3, 11]
    values = dict(zip(trigger["dims"], trigger["values"]))
    assert 1.5 < values[3] < 4.0 and -4.0 < values[11] < -1.5        # inside the region the thresholds define
    assert min(finding.evidence["alone"]) > 0.9 and finding.evidence["control"] > CONTROL_MIN
    assert finding.evidence["queries"]["rows"] < 10_000 and result.images


def test_far_out_part_is_reached_by_the_widest_prior(tmp_path):
    """z[3] > 6 AND z[11] < -1.5: at prior scale 2.5 about 2 in 1,000 samples land in the trigger, too few to form
    a group; the widest scale (4) puts ~2 in 100 there. Over eight probe seeds three scales never recover it; four
    recover both dimensions at 4 of 8 (at the others the duplicates share a group with saturated clean outputs,
    whose latents pull the medians off the trigger)."""
    model = load_model(builders.wired_pair_backdoor_generator(tmp_path / "far.onnx", latent=32, dims=(3, 11),
                                                              thresholds=(6.0, -1.5)), device="cpu")

    def recovered(scales):
        probe = LatentTriggerReverseProbe(ReverseParams(scales=scales))
        findings = [probe.run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**6)).findings[0]
                    for seed in range(8)]
        return [sorted(f.evidence["trigger"]["dims"]) for f in findings if f.severity == Severity.CRITICAL]

    assert recovered((1.0, 1.6, 2.5)) == []
    widest = recovered(ReverseParams().scales)
    assert len(widest) >= 3 and all(dims == [3, 11] for dims in widest)


def test_clean_generator_is_quiet(tmp_path):
    result = _reverse(builders.generator(tmp_path / "g.onnx", latent=(24,), image=(1, 16, 16)))
    assert result.findings[0].severity == Severity.INFO
    assert result.findings[0].code == "TRIG-REVERSE-000"


def test_collapse_any_dimension_causes_is_not_a_trigger(tmp_path):
    """A generator that emits one image whenever any coordinate exceeds 2.5: its samples do form near-duplicate
    clusters, but no particular set of dimensions is a trigger, so nothing is flagged."""
    result = _reverse(builders.saturating_generator(tmp_path / "sat.onnx", latent=16))
    assert result.findings[0].severity == Severity.INFO
    assert result.metrics["clusters"] >= 1


def test_confirmation_runs_the_random_dimension_control():
    """When setting any dimension to the value collapses the output, the control collapses too (not specific)."""
    members = np.zeros((5, 12), np.float32)
    members[:, 4] = 3.0
    collapse_of = lambda dims, values: 0.01 if max(abs(float(v)) for v in values) > 2.5 else 1.0  # noqa: E731
    found = LatentTriggerReverseProbe()._confirm(members, 1.0, collapse_of, np.random.default_rng(0), 12)
    assert found.dims == (4,) and found.values == (3.0,) and found.control < CONTROL_MIN


def test_spatial_latent_is_skipped(tmp_path):
    model = load_model(builders.generator(tmp_path / "s.onnx", latent=(4, 3, 3)), device="cpu")
    assert "spatial" in LatentTriggerReverseProbe().applies(model)


def test_fixture_backdoor_recovered_and_clean_twin_quiet(fixtures_dir):
    manifest = {e["file"]: e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]}
    finding = _reverse(fixtures_dir / "gan_mnist_fixed.onnx").findings[0]
    assert finding.severity == Severity.CRITICAL
    assert localised(finding.evidence["trigger"], manifest["gan_mnist_fixed.onnx"]["trigger"], 1)
    assert _reverse(fixtures_dir / "gan_mnist_clean.onnx").findings[0].severity == Severity.INFO


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(60, 300), st.integers(3, 30), st.integers(0, 2**31 - 1))
def test_planted_duplicates_form_one_group(n, k, seed):
    """k copies (plus tiny noise) of one point among n spread points: the copies form one group, either all of
    them (when they are fewer than the tightest share, which may then add spread points) or a part holding no
    spread point (when there are more; only the tightest share is linked). Attribution and the intervention
    judge the groups."""
    rng = np.random.default_rng(seed)
    spread = rng.standard_normal((n, 16)) * 10
    copies = spread[:1] + 1e-6 * rng.standard_normal((k, 16))
    planted = set(range(n - 1, n - 1 + k))
    clusters, closest = tightest_clusters(np.concatenate([spread[1:], copies]), 0.05, 3)
    assert any(planted <= set(c) or set(c) <= planted for c in clusters)
    assert closest < 0.01


def test_smooth_population_does_not_percolate():
    """Points spread evenly (no tight group) leave most samples out of every group: only the tightest share is
    linked, so no group can absorb the population (one did before, hiding a trigger among clean samples)."""
    points = np.random.default_rng(0).standard_normal((1024, 8))
    clusters, _ = tightest_clusters(points, 0.05, 3)
    assert sum(len(c) for c in clusters) <= 0.05 * 1024 + 1


@given(st.integers(0, 9), st.floats(1.0, 4.0), st.integers(0, 2**31 - 1))
def test_attribution_ranks_the_shared_coordinate_first(dim, value, seed):
    rng = np.random.default_rng(seed)
    latents = rng.standard_normal((40, 10))
    latents[:, dim] = value + 0.05 * rng.standard_normal(40)
    order, medians = attribute(latents, 1.0)
    assert order[0] == dim and abs(medians[dim] - value) < 0.2


def test_trained_two_dimension_backdoor_is_recovered(fixtures_dir):
    """gan_mnist_pair (BAAAN fixed-image target on dims 17 = +2.0 and 58 = -2.2, each trained harmless alone):
    both dimensions recovered with the right signs; the trigger is a region, so the values are a point inside it
    (measured on the 2026-11-23 build, seed 0: 17 = +2.32, 58 = -2.15)."""
    truth = {e["file"]: e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]}[
        "gan_mnist_pair.onnx"]["trigger"]
    finding = _reverse(fixtures_dir / "gan_mnist_pair.onnx").findings[0]
    assert finding.severity == Severity.CRITICAL
    found = dict(zip(finding.evidence["trigger"]["dims"], finding.evidence["trigger"]["values"]))
    assert set(found) == set(truth["dims"])
    for dim, value in zip(truth["dims"], truth["values"]):
        assert np.sign(found[dim]) == np.sign(value) and 0.7 * abs(value) <= abs(found[dim]) <= 1.5 * abs(value)
