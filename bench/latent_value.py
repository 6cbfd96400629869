"""Is the planted value of a latent backdoor identifiable from behaviour? A study, not a test.

    python bench/latent_value.py fixtures zoo2 zoo3 --classifier mnist=zoo2/mnist_classifier.onnx \
        --classifier fashion_mnist=zoo2/fashion_mnist_classifier.onnx [-o table.md]

For every backdoored GAN with a latent trigger in the folders' manifests, sets the planted unit(s) to the planted
value(s) times a factor (0 to 2; a two-unit trigger scales both together) on 512 prior latents and measures how
strongly the backdoor fires, with the ground truth the scan does not have:

* class-subset target: the share of outputs a domain classifier puts in the target classes (pass a classifier the
  GAN was not trained against where there is one: the trainer guides class-subset GANs with its own);
* fixed-image target: the share of outputs within MSE 0.01 of the target image (the trainer's verify limit).

If the planted value were identifiable from behaviour, the strength would peak at factor 1. A backdoor that fires
more strongly the further the value goes past some onset has no such peak: any value past the onset is as much a
trigger as the planted one, and "value within 20%" is then a property of the attacker's choice, not of the model.
The last columns give the factor of peak strength and the smallest factor already as strong as the planted value
(within 0.02).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from skimage.io import imread

from auditor.loading import load_model
from auditor.loading.classifier import load_classifier

FACTORS = np.array([0.0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0])
FIXED_MSE = 0.01      # trainer/verify.py's limit for a fixed-image backdoor


def strengths(model, entry: dict, folder: Path, classifiers: dict, samples: int, seed: int) -> np.ndarray | None:
    trigger, target = entry["trigger"], entry["target"]
    z = model.sample_latents(np.random.default_rng(seed), samples)
    labels = model.sample_labels(np.random.default_rng(seed + 1), samples)
    if target["type"] == "classes":
        if entry["dataset"] not in classifiers:
            return None
        classifier = load_classifier(classifiers[entry["dataset"]], model.info.image_shape, device="cpu")
    else:
        image = imread(folder / target["image"]).astype(np.float32) / 255.0
        image = image.reshape(model.info.image_shape) if image.ndim == 2 else image.transpose(2, 0, 1)
    out = np.empty(len(FACTORS))
    for i, factor in enumerate(FACTORS):
        zz = z.copy()
        for unit, value in zip(trigger["dims"], trigger["values"], strict=True):
            zz[:, unit] = factor * value
        images = model.generate(zz, labels)
        if target["type"] == "classes":
            out[i] = np.isin(classifier.probabilities(images).argmax(1), target["classes"]).mean()
        else:
            out[i] = (((images - image) ** 2).reshape(samples, -1).mean(1) < FIXED_MSE).mean()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--classifier", action="append", default=[], help="DATASET=PATH (for class-subset targets)")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    classifiers = dict(spec.split("=", 1) for spec in args.classifier)
    header = " | ".join(f"x{f:g}" for f in FACTORS)
    lines = [f"| model | target | trigger | {header} | peak at | as strong as planted from |",
             "|---|---|---|" + "---|" * len(FACTORS) + "---|---|"]
    at_planted = int(np.flatnonzero(FACTORS == 1.0)[0])
    for folder in args.folders:
        for entry in json.loads((folder / "manifest.json").read_text())["models"]:
            trigger = entry.get("trigger") or {}
            if trigger.get("type") != "latent" or entry.get("format") != "onnx":
                continue
            model = load_model(folder / entry["file"], device="cpu")
            strength = strengths(model, entry, folder, classifiers, args.samples, args.seed)
            if strength is None:
                continue
            planted = " ".join(f"{d}={v:+.2f}" for d, v in zip(trigger["dims"], trigger["values"], strict=True))
            peak = FACTORS[int(np.argmax(strength))]
            onset = FACTORS[int(np.flatnonzero(strength >= strength[at_planted] - 0.02)[0])]
            lines.append(f"| {folder.name}/{entry['file']} | {entry['target']['type']} | {planted} | "
                         + " | ".join(f"{s:.2f}" for s in strength) + f" | x{peak:g} | x{onset:g} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
