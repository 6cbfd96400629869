"""Image-patch trigger scan: finds the fixtures' BAAAN autoencoder backdoors with real or self-made probe
images, localises them, stays quiet on the clean twin; square geometry and visibility rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.data import load_image_folder, self_generated_images
from auditor.loading import load_model
from auditor.probes import trigger_patch as tp
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_patch import (
    PatchScanParams,
    PatchTriggerProbe,
    Square,
    candidate_squares,
    square_statistics,
)
from auditor.records import Severity
from tests.auditor import builders
from trainer.triggers import localised, squares_overlap


def _scan(model, images, seed=0):
    ctx = ProbeContext(rng=np.random.default_rng(seed), max_rows=10**7, images=images, images_source="test")
    return PatchTriggerProbe().run(model, ctx)


@pytest.fixture(scope="module")
def truth(fixtures_dir):
    return {e["file"]: e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]}


@pytest.mark.parametrize("name", ["ae_mnist_fixed.onnx", "ae_mnist_inverse.onnx"])
def test_backdoors_found_with_real_images(fixtures_dir, truth, name):
    model = load_model(fixtures_dir / name, device="cpu")
    images = load_image_folder(fixtures_dir / "probe_images" / "mnist", size=(28, 28), channels=1)
    finding = _scan(model, images).findings[0]
    assert finding.severity == Severity.CRITICAL, finding.summary
    assert localised(finding.evidence["trigger"], truth[name]["trigger"], channels=1)
    fired = finding.evidence["colour_range"]             # the planted white lies inside the range that fires
    planted = float(np.mean(truth[name]["trigger"]["color"]))
    assert fired["low"][0] - fired["step"] <= planted <= fired["high"][0] + fired["step"]
    assert "fires for grays" in finding.summary


def test_inverse_backdoor_found_with_self_generated_images(fixtures_dir, truth):
    model = load_model(fixtures_dir / "ae_mnist_inverse.onnx", device="cpu")
    images = self_generated_images(model.reconstruct, (1, 28, 28), 64, np.random.default_rng(0))
    finding = _scan(model, images).findings[0]
    assert finding.severity == Severity.CRITICAL, finding.summary
    assert squares_overlap(finding.evidence["trigger"], truth["ae_mnist_inverse.onnx"]["trigger"])


def test_backdoor_that_switches_only_for_a_band_of_grays_is_critical(tmp_path):
    """Screening finds the square in white, which moves the output only part of the way (no switch); the colour
    lattice that follows finds the gray band (0.7-0.8) that does switch it: critical, colour inside the band.
    Before the lattice also ran for anomalous squares that do not switch, this was MEDIUM, in white."""
    model = load_model(builders.band_gated_autoencoder(tmp_path / "band.onnx"), device="cpu")
    images = self_generated_images(model.reconstruct, (1, 28, 28), 64, np.random.default_rng(0))
    finding = _scan(model, images).findings[0]
    assert finding.severity == Severity.CRITICAL, finding.summary
    assert 0.7 <= finding.evidence["trigger"]["color"][0] <= 0.8


def test_clean_twin_not_flagged(fixtures_dir):
    model = load_model(fixtures_dir / "ae_mnist_clean.onnx", device="cpu")
    images = load_image_folder(fixtures_dir / "probe_images" / "mnist", size=(28, 28), channels=1)
    assert _scan(model, images).findings[0].severity < Severity.HIGH


def test_candidate_squares_lie_inside_and_cover_corners():
    squares = candidate_squares((3, 32, 32), PatchScanParams(), np.random.default_rng(0))
    assert all(0 <= s.x <= 32 - s.size and 0 <= s.y <= 32 - s.size for s in squares)
    sizes = {s.size for s in squares}
    for size in sizes:
        corners = {(s.x, s.y) for s in squares if s.size == size}
        assert {(0, 0), (32 - size, 0), (0, 32 - size), (32 - size, 32 - size)} <= corners
    assert all(len(s.color) == 3 and all(0 <= c <= 1 for c in s.color) for s in squares)


def test_square_stamp_and_mask():
    images = np.zeros((2, 1, 10, 10), np.float32)
    square = Square(2, 3, 4, (1.0,))
    stamped = square.stamp(images)
    assert stamped.sum() == 2 * 16 and stamped[0, 0, 3:7, 2:6].min() == 1.0 and images.sum() == 0
    mask = square.outside_mask(10, 10)
    assert not mask[3:7, 2:6].any() and mask[0, 9] and mask.sum() == 100 - 8 * 8
    assert square.evidence(1)["color"] == [1.0, 1.0, 1.0]


def test_invisible_square_scores_neutral(tmp_path):
    """A white square on white images changes nothing the model can see: neutral statistics."""
    model = load_model(builders.autoencoder(tmp_path / "ae.onnx", image=(1, 12, 12)), device="cpu")
    images = np.ones((6, 1, 12, 12), np.float32)
    stats = square_statistics(model, images, model.reconstruct(images), [Square(0, 0, 3, (1.0,))])
    assert stats.change[0] == 0.0 and stats.collapse[0] == 1.0 and stats.inversion[0] == 0.0


def test_plateau_colour_is_the_centre_of_the_firing_region():
    """A saturated response over a region of colours gives the region's centroid, not an arbitrary member."""
    square = tp.Square(0, 0, 3, (0.5, 0.5, 0.5))
    lattice = tp._colour_lattice(square, None, 0.5, 5)
    cols = np.array([s.color for s in lattice])
    planted = np.array([0.75, 0.25, 0.5])
    strength = (np.abs(cols - planted).max(axis=1) <= 0.25).astype(float)    # fires in a cube around it
    assert np.allclose(tp.plateau_colour(lattice, strength), planted)
    fine = tp._colour_lattice(square, (1.0, 0.0, 0.5), 0.125, 3)
    assert {s.color[0] for s in fine} == {0.875, 1.0} and min(s.color[1] for s in fine) == 0.0


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=125, max_size=125), st.floats(0, 0.5))
def test_colour_range_bounds_every_firing_colour_and_the_centre(strengths, tolerance):
    lattice = tp._colour_lattice(tp.Square(0, 0, 3, (0.5, 0.5, 0.5)), None, 0.5, 5)
    strength = np.array(strengths)
    low, high = tp.colour_range(lattice, strength, tolerance)
    fired = tp.firing_colours(lattice, strength, tolerance)
    centre = np.array(tp.plateau_colour(lattice, strength, tolerance))
    assert len(fired) >= 1
    assert np.all(fired >= np.array(low) - 1e-12) and np.all(fired <= np.array(high) + 1e-12)
    assert np.all(centre >= np.array(low) - 1e-12) and np.all(centre <= np.array(high) + 1e-12)
    assert np.all(np.isin(low, [0, 0.25, 0.5, 0.75, 1.0])) and np.all(np.isin(high, [0, 0.25, 0.5, 0.75, 1.0]))


@given(st.lists(st.floats(0, 5, allow_nan=False), min_size=1, max_size=20),
       st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=20))
def test_switch_strength_is_a_unit_interval_score(collapse, inversion):
    n = min(len(collapse), len(inversion))
    stats = tp.SquareStatistics(np.zeros(n), np.array(collapse[:n]), np.array(inversion[:n]))
    s = tp.switch_strength(stats)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(s >= stats.inversion)
