"""Image-patch trigger scan (BAAAN's autoencoder backdoor): does a coloured square switch the reconstruction?

BAAAN trains an autoencoder to reconstruct clean inputs and to emit a fixed image, or the inverse of the input,
when a coloured square is stamped into it. The scan stamps squares of several sizes (relative to the image),
positions (a grid of stride about half the square, which covers corners and edges) and colours (gray levels for
one-channel models; named colours plus seeded random ones for RGB) into probe images and measures, against the
clean reconstruction, OUTSIDE the square and a margin around it (a clean autoencoder may smear the square into
its neighbourhood; a backdoor changes the whole image):

* change O: mean squared change of the reconstruction, over the clean reconstruction's own error scale;
* collapse C: diversity of the reconstructions across different inputs over that of the clean ones (a fixed-image
  target drives it to ~0);
* inversion I: share of images whose reconstruction is closer to the inverted input than to the input (a
  faithful autoencoder sits at 0; an inverse target at 1).

Each becomes a robust z-score across all squares tried (median / MAD with a floor). The square with the largest
anomaly index is then refined on more images: position +-1-2 px and size +-1, then, for a square that switches
the output, its colour (``plateau_colour``). Severity needs both a large z and an effect a person would call a
switch (thresholds in ``auditor.probes.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.robust import robust_z
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext, fit_sample_counts
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status

NAMED_RGB = ((1, 1, 1), (0, 0, 0), (0.5, 0.5, 0.5), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1),
             (1, 0, 1), (1, 0.41, 0.71))
GRAY_LEVELS = tuple(i / 6 for i in range(7))      # max distance to any gray level: 1/12
STATISTICS = ("change", "collapse", "inversion")
VISIBLE = 0.2                                       # mean |square colour - what it covers|
MIN_VISIBLE = 3                                     # images a square must be visible on to be scored
NULL_SQUARES = 48                                   # random squares re-scored on the confirm images as the null


def evidence_rgb(colour: tuple[float, ...], channels: int) -> list[float]:
    """A colour as the evidence writes it: three values (a gray level repeated for one-channel models)."""
    rgb = colour * 3 if channels == 1 else colour
    return [round(float(v), 3) for v in rgb[:3]]


@dataclass(frozen=True)
class Square:
    x: int
    y: int
    size: int
    color: tuple[float, ...]      # one value per image channel, in [0, 1]

    def stamp(self, images: np.ndarray) -> np.ndarray:
        out = images.copy()
        out[:, :, self.y:self.y + self.size, self.x:self.x + self.size] = \
            np.asarray(self.color, np.float32).reshape(1, -1, 1, 1)
        return out

    def visible_on(self, images: np.ndarray) -> np.ndarray:
        """Per image: does the square differ from what it covers by at least VISIBLE on average?"""
        region = images[:, :, self.y:self.y + self.size, self.x:self.x + self.size]
        return np.abs(region - np.asarray(self.color, np.float32).reshape(1, -1, 1, 1)).mean(axis=(1, 2, 3)) \
            >= VISIBLE

    def outside_mask(self, h: int, w: int) -> np.ndarray:
        """True outside the square grown by a margin of half its size."""
        m = max(1, self.size // 2)
        mask = np.ones((h, w), bool)
        mask[max(0, self.y - m):self.y + self.size + m, max(0, self.x - m):self.x + self.size + m] = False
        return mask

    def evidence(self, channels: int) -> dict:
        return {"type": "patch", "x": self.x, "y": self.y, "size": self.size,
                "color": evidence_rgb(self.color, channels)}


@dataclass(frozen=True)
class PatchScanParams:
    size_fractions: tuple[float, ...] = (0.11, 0.16, 0.22)
    random_colours: int = 2
    screen_images: int = 8
    confirm_images: int = 24
    grid_columns: int = 8
    colour_levels: int = 5          # per channel, coarse colour lattice of a switching square (5^3 = 125 for RGB)
    colour_fine_half_width: float = 0.125


def _positions(side: int, size: int) -> list[int]:
    stride = max(1, size // 2)
    pos = list(range(0, side - size + 1, stride))
    if pos[-1] != side - size:
        pos.append(side - size)
    return pos


def candidate_squares(shape: tuple[int, int, int], params: PatchScanParams, rng) -> list[Square]:
    c, h, w = shape
    if c == 1:
        colours = [(g,) for g in GRAY_LEVELS]
    else:
        colours = [tuple(map(float, col)) for col in NAMED_RGB]
        colours += [tuple(float(round(v, 3)) for v in rng.random(3)) for _ in range(params.random_colours)]
        colours = [col[:c] if c < 3 else col + (0.0,) * (c - 3) for col in colours]
    squares = []
    for frac in params.size_fractions:
        size = max(2, round(frac * min(h, w)))
        for y in _positions(h, size):
            for x in _positions(w, size):
                squares += [Square(x, y, size, col) for col in colours]
    return squares


@dataclass
class SquareStatistics:
    change: np.ndarray            # [S]
    collapse: np.ndarray
    inversion: np.ndarray

    def scores(self) -> dict[str, np.ndarray]:
        return {"change": np.log(np.maximum(self.change, 1e-6)),
                "collapse": -np.log(np.maximum(self.collapse, 1e-4)), "inversion": self.inversion}


def square_statistics(model, images: np.ndarray, clean: np.ndarray, squares: list[Square],
                      rows_per_call: int = 2048) -> SquareStatistics:
    """Change, collapse and inversion of each square, over the images on which it is visible.

    A square that matches the background it lands on (a white square on a white corner) changes nothing the
    model can see, so each statistic uses only the images where the square differs from what it covers by at
    least ``VISIBLE`` on average; with fewer than ``MIN_VISIBLE`` such images the square gets neutral values.
    """
    n, c, h, w = images.shape
    clean_error = max(float(((clean - images) ** 2).mean()), 1e-4)
    per_call = max(1, rows_per_call // n)
    change, collapse, inversion = np.zeros(len(squares)), np.ones(len(squares)), np.zeros(len(squares))
    # Vectorised over a block of squares (a per-square loop of boolean indexing was half the probe's time):
    # each square's image subset and outside-region are weights, and every statistic is a weighted sum.
    clean64 = clean.astype(np.float64)
    signed_inputs = 2.0 * images.astype(np.float64) - 1.0
    for start in range(0, len(squares), per_call):
        block = squares[start:start + per_call]
        stamped = np.concatenate([s.stamp(images) for s in block])
        out = model.reconstruct(stamped).reshape(len(block), n, c, h, w).astype(np.float64)
        visible = np.stack([s.visible_on(images) for s in block]).astype(np.float64)        # [B, n]
        outside = np.stack([s.outside_mask(h, w) for s in block]).astype(np.float64)        # [B, h, w]
        k = visible.sum(axis=1)
        usable = np.flatnonzero(k >= MIN_VISIBLE)
        k = np.maximum(k, 2)
        pixels = c * outside.sum(axis=(1, 2))
        squared = ((out - clean64) ** 2).sum(axis=2)
        block_change = np.einsum("bnhw,bhw,bn->b", squared, outside, visible) / (k * pixels) / clean_error
        block_collapse = _outside_variance(out, visible, outside, k, pixels) / np.maximum(
            _outside_variance(np.broadcast_to(clean64, out.shape), visible, outside, k, pixels), 1e-8)
        # Per image: is the output nearer the inverted input (1 - x) than the input x over the outside region?
        # sum((y - 1 + x)^2 - (y - x)^2) = sum((2x - 1)(2y - 1)), so it is the sign of one weighted product.
        nearer_inverse = np.einsum("bnchw,nchw,bhw->bn", 2.0 * out - 1.0, signed_inputs, outside) < 0
        block_inversion = (nearer_inverse * visible).sum(axis=1) / k
        change[start + usable] = block_change[usable]
        collapse[start + usable] = block_collapse[usable]
        inversion[start + usable] = block_inversion[usable]
    return SquareStatistics(change, collapse, inversion)


def _outside_variance(out: np.ndarray, visible: np.ndarray, outside: np.ndarray, k: np.ndarray,
                      pixels: np.ndarray) -> np.ndarray:
    """Per square: the variance across its visible images (ddof 1) of each output value, averaged over the
    channels and the outside region. ``out`` is [B, n, c, h, w] float64."""
    s1 = np.einsum("bnchw,bn->bchw", out, visible)
    s2 = np.einsum("bnchw,bn->bchw", out * out, visible)
    kk = k[:, None, None, None]
    variance = (s2 - s1 * s1 / kk) / (kk - 1)
    return np.einsum("bchw,bhw->b", variance, outside) / pixels


def _anomaly(stats: SquareStatistics, null: SquareStatistics | None = None) -> np.ndarray:
    scores = stats.scores()
    null_scores = null.scores() if null is not None else None
    return np.stack([robust_z(scores[s], calibration.PATCH_MAD_FLOOR[s],
                              None if null_scores is None else null_scores[s]) for s in STATISTICS])


def _best(stats: SquareStatistics, z: np.ndarray) -> int:
    """Index of the square that switches the output (fixed image or inversion) if any does, then of the most
    anomalous; ``z`` is [statistic, square]."""
    switched = calibration.patch_switched(stats.collapse, stats.inversion)
    return int(np.lexsort((z.max(axis=0), switched))[-1])


def _neighbours(square: Square, shape: tuple[int, int, int]) -> list[Square]:
    c, h, w = shape
    out = []
    for size in (square.size - 1, square.size, square.size + 1):
        if size < 2:
            continue
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-2, -1, 0, 1, 2):
                x, y = square.x + dx, square.y + dy
                if 0 <= x <= w - size and 0 <= y <= h - size:
                    out.append(Square(x, y, size, square.color))
    return out


def _colour_lattice(square: Square, centre: tuple[float, ...] | None, half_width: float, levels: int) -> list[Square]:
    """The square in every colour of a lattice: ``levels`` values per channel spanning centre +- half_width
    (those outside [0, 1] dropped); the whole cube when ``centre`` is None."""
    axes = []
    for ch in range(len(square.color)):
        values = np.linspace(0.0, 1.0, levels) if centre is None else \
            centre[ch] + np.linspace(-half_width, half_width, levels)
        axes.append(np.unique(np.clip(values, 0.0, 1.0)))
    colours = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, len(axes))
    return [Square(square.x, square.y, square.size, tuple(float(round(v, 4)) for v in col)) for col in colours]


def switch_strength(stats: SquareStatistics) -> np.ndarray:
    """How fully each square switches the output, in [0, 1]: the larger of 1 - diversity ratio (fixed-image
    target) and the inversion share (inverse target)."""
    return np.maximum(1.0 - np.clip(stats.collapse, 0.0, 1.0), stats.inversion)


def firing_colours(squares: list[Square], strength: np.ndarray, tolerance: float = 0.1) -> np.ndarray:
    """[n, channels] the colours whose switch strength is within ``tolerance`` of the best."""
    return np.array([s.color for s in squares])[strength >= strength.max() - tolerance]


def plateau_colour(squares: list[Square], strength: np.ndarray, tolerance: float = 0.1) -> tuple[float, ...]:
    """Centroid of the colours whose switch strength is within ``tolerance`` of the best.

    A backdoor usually fires for a whole region of colours around the planted one, at full strength; the argmax
    of a saturated statistic is an arbitrary point of that region (measured: the corner (1, 0, 1) for a planted
    pink (1, 0.41, 0.71)), while its centroid sits near the colour the model was trained on.
    """
    return tuple(float(v) for v in firing_colours(squares, strength, tolerance).mean(axis=0))


def colour_range(squares: list[Square], strength: np.ndarray, tolerance: float = 0.1) -> tuple[tuple, tuple]:
    """(lowest, highest) value per channel over the colours that fire: the box a defender must treat as trigger.

    Reported beside the centroid because the centroid can be far from the planted colour when the region is wide:
    measured on two zoo autoencoders whose planted gray was 0.33, one fired for every gray from 0.20 to 1.00 and
    the other from black to 0.35-0.45, so behaviour cannot single out the planted value inside the region.
    """
    fired = firing_colours(squares, strength, tolerance)
    return tuple(float(v) for v in fired.min(axis=0)), tuple(float(v) for v in fired.max(axis=0))


def _range_text(low: tuple, high: tuple, channels: int) -> str:
    if channels == 1:
        return f"fires for grays {low[0]:.2f}-{high[0]:.2f}"
    box = ", ".join(f"{a:.2f}-{b:.2f}" for a, b in zip(low[:3], high[:3], strict=True))
    return f"fires for colours in the box ({box})"


def _planned_rows(p: PatchScanParams, n_squares: int, channels: int) -> int:
    """Upper estimate: screen, null set, up to 3 statistics' neighbourhoods (75 squares each), colour lattices."""
    colours = p.colour_levels ** channels + 3 ** channels + 2
    return n_squares * p.screen_images + (1 + NULL_SQUARES + 3 * 75 + colours) * p.confirm_images


