"""Robust z-scores across candidates (units, squares), as Neural Cleanse scores labels: median / MAD."""

from __future__ import annotations

import numpy as np


def robust_z(values: np.ndarray, floor: float, null: np.ndarray | None = None) -> np.ndarray:
    """(x - median) / max(1.4826 * MAD, floor) along axis 0; median and MAD from ``null`` rows when given.

    The floor keeps a near-constant statistic (MAD ~ 0) from turning noise into huge z-scores.
    """
    ref = values if null is None else null
    median = np.median(ref, axis=0, keepdims=True)
    mad = 1.4826 * np.median(np.abs(ref - median), axis=0, keepdims=True)
    return (values - median) / np.maximum(mad, floor)
