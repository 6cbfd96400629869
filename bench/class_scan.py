"""Calibration and detection benchmark of the class-mix trigger scan (``trigger.latent_classes``).

    python bench/class_scan.py zoo2 --classifier mnist=fixtures/mnist_classifier.onnx \
        --classifier fashion_mnist=zoo2/fashion_mnist_classifier.onnx --seeds 0,1 [-o table.md]

For every generator/decoder of the folders' manifests whose dataset has a classifier, runs the probe once per seed
of its RNG and prints one row per model and seed: ground truth, anomaly index, severity, the unit and value found,
whether they are localised (right dimension, and value within 20%), the classes the mix narrowed to, forward rows and
seconds. Use a classifier the models were not trained against (the trainer's class-subset GANs were guided by
the classifier of their own build). Clean models' indices are what the thresholds in
``auditor/probes/calibration.py`` are set from.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from auditor.loading import load_model
from auditor.loading.classifier import load_classifier
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_classes import LatentClassShiftProbe
from auditor.runner import run_probe
from trainer.triggers import localised


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--classifier", action="append", default=[], help="dataset=classifier.onnx")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    classifiers = dict(item.split("=", 1) for item in args.classifier)
    seeds = [int(s) for s in args.seeds.split(",")]
    lines = ["| model | ground truth | seed | anomaly index | severity | found | localised | classes gained "
             "(share triggered / clean) | rows | seconds |", "|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for folder in args.folders:
        for entry in json.loads((folder / "manifest.json").read_text())["models"]:
            if entry["kind"] not in ("generator", "decoder") or not entry["file"].endswith(".onnx"):
                continue
            if entry["dataset"] not in classifiers:
                continue
            model = load_model(folder / entry["file"], device="cpu", threads=1)
            classifier = load_classifier(classifiers[entry["dataset"]], model.info.image_shape, device="cpu",
                                         threads=1)
            truth = entry.get("trigger")
            target = entry.get("target") or {}
            gt = "clean" if not truth else (f"{target.get('type')} {target.get('classes', '')} "
                                            f"z{truth['dims']}={truth['values']}")
            for seed in seeds:
                started = time.perf_counter()
                ctx = ProbeContext(rng=np.random.default_rng(seed), max_rows=10**7, classifier=classifier)
                result = run_probe(LatentClassShiftProbe(), model, ctx)
                finding = result.findings[0]
                found = finding.evidence["trigger"]
                if not truth:
                    where = "-"
                elif localised(found, truth, model.info.image_shape[0]):
                    where = "unit and value"
                else:
                    where = "unit only" if set(found["dims"]) <= set(truth["dims"]) else "no"
                m = result.metrics
                row = (f"| {entry['file']} | {gt} | {seed} | {m['anomaly_index']:.1f} | {finding.severity.name} | "
                       f"z[{found['dims'][0]}]={found['values'][0]:+.2f} | {where} | "
                       f"{finding.evidence['classes_gained']} ({m['target_share_at_trigger']:.2f} / "
                       f"{m['target_share_clean']:.2f}) | {result.rows} | {time.perf_counter() - started:.1f} |")
                lines.append(row)
                print(row, flush=True)
    if args.output:
        args.output.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
