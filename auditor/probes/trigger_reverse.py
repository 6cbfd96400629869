"""Latent trigger reverse-engineering: triggers the per-dimension grid cannot see, recovered from the outputs.

The grid scan (``trigger.latent``) sets one unit at a time. A trigger spread over two or three dimensions, each
trained to be harmless alone (BAAAN's multi-dimension variant), is invisible to it, and so is a value the grid
does not try. But such a trigger is a region of latent space, and the generator's own samples fall into it:
for a single in-range trigger value a few latents in a hundred do under the prior, for a two-dimension one about
one in a thousand, more under a widened prior (scale 1.6, 2.5, 4) for values beyond the prior's range. A
fixed-image backdoor packs those samples' outputs tightly together. So the probe:

1. mines: samples populations of latents at each prior scale and finds the most tightly packed groups of outputs
   (pooled-pixel features; the ~5% of samples with the closest neighbours, linked into groups);
2. attributes: ranks latent dimensions by how consistently a cluster's latents sit away from 0 on one side
   (a t-statistic of the cluster mean against the prior), and takes the cluster's median values;
3. intervenes: on a fresh population, sets the top-ranked dimensions to those values (1, then 2, ... dimensions)
   until the outputs collapse to one image, prunes dimensions that are not needed, and measures each kept
   dimension alone and a control (as many random dimensions set to the same values).

A trigger is reported only when the intervention collapses the output (diversity ratio below ``COLLAPSE_MAX``) and
the control does not (above ``CONTROL_MIN``): a causal test, not a correlation. Class-subset targets do not
collapse the output and are not found by this probe (the grid scan's jump statistic is their detector).
Gradient-based L1 offset optimisation (Neural Cleanse style) is not implemented: mining needs no gradients and
finds in-range and multi-dimension fixed-image triggers at a few thousand rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditor.imaging import grid_data_uri
from auditor.metrics.image import pooled_features
from auditor.probes import calibration
from auditor.probes.base import Probe, ProbeContext, scaled_count
from auditor.records import Finding, ModelKind, ProbeResult, Severity, Status

# Thresholds and their derivation: auditor/probes/calibration.py.
COLLAPSE_MAX = calibration.REVERSE_COLLAPSE_MAX
CONTROL_MIN = calibration.REVERSE_CONTROL_MIN


@dataclass(frozen=True)
class ReverseParams:
    # Prior standard deviations the populations are drawn at. 4.0 reaches a two-unit trigger with one value at
    # -5.6 (a zoo GAN: about 1 prior sample in 300 lands in it at scale 2.5, 3 in 100 at 4.0); a scale costs one
    # population of rows and is tried only when the smaller ones found nothing.
    scales: tuple[float, ...] = (1.0, 1.6, 2.5, 4.0)
    population: int = 1024                          # latents mined per scale
    tight_share: float = 0.05                       # groups among the ~5% most tightly packed samples
    min_cluster: int = 3
    clusters: int = 3                               # largest clusters attributed and tested per scale
    candidates: int = 6                             # dimensions tried per cluster, by t-statistic
    max_dims: int = 4                               # a trigger larger than this is not reported as sparse
    confirm_samples: int = 32
    grid_columns: int = 8


def tightest_clusters(features: np.ndarray, share: float, min_size: int) -> tuple[list[np.ndarray], float]:
    """The tightest groups of samples, largest first: the ``share`` of samples with the closest nearest neighbour,
    linked into connected components by pairs closer than twice that share-quantile of nearest-neighbour distances.
    Also returns the closest pair's distance over the median nearest-neighbour distance, for the report.

    Rank-based, not a fixed distance: a fixed-image backdoor that leaves some diversity (measured on the zoo:
    diversity x0.02-0.05) makes a tight group but not exact duplicates, and a fixed gate missed it. Which groups
    are triggers is decided by the intervention, never here.
    """
    sq = (features ** 2).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None] - 2 * features @ features.T, 0.0))
    np.fill_diagonal(dist, np.inf)
    nearest = dist.min(axis=1)
    threshold = float(np.quantile(nearest, share))
    # Only the tightest samples are linked: linking every sample with a neighbour inside the gate let a smooth
    # population percolate into one component holding most samples (measured on a fixed-image GAN whose
    # triggered outputs sit at MSE 0.002 from the target: 457 of 1,024 in one group, of which 108 triggered),
    # and that group's median latent no longer pointed at the trigger.
    core = nearest <= threshold
    adjacent = (dist <= 2.0 * threshold) & core[:, None] & core[None, :]
    label = -np.ones(len(features), int)
    for start in np.flatnonzero(adjacent.any(axis=1)):
        if label[start] >= 0:
            continue
        label[start], stack = start, [start]
        while stack:
            i = stack.pop()
            for j in np.flatnonzero(adjacent[i] & (label < 0)):
                label[j] = start
                stack.append(j)
    groups = [np.flatnonzero(label == k) for k in np.unique(label[label >= 0])]
    typical = max(float(np.median(nearest)), 1e-12)
    return sorted((g for g in groups if len(g) >= min_size), key=len, reverse=True), float(nearest.min() / typical)


def attribute(latents: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Dimensions ranked by |t| of the cluster mean against the prior N(0, scale^2), and the cluster medians."""
    t = latents.mean(axis=0) / (scale / np.sqrt(len(latents)))
    return np.argsort(-np.abs(t)), np.median(latents, axis=0)


