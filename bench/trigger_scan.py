"""Calibration and detection benchmark of the trigger scans over a folder of models with a manifest.

    python bench/trigger_scan.py fixtures zoo2 [--data mnist=fixtures/probe_images/mnist ...] [-o table.md]

For every generator/decoder it runs the latent weight scan, the noise-dimension scan and trigger
reverse-engineering, for every
autoencoder the patch scan with the probe images named for its dataset, else self-made ones (and, with
--gradients exact, mask reverse-engineering: its smallest switching mask area is appended to the statistics as
"A"), then prints one row per model: ground truth, the probe whose finding decided (the most severe),
severity, anomaly index, the statistics behind it, the trigger found and whether it is localised (latent:
right dimensions, values within 20%; patch: overlapping square, colour within 0.25), whether it names the right
latent dimensions whatever the value, forward rows and seconds; then TPR / FPR at HIGH.
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
from auditor.probes.trigger_centres import LatentCentreProbe
from auditor.probes.trigger_latent import LatentTriggerProbe
from auditor.probes.trigger_mask import PatchTriggerReverseProbe
from auditor.probes.trigger_patch import PatchTriggerProbe
from auditor.probes.trigger_reverse import LatentTriggerReverseProbe
from auditor.probes.trigger_weights import LatentWeightProbe
from auditor.records import Severity
from trainer.triggers import dims_named, localised


def _found(triggers: list) -> str:
    return "; ".join(_one(t) for t in triggers)


def _one(trigger: dict | None) -> str:
    if not trigger:
        return "-"
    if trigger["type"] == "latent":
        values = trigger["values"] or [None] * len(trigger["dims"])
        return ", ".join(f"{d}=?" if v is None else f"{d}={v:+.2f}" for d, v in zip(trigger["dims"], values,
                                                                                   strict=True))
    return f"({trigger['x']},{trigger['y']}) {trigger['size']}px {trigger['color']}"


def _entries(folder: Path) -> list[dict]:
    """The folder's manifest entries; for a build still running, those of the models it has finished."""
    if (folder / "manifest.json").exists():
        return json.loads((folder / "manifest.json").read_text())["models"]
    partial = sorted((folder / ".partial").glob("*.json"))
    return [e for p in partial for e in json.loads(p.read_text())["entries"]]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--data", action="append", default=[], help="dataset=folder of probe images")
    parser.add_argument("--only", default="*", help="glob over file names, e.g. 'ae_*'")
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--gradients", default="query", choices=("query", "exact"),
                        help="exact: also run mask reverse-engineering on autoencoders (needs torch)")
    args = parser.parse_args()
    data = dict(item.split("=", 1) for item in args.data)
    rows = []
    for folder in args.folders:
        manifest = _entries(folder)
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
                results = [PatchTriggerProbe().run(model, ProbeContext(rng=rng, max_rows=10**8, images=images))]
                if args.gradients != "query":
                    results.append(PatchTriggerReverseProbe().run(model, ProbeContext(
                        rng=rng, max_rows=10**8, images=images, gradient_mode=args.gradients)))
            else:
                source = "prior"
                probes = [LatentWeightProbe(), LatentCentreProbe(), LatentTriggerProbe(), LatentTriggerReverseProbe()]
                results = [p.run(model, ProbeContext(rng=rng, max_rows=10**8))
                           for p in probes if p.applies(model) is None]
            seconds = time.perf_counter() - started
            # The model's verdict: its most severe finding over the trigger probes (the grid's on a tie).
            results = [r for r in results if r.findings]   # the weight scan skips graphs it cannot read
            result = max(results, key=lambda r: r.findings[0].severity)
            finding = result.findings[0]
            m = result.metrics
            high = [r.findings[0].evidence for r in results if r.findings[0].severity >= Severity.HIGH]
            high_triggers = [e["trigger"] for e in high if "trigger" in e]
            rows.append({"model": f"{folder.name}/{entry['file']}", "truth": entry["status"],
                         "attack": entry.get("attack") or "-", "images": source, "probe": result.probe,
                         "severity": finding.severity.name.lower(),
                         "index": m.get("anomaly_index", m.get("weight_gap", float("nan"))),
                         "clean_index": next(r.metrics["anomaly_index"] for r in results
                                             if "anomaly_index" in r.metrics),
                         "stats": (f"J {m['jump_at_trigger']:.2f} C {m['collapse_at_trigger']:.3f}"
                                   if "jump_at_trigger" in m else
                                   f"W {m['weight_gap']:.1f} (high {m['threshold_high']:.1f})" if "weight_gap" in m
                                   else
                                   f"M {m['centre_z']:.1f} (high {m['threshold_high']:.1f})" if "centre_z" in m
                                   else
                                   f"C {m['collapse']:.3f} ctrl {m['control_collapse']:.2f}" if "collapse" in m
                                   and "control_collapse" in m else
                                   f"O {m['change']:.1f} C {m['collapse']:.3f} I {m['inversion']:.2f}"
                                   if "change" in m else "-"),
                         # Localised: some high/critical finding of the model names the planted trigger (the
                         # report shows every probe's finding, so a reader sees it).
                         "localised": (any(localised(t, entry["trigger"], model.info.image_shape[0])
                                           for t in high_triggers) if entry.get("trigger") else None),
                         "dims_named": (any(dims_named(t, entry["trigger"]) for t in high_triggers)
                                        if entry.get("trigger") and entry["trigger"]["type"] == "latent" else None),
                         "found": [e.get("trigger") for e in high] or [finding.evidence.get("trigger")],
                         "rows": model.rows, "seconds": seconds,
                         "flagged": finding.severity >= Severity.HIGH})
            mask = next((r for r in results if r.probe == PatchTriggerReverseProbe.name), None)
            if mask is not None and "smallest_switching_area" in mask.metrics:
                rows[-1]["stats"] += f" A {mask.metrics['smallest_switching_area']:.4f}"
            r = rows[-1]
            print(f"{r['model']:55s} {r['truth']:10s} {r['probe']:22s} {r['severity']:8s} idx {r['index']:6.1f} "
                  f"{r['stats']:26s} loc {r['localised']} {r['found']} rows {r['rows']} {r['seconds']:.1f}s",
                  file=sys.stderr)
    positives = [r for r in rows if r["truth"] == "backdoored"]
    negatives = [r for r in rows if r["truth"] == "clean"]
    tpr = np.mean([r["flagged"] for r in positives]) if positives else float("nan")
    fpr = np.mean([r["flagged"] for r in negatives]) if negatives else float("nan")
    loc = np.mean([bool(r["localised"]) for r in positives]) if positives else float("nan")
    latent_positives = [r for r in positives if r["dims_named"] is not None]
    named = np.mean([r["dims_named"] for r in latent_positives]) if latent_positives else float("nan")
    lines = [f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; Python {platform.python_version()}",
             "", "| model | truth | attack | images | deciding probe | severity | anomaly index | statistics | "
             "found | localised | dims named | rows | s |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['truth']} | {r['attack']} | {r['images']} | {r['probe']} | {r['severity']} | "
              f"{r['index']:.1f} | {r['stats']} | {_found(r['found'])} | "
              f"{'-' if r['localised'] is None else r['localised']} | "
              f"{'-' if r['dims_named'] is None else r['dims_named']} | {r['rows']} | {r['seconds']:.1f} |"
              for r in rows]
    clean_max = max((r["clean_index"] for r in negatives), default=float("nan"))
    lines += ["", f"TPR at high: {tpr:.2f} ({len(positives)} backdoored); FPR at high: {fpr:.2f} ({len(negatives)} "
              f"clean); localised: {loc:.2f}; latent triggers' dimensions named: {named:.2f} "
              f"({len(latent_positives)}); largest clean anomaly index (trigger.latent): {clean_max:.1f}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