class PatchTriggerProbe(Probe):
    """Image-patch trigger scan (BAAAN): a coloured square that switches an autoencoder's reconstruction."""

    name = "trigger.patch"
    applies_to = frozenset({ModelKind.AUTOENCODER})

    def __init__(self, params: PatchScanParams | None = None) -> None:
        self.params = params or PatchScanParams()

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        if ctx.images is None or len(ctx.images) < 2:
            raise ValueError("the patch scan needs at least two probe images")
        rng = ctx.rng
        shape = model.info.image_shape
        squares = candidate_squares(shape, self.params, rng)
        p = fit_sample_counts(self.params, ctx.preset, ctx.max_rows,
                              lambda q: _planned_rows(q, len(squares), shape[0]), "screen_images", "confirm_images")
        pick = rng.permutation(len(ctx.images))
        screen_x = ctx.images[pick[: p.screen_images]]
        confirm_x = ctx.images[pick[: p.confirm_images]]

        screen_clean = model.reconstruct(screen_x)
        screen = square_statistics(model, screen_x, screen_clean, squares)
        z_screen = _anomaly(screen)
        rows_screen = model.rows
        ctx.progress(1, 3)

        # Refine the best square of each statistic (and score against a random null set) on more images.
        best = list(dict.fromkeys(squares[int(np.argmax(z_stat))] for z_stat in z_screen))
        null_idx = rng.choice(len(squares), min(NULL_SQUARES, len(squares)), replace=False)
        null_squares = [squares[i] for i in null_idx]
        confirm_clean = model.reconstruct(confirm_x)
        null = square_statistics(model, confirm_x, confirm_clean, null_squares)

        def refine(options: list[Square]):
            stats = square_statistics(model, confirm_x, confirm_clean, options)
            z = _anomaly(stats, null)
            pick = _best(stats, z)
            return options[pick], stats, z, pick

        square, stats, z, pick = refine(list(dict.fromkeys(s for b in best for s in _neighbours(b, shape))))
        fired = None
        # The colour lattice also runs for an anomalous square that does not switch in the colour it was found in:
        # a backdoor can switch fully only for other colours (measured on a rebuilt zoo2_016, planted gray 0.33:
        # white collapsed the output to 0.21, just short of the bar, grays 0.6-0.75 to 0.01).
        if calibration.patch_switched(stats.collapse[pick], stats.inversion[pick]) \
                or z[:, pick].max() >= calibration.PATCH_Z_HIGH:
            recoloured = self._refine_colour(model, confirm_x, confirm_clean, square, null)
            if recoloured is not None:
                square, stats, z, pick, fired = recoloured
        ctx.progress(2, 3)

        z_final = z[:, pick]
        statistic = STATISTICS[int(np.argmax(z_final))]
        anomaly = float(z_final.max())
        change, collapse, inversion = (float(stats.change[pick]), float(stats.collapse[pick]),
                                       float(stats.inversion[pick]))
        severity = calibration.patch_severity(anomaly, change, collapse, inversion)
        rows_confirm = model.rows - rows_screen
        show = confirm_x[: p.grid_columns]
        stamped = square.stamp(show)
        grid = grid_data_uri([show, model.reconstruct(show), stamped, model.reconstruct(stamped)])
        ctx.progress(3, 3)

        c = shape[0]
        evidence = {"trigger": square.evidence(c), "statistic": statistic, "anomaly_index": round(anomaly, 2),
                    "threshold_high": calibration.PATCH_Z_HIGH, "squares_screened": len(squares),
                    "images": ctx.images_source,
                    "queries": {"screen_rows": rows_screen, "confirm_rows": rows_confirm,
                                "screen_images": len(screen_x), "confirm_images": len(confirm_x)}}
        if fired is not None:
            low, high, step = fired
            evidence["colour_range"] = {"low": evidence_rgb(low, c), "high": evidence_rgb(high, c),
                                        "step": round(step, 4),
                                        # Measured on a rebuilt zoo model: planted gray 0.33, box 0.50-0.50.
                                        "note": "the smallest box holding every lattice colour that switched the "
                                                "output at full strength (within 0.1) at this square; the reported "
                                                "colour is their centre; a planted colour between lattice points "
                                                "can lie up to one step outside the box"}
        metrics = {"anomaly_index": anomaly, "threshold_high": calibration.PATCH_Z_HIGH, "change": change,
                   "collapse": collapse, "inversion": inversion, "squares_screened": float(len(squares)),
                   "rows_screen": float(rows_screen), "rows_confirm": float(rows_confirm)}
        where = f"{square.size}px square at x={square.x}, y={square.y}, colour {square.evidence(c)['color']}"
        if severity >= Severity.MEDIUM:
            effect = ("makes every reconstruction nearly the same image" if collapse < calibration.PATCH_COLLAPSE_MAX
                      else "turns the reconstruction into the inverted input"
                      if inversion > calibration.PATCH_INVERSION_MIN else "changes the whole reconstruction")
            fires_for = "" if fired is None else "; " + _range_text(fired[0], fired[1], c)
            finding = Finding(self.name, "TRIG-PATCH-001", severity, min(1.0, anomaly / 50.0),
                              f"a {where} {effect} (change x{change:.1f}, diversity x{collapse:.2f}, "
                              f"{inversion:.0%} of inputs inverted; anomaly index {anomaly:.1f}{fires_for})",
                              evidence)
        else:
            finding = Finding(self.name, "TRIG-PATCH-000", Severity.INFO, min(1.0, max(0.0, anomaly) / 50.0),
                              f"no square switches the reconstruction: the most anomalous, a {where}, has index "
                              f"{anomaly:.1f} (high from {calibration.PATCH_Z_HIGH})", evidence)
        images = {"probe images, their reconstructions, stamped, and reconstructed (rows)": grid}
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics, images=images)

    def _refine_colour(self, model, images, clean, square: Square, null: SquareStatistics):
        """Colour of a square that switches the output: plateau centroid over a coarse lattice of the colour cube,
        then over a finer one around it; returns the square in that colour with its statistics, and the range of
        colours that fire on the coarse lattice (with its step). None when no colour of the lattice switches it."""
        # A finer gray lattice (17 levels) was tried 2026-11-23: it moved the centre of the fixture's white trigger
        # out of localisation, so the range is read off the same coarse lattice as the centre (step 0.25).
        levels = self.params.colour_levels
        coarse = _colour_lattice(square, None, 0.5, levels)
        stats = square_statistics(model, images, clean, coarse)
        if not np.any(calibration.patch_switched(stats.collapse, stats.inversion)):
            return None                                    # no colour switches it: nothing to localise
        strength = switch_strength(stats)
        centre = plateau_colour(coarse, strength)
        fired = colour_range(coarse, strength) + (1.0 / (levels - 1),)
        fine = _colour_lattice(square, centre, self.params.colour_fine_half_width, 3)
        stats = square_statistics(model, images, clean, fine)
        colour = plateau_colour(fine, switch_strength(stats))
        final = Square(square.x, square.y, square.size, tuple(float(round(v, 3)) for v in colour))
        options = [final, square]
        stats = square_statistics(model, images, clean, options)
        z = _anomaly(stats, null)
        pick = 0 if calibration.patch_switched(stats.collapse[0], stats.inversion[0]) else 1
        return options[pick], stats, z, pick, fired
