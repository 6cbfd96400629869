"""Wall time and forward rows of a default `auditor scan`, per probe, on MNIST-size 100-d generators.

    python bench/default_scan.py [fixtures/gan_mnist_clean.onnx fixtures/gan_mnist_fixed.onnx ...] [--repeat 3]

Target (trigger-scan issue): a default scan of an MNIST-size generator with a 100-d latent under 30 s on 2 CPU
cores, with the rows it used stated in the report. Each model is scanned ``--repeat`` times in one process
(the first run includes session start-up); the table gives the median, and the best per-row time seen in the
run, so figures are ratios within one run on a shared machine. Nothing else should run on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from auditor.runner import AuditConfig, run_audit

DEFAULT_MODELS = ("fixtures/gan_mnist_clean.onnx", "fixtures/gan_mnist_fixed.onnx", "fixtures/gan_mnist_pair.onnx")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    models = args.models or [Path(m) for m in DEFAULT_MODELS if Path(m).exists()]
    lines = [f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}; "
             f"{args.repeat} runs per model, median shown", "",
             "| model | probe | rows | seconds | rows/s | severity |", "|---|---|---:|---:|---:|---|"]
    totals = []
    for path in models:
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = run_audit(path, AuditConfig(device="cpu"))
            runs.append((time.perf_counter() - started, report))
        wall = statistics.median(r[0] for r in runs)
        report = min(runs, key=lambda r: abs(r[0] - wall))[1]
        for result in report.results:
            if result.status.value == "skipped":
                continue
            top = max((f.severity for f in result.findings), default=None)
            rate = result.rows / result.seconds if result.seconds else float("nan")
            lines.append(f"| {path.name} | {result.probe} | {result.rows} | {result.seconds:.1f} | {rate:.0f} | "
                         f"{top.name.lower() if top is not None else result.status.value} |")
        rows = sum(r.rows for r in report.results)
        lines.append(f"| {path.name} | **whole scan** (exit {report.exit_code}) | {rows} | {wall:.1f} | | |")
        totals.append(wall)
    lines += ["", f"Largest median whole-scan time: {max(totals):.1f} s (target < 30 s)."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
