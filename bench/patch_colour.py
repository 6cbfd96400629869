"""Can a patch scan tell the planted colour of a one-channel autoencoder backdoor? A study, not a test.

    python bench/patch_colour.py fixtures zoo2 --data-dir ../shared/data [-o table.md]

For every backdoored one-channel autoencoder in the folders' manifests, stamps the *planted* square (its true
position) in 17 gray levels, at the planted size and one and two pixels smaller, into 64 real test images of the
model's dataset, and prints the switch strength (the patch scan's own statistic: 1 - diversity ratio for a
fixed-image target, the share of inverted inputs for an inverse target) per gray level. If the planted gray were
identifiable from behaviour, some stimulus would peak at it; a model that fires for every gray past a threshold,
more strongly the brighter, has no such peak. Gray levels under 0.2 away from what the square covers count as
invisible and score 0 (``trigger_patch.VISIBLE``).

RGB models (CIFAR-10) get a second table: the planted square in every colour of the scan's 5-level lattice of the
colour cube (125 colours), how many switch the output at full strength (>= 0.9), whether the planted colour
does, the centre of the full-strength region (what the scan reports) and its distance to the planted colour.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from auditor.loading import load_model
from auditor.probes.trigger_patch import Square, square_statistics, switch_strength
from trainer.data import load_dataset

GRAYS = np.round(np.linspace(0.0, 1.0, 17), 4)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    images: dict[str, np.ndarray] = {}
    rgb_lines = ["| model | planted colour | size | colours at full strength (of 125) | planted at full strength | "
                 "centre of the full-strength region | its distance to the planted colour |",
                 "|---|---|---|---|---|---|---|"]
    header = " | ".join(f"{g:.2f}" for g in GRAYS)
    lines = [f"| model | planted gray | size | {header} | first gray at the largest |",
             "|---|---|---|" + "---|" * len(GRAYS) + "---|"]
    for folder in args.folders:
        for entry in json.loads((folder / "manifest.json").read_text())["models"]:
            trigger = entry.get("trigger") or {}
            if trigger.get("type") != "patch":
                continue
            if entry.get("dataset") == "cifar10":
                rgb_lines.append(_rgb_row(folder, entry, args))
                print(rgb_lines[-1], flush=True)
                continue
            if entry.get("dataset") not in ("mnist", "fashion_mnist"):
                continue
            dataset = entry["dataset"]
            if dataset not in images:
                images[dataset] = load_dataset(dataset, "test", args.data_dir).images[:args.images].astype(np.float32)
            x = images[dataset]
            model = load_model(folder / entry["file"], device="cpu")
            clean = model.reconstruct(x)
            planted = float(np.mean(trigger["color"]))
            for size in range(trigger["size"], max(0, trigger["size"] - 3), -1):
                squares = [Square(trigger["x"], trigger["y"], size, (float(g),)) for g in GRAYS]
                strength = switch_strength(square_statistics(model, x, clean, squares))
                lines.append(f"| {folder.name}/{entry['file']} | {planted:.2f} | {size} | "
                             + " | ".join(f"{s:.2f}" for s in strength) + f" | {GRAYS[int(np.argmax(strength))]:.2f} |")
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n" + ("\n" + "\n".join(rgb_lines) + "\n" if len(rgb_lines) > 2 else "")
    if args.output:
        args.output.write_text(text)
    return 0


def _rgb_row(folder: Path, entry: dict, args) -> str:
    trigger = entry["trigger"]
    x = load_dataset(entry["dataset"], "test", args.data_dir).images[:args.images].astype(np.float32)
    model = load_model(folder / entry["file"], device="cpu")
    clean = model.reconstruct(x)
    levels = np.linspace(0.0, 1.0, 5)
    colours = [tuple(map(float, c)) for c in itertools.product(levels, levels, levels)] + [tuple(trigger["color"])]
    squares = [Square(trigger["x"], trigger["y"], trigger["size"], c) for c in colours]
    strength = switch_strength(square_statistics(model, x, clean, squares))
    full = strength[:-1] >= 0.9
    centre = np.array(colours[:-1])[full].mean(axis=0) if full.any() else np.full(3, np.nan)
    distance = float(np.linalg.norm(centre - np.array(trigger["color"])))
    return (f"| {folder.name}/{entry['file']} | {trigger['color']} | {trigger['size']} | {int(full.sum())} | "
            f"{strength[-1]:.2f} | {np.round(centre, 2).tolist()} | {distance:.2f} |")


if __name__ == "__main__":
    raise SystemExit(main())
