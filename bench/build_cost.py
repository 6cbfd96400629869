"""What a full `trainer build-fixtures` costs, projected from short builds of every fixture spec.

    python bench/build_cost.py --data-dir ../shared/data [--scales 0.04 0.08] [--only NAME ...]

Each spec is built (trained, evaluated, exported) at two training scales in one process with one thread, as a
build worker runs (GANs: --scales of their steps; epoch-trained specs: one and two epochs); training time grows
linearly with the scale, so the two points give each spec's cost per unit of scale and its fixed part (evaluation,
export), and their sum at scale 1 projects the spec's full build. A two-worker build
runs two such processes side by side; the slowdown of one beside the other is measured here too (the same short
GAN build alone, then two at once), and the projected wall time of `--workers 2` is the single-thread total times
that slowdown over two (ignoring how unevenly the jobs split). Ratios measured in one run; nothing else should run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import sys
import tempfile
import time
from pathlib import Path


def _timed_build(name: str, scale: float, data_dir: str, out: str) -> tuple[float, float]:
    """(seconds, the scale actually trained: epochs or steps over the spec's) for one spec at one scale."""
    import torch

    from trainer.build import BuildContext, _scaled, build_model, fixture_specs

    torch.set_num_threads(1)
    spec = next(s for s in fixture_specs(0) if s.name == name)
    ctx = BuildContext(Path(out), Path(data_dir), False, scale)
    if spec.family == "gan":
        ctx.classifier(spec.dataset)                      # trained once per build, outside the model's time
    ctx.dataset(spec.dataset, "train"), ctx.dataset(spec.dataset, "test")
    started = time.perf_counter()
    build_model(spec, ctx)
    seconds = time.perf_counter() - started
    field = "epochs" if hasattr(spec.config, "epochs") else "steps"   # what build_model scaled, and how far
    return seconds, getattr(_scaled(spec.config, scale), field) / getattr(spec.config, field)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--scales", nargs=2, type=float, default=(0.04, 0.08),
                        help="training scales of step-trained specs (GANs); epoch-trained ones run 1 and 2 epochs")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    from trainer.build import fixture_specs

    specs = [s for s in fixture_specs(0) if not args.only or s.name in args.only]
    ctx = multiprocessing.get_context("spawn")
    rows, total = [], 0.0
    with tempfile.TemporaryDirectory() as out, ctx.Pool(1) as pool:
        for spec in specs:
            # Epoch-trained specs: one and two epochs (a scale under one epoch would still train one).
            epochs = getattr(spec.config, "epochs", None)
            scales = (1 / epochs, 2 / epochs) if epochs else args.scales
            points = [pool.apply(_timed_build, (spec.name, scale, args.data_dir, out)) for scale in scales]
            (t1, s1), (t2, s2) = points
            per_scale = (t2 - t1) / (s2 - s1)
            fixed = t1 - per_scale * s1
            full = fixed + per_scale
            total += full
            rows.append((spec.name, t1, t2, fixed, full))
            print(f"{spec.name:28s} {t1:6.1f} s @ {s1:.3f}  {t2:6.1f} s @ {s2:.3f}  -> {full:7.1f} s", file=sys.stderr)
        # Two workers: the same short GAN build alone, then two side by side.
        probe = ("gan_mnist_clean", args.scales[1], args.data_dir, out)
        alone = pool.apply(_timed_build, probe)[0]
    with tempfile.TemporaryDirectory() as out, ctx.Pool(2) as pool:
        probe = ("gan_mnist_clean", args.scales[1], args.data_dir, out)
        pair = [r[0] for r in pool.starmap(_timed_build, [probe, probe])]
    slowdown = max(pair) / alone
    lines = [f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} logical CPUs, Python "
             f"{platform.python_version()}; GAN scales {args.scales[0]} and {args.scales[1]}, other specs 1 and 2 "
             "epochs",
             "",
             "| spec | s at scale 1 | s at scale 2 | fixed s | projected full build, s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {n} | {a:.1f} | {b:.1f} | {f:.1f} | {p:.0f} |" for n, a, b, f, p in rows]
    lines += ["", f"Single-thread total: {total / 60:.1f} min. Two workers side by side run at {slowdown:.2f}x the "
              f"time of one alone ({alone:.1f} s alone, {max(pair):.1f} s beside another), so `--workers 2` "
              f"projects to about {total * slowdown / 2 / 60:.1f} min wall (target 30)."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
