"""Calibration and detection benchmark of the trigger scans over a folder of models with a manifest.

    python bench/trigger_scan.py fixtures zoo2 [--data mnist=fixtures/probe_images/mnist ...] [-o table.md]

For every generator/decoder it runs the noise-dimension scan and for every autoencoder the patch scan (with the
probe images named for its dataset, else self-made ones), then prints one row per model: ground truth, severity,
anomaly index, the statistics behind it, whether the trigger was localised (latent: right dimensions, value
within 20%; patch: overlapping square, colour within 0.25), forward rows and seconds; then TPR / FPR at HIGH.
Clean models' anomaly indices are what the thresholds in ``auditor/probes/calibration.py`` are set from.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from auditor.data import load_image_folder, self_generated_images
from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_latent import LatentTriggerProbe
from auditor.probes.trigger_patch import PatchTriggerProbe
from auditor.records import Severity
from trainer.triggers import localised


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--data", action="append", default=[], help="dataset=folder of probe images")
    parser.add_argument("--only", default="*", help="glob over file names, e.g. 'ae_*'")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    data = dict(item.split("=", 1) for item in args.data)
    rows = []
    for folder in args.folders:
        manifest = json.loads((folder / "manifest.json").read_text())["models"]
        for entry in manifest:
            if entry.get("format") != "onnx" or entry["kind"] not in ("generator", "decoder", "autoencoder") \
                    or not fnmatch.fnmatch(entry["file"], args.only):
                continue
            model = load_model(folder / entry["file"], device="cpu")
            rng = np.random.default_rng(0)
            started = time.perf_counter()
            if entry["kind"] == "autoencoder":
                c, h, w = model.info.image_shape
                if entry["dataset"] in data:
                    images, source = load_image_folder(data[entry["dataset"]], size=(h, w), channels=c), "data"
                else:
                    images, source = self_generated_images(model.reconstruct, (c, h, w), 64, rng), "self-made"
                model.runner.counter.rows = 0
                result = PatchTriggerProbe().run(model, ProbeContext(rng=rng, max_rows=10**8, images=images))
            else:
                source = "prior"
                result = LatentTriggerProbe().run(model, ProbeContext(rng=rng, max_rows=10**8))
            seconds = time.perf_counter() - started
            finding = result.findings[0]
            m = result.metrics
            rows.append({"model": f"{folder.name}/{entry['file']}", "truth": entry["status"],
                         "attack": entry.get("attack") or "-", "images": source,
                         "severity": finding.severity.name.lower(), "index": m["anomaly_index"],
                         "stats": (f"J {m['jump_at_trigger']:.2f} C {m['collapse_at_trigger']:.3f}"
                                   if "jump_at_trigger" in m else
                                   f"O {m['change']:.1f} C {m['collapse']:.3f} I {m['inversion']:.2f}"),
                         "localised": (localised(finding.evidence["trigger"], entry["trigger"],
                                                 model.info.image_shape[0]) if entry.get("trigger") else None),
                         "found": finding.evidence["trigger"], "rows": model.rows, "seconds": seconds,
                         "flagged": finding.severity >= Severity.HIGH})
            r = rows[-1]
            print(f"{r['model']:55s} {r['truth']:10s} {r['severity']:8s} idx {r['index']:6.1f} {r['stats']:26s} "
                  f"loc {r['localised']} rows {r['rows']} {r['seconds']:.1f}s", file=sys.stderr)
    positives = [r for r in rows if r["truth"] == "backdoored"]
    negatives = [r for r in rows if r["truth"] == "clean"]
    tpr = np.mean([r["flagged"] for r in positives]) if positives else float("nan")
    fpr = np.mean([r["flagged"] for r in negatives]) if negatives else float("nan")
    loc = np.mean([bool(r["localised"]) for r in positives]) if positives else float("nan")
    lines = [f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python {platform.python_version()}",
             "", "| model | truth | attack | images | severity | anomaly index | statistics | localised | rows | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['truth']} | {r['attack']} | {r['images']} | {r['severity']} | {r['index']:.1f} | "
              f"{r['stats']} | {'-' if r['localised'] is None else r['localised']} | {r['rows']} | "
              f"{r['seconds']:.1f} |" for r in rows]
    clean_max = max((r["index"] for r in negatives), default=float("nan"))
    lines += ["", f"TPR at high: {tpr:.2f} ({len(positives)} backdoored); FPR at high: {fpr:.2f} ({len(negatives)} "
              f"clean); localised: {loc:.2f}; largest clean anomaly index: {clean_max:.1f}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