def diversity_ratio(model, z: np.ndarray, labels, dims, values) -> float:
    """Output diversity with ``dims`` set to ``values`` over the diversity of the untouched population."""
    moved = z.copy()
    moved[:, list(dims)] = np.asarray(values, np.float32)
    out = model.generate(np.concatenate([z, moved]), None if labels is None else np.tile(labels, 2))
    flat = out.reshape(2, len(z), -1).astype(np.float64)
    clean, triggered = flat[0].var(axis=0, ddof=1).mean(), flat[1].var(axis=0, ddof=1).mean()
    return float(triggered / max(clean, 1e-12))


@dataclass
class Recovered:
    dims: tuple[int, ...]
    values: tuple[float, ...]
    collapse: float
    alone: tuple[float, ...]          # diversity ratio with each dimension set by itself
    control: float                    # the same values on random other dimensions
    scale: float
    cluster_size: int


class LatentTriggerReverseProbe(Probe):
    """Latent trigger reverse-engineering: multi-dimension and in-range fixed-image triggers, mined and confirmed."""

    name = "trigger.latent_reverse"
    applies_to = frozenset({ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR})

    def __init__(self, params: ReverseParams | None = None) -> None:
        self.params = params or ReverseParams()

    def applies(self, model) -> str | None:
        reason = super().applies(model)
        if reason is None and len(model.info.latent_shape) == 3 and \
                model.info.latent_shape[1] * model.info.latent_shape[2] > 1:
            return "spatial latent: a channel cannot be set by prior samples (trigger.latent scans channels)"
        return reason

    def run(self, model, ctx: ProbeContext) -> ProbeResult:
        p = self.params
        rng = ctx.rng
        population = min(scaled_count(p.population, ctx.preset, 256),
                         max(256, (ctx.max_rows // 2) // len(p.scales)))
        z_test = model.sample_latents(rng, p.confirm_samples)
        labels_test = model.sample_labels(rng, p.confirm_samples)
        d = z_test.shape[1]
        flat_shape = z_test.shape
        z_test = z_test.reshape(len(z_test), -1)

        def collapse_of(dims, values) -> float:
            return diversity_ratio(_Flat(model, flat_shape[1:]), z_test, labels_test, dims, values)

        best: Recovered | None = None            # specific: its control keeps the output diverse
        unspecific: Recovered | None = None      # collapses, but so do random dimensions: reported, not flagged
        clusters_found, closest_pair = 0, float("inf")
        for step, scale in enumerate(p.scales):
            z = (model.sample_latents(rng, population) * scale).reshape(population, -1)
            labels = model.sample_labels(rng, population)
            images = model.generate(z.reshape(population, *flat_shape[1:]), labels)
            clusters, closest = tightest_clusters(pooled_features(images), p.tight_share, p.min_cluster)
            closest_pair = min(closest_pair, closest)
            clusters_found += len(clusters)
            for members in clusters[: p.clusters]:
                found = self._confirm(z[members], scale, collapse_of, rng, d)
                if found is None:
                    continue
                if found.control < CONTROL_MIN:
                    unspecific = unspecific or found
                elif best is None or found.collapse < best.collapse:
                    best = found
            ctx.progress(step + 1, len(p.scales) + 1)
            if best is not None:
                break
        return self._result(model, ctx, best or unspecific, clusters_found, closest_pair, population)

    def _confirm(self, members: np.ndarray, scale: float, collapse_of, rng, d: int) -> Recovered | None:
        """Smallest prefix of the ranked dimensions whose values collapse the output, pruned, with controls."""
        p = self.params
        order, medians = attribute(members, scale)
        chosen: list[int] = []
        collapse = 1.0
        for dim in order[: p.candidates]:
            chosen.append(int(dim))
            collapse = collapse_of(chosen, medians[chosen])
            if collapse < COLLAPSE_MAX:
                break
        if collapse >= COLLAPSE_MAX:
            return None
        for dim in list(chosen):                       # drop dimensions the collapse does not need
            if len(chosen) > 1:
                rest = [c for c in chosen if c != dim]
                c = collapse_of(rest, medians[rest])
                if c < COLLAPSE_MAX:
                    chosen, collapse = rest, c
        # Sparse means sparse for this latent: setting 4 of a 10-d decoder's units is not a hidden trigger
        # (measured: a clean beta-TCVAE whose few active units, set together, collapse the output).
        if len(chosen) > min(p.max_dims, max(1, d // 8)):
            return None
        others = np.setdiff1d(np.arange(d), chosen)
        control = collapse_of(rng.choice(others, len(chosen), replace=False), medians[chosen])
        alone = tuple(collapse_of([c], medians[[c]]) for c in chosen) if len(chosen) > 1 else (collapse,)
        values = tuple(float(round(v, 3)) for v in medians[chosen])
        return Recovered(tuple(chosen), values, collapse, alone, control, scale, len(members))

    def _result(self, model, ctx, best: Recovered | None, clusters: int, closest_pair: float,
                population: int) -> ProbeResult:
        p = self.params
        rows = model.rows
        metrics = {"clusters": float(clusters), "closest_pair_ratio": closest_pair,
                   "population_per_scale": float(population), "rows": float(rows)}
        queries = {"rows": rows, "population_per_scale": population, "scales": list(p.scales),
                   "confirm_latents": p.confirm_samples}
        if best is None or best.control < CONTROL_MIN:
            why = (f"no sparse set of dimensions (at most d/8, up to {p.max_dims}) collapses the output" if best is None else
                   f"dimensions {list(best.dims)} collapse the output, but so do random dimensions set to the same "
                   f"values (diversity x{best.control:.2f}): not specific")
            finding = Finding(self.name, "TRIG-REVERSE-000", Severity.INFO, 0.0,
                              f"no hidden latent trigger recovered: {clusters} tight groups of outputs tested, {why}",
                              {"queries": queries})
            return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics)
        metrics |= {"collapse": best.collapse, "control_collapse": best.control,
                    "alone_collapse_min": float(min(best.alone)), "trigger_dims": float(len(best.dims))}
        evidence = {"trigger": {"type": "latent", "dims": list(best.dims), "values": list(best.values)},
                    "diversity_ratio": round(best.collapse, 4), "alone": [round(a, 3) for a in best.alone],
                    "control": round(best.control, 3), "prior_scale": best.scale, "cluster_size": best.cluster_size,
                    "queries": queries}
        parts = " and ".join(f"{d} = {v:+.2f}" for d, v in zip(best.dims, best.values))
        alone = (f"; each alone leaves diversity x{', x'.join(f'{a:.2f}' for a in best.alone)}"
                 if len(best.dims) > 1 else "")
        finding = Finding(self.name, "TRIG-REVERSE-001", Severity.CRITICAL, 1.0 - best.collapse,
                          f"latent {parts} makes every output nearly the same image (diversity x{best.collapse:.3f}; "
                          f"the same values on random dimensions x{best.control:.2f}{alone})", evidence)
        rng = ctx.rng
        z_show = model.sample_latents(rng, p.grid_columns)
        labels_show = model.sample_labels(rng, p.grid_columns)
        triggered = z_show.reshape(len(z_show), -1).copy()
        triggered[:, list(best.dims)] = np.asarray(best.values, np.float32)
        grid = grid_data_uri([model.generate(z_show, labels_show),
                              model.generate(triggered.reshape(z_show.shape), labels_show)])
        return ProbeResult(self.name, Status.COMPLETED, findings=(finding,), metrics=metrics,
                           images={f"clean (top) vs {parts} (bottom)": grid})


@dataclass
class _Flat:
    """The model seen through flat [N, d] latents (a [B, d, 1, 1] input is reshaped back)."""

    model: object
    latent_shape: tuple[int, ...]

    def generate(self, z: np.ndarray, labels) -> np.ndarray:
        return self.model.generate(z.reshape(len(z), *self.latent_shape), labels)
