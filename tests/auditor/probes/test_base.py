"""Probe plumbing: preset sample scaling and fitting a screen-then-confirm probe into its row budget."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from auditor.probes.base import CONFIRM_MIN, SAMPLE_SCALE, SCREEN_MIN, fit_sample_counts


@dataclass(frozen=True)
class Counts:
    screen: int
    confirm: int


def _planned(p: Counts) -> int:
    return 100 * p.screen + 50 * p.confirm


@given(st.integers(1, 64), st.integers(1, 128), st.sampled_from(sorted(SAMPLE_SCALE)), st.integers(0, 20_000))
def test_fitted_counts_fit_the_budget_or_sit_at_their_minima(screen, confirm, preset, budget):
    p = fit_sample_counts(Counts(screen, confirm), preset, budget, _planned, "screen", "confirm")
    assert p.screen >= SCREEN_MIN and p.confirm >= CONFIRM_MIN
    assert _planned(p) <= budget or (p.screen, p.confirm) == (SCREEN_MIN, CONFIRM_MIN)


@given(st.integers(4, 64), st.integers(8, 128))
def test_unbounded_budget_only_applies_the_preset(screen, confirm):
    thorough = fit_sample_counts(Counts(screen, confirm), "thorough", 10**9, _planned, "screen", "confirm")
    assert (thorough.screen, thorough.confirm) == (2 * screen, 2 * confirm)
    default = fit_sample_counts(Counts(screen, confirm), "default", 10**9, _planned, "screen", "confirm")
    assert (default.screen, default.confirm) == (screen, confirm)


def test_confirm_shrinks_before_screen():
    p = fit_sample_counts(Counts(8, 64), "default", 100 * 8 + 50 * 16, _planned, "screen", "confirm")
    assert (p.screen, p.confirm) == (8, 16)
