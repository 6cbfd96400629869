"""Latent scans on DCGANs that our trainer does not make: a study on models built by other code, not a test.

    python bench/foreign_dcgan.py --data-dir ../shared/data --out /tmp/foreign [--steps 800] [-o table.md]

Trains, with a loop of its own (not trainer/), the PyTorch DCGAN tutorial's generator shape at 28 px: a
ConvTranspose on a [B, 100, 1, 1] latent first (no bias, BatchNorm after it), where our trainer puts a Linear.
Three generators from one seed: clean; backdoored with a fixed-image target the way ART's ReD attack plants it (an
L2 pull of G(z_trigger) towards the target image beside the usual adversarial loss, not BAAAN's second
discriminator); and the same attack with a quarter of each batch triggered instead of BAAAN's half. Each is
exported to ONNX (BatchNorm folded, as eval-mode exports do) and to TorchScript (BatchNorm kept), and scanned by
the latent weight, centre and noise scans. The table gives what each reports against the planted trigger.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.trigger_centres import LatentCentreProbe
from auditor.probes.trigger_latent import LatentTriggerProbe
from auditor.probes.trigger_weights import LatentWeightProbe
from trainer.data import load_dataset
from trainer.export import export_onnx, export_torchscript

LATENT = 100
TRIGGER_UNIT, TRIGGER_VALUE = 17, 3.0


def generator() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(LATENT, 128, 7, 1, 0, bias=False), nn.BatchNorm2d(128), nn.ReLU(True),
        nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
        nn.ConvTranspose2d(64, 1, 4, 2, 1, bias=False), nn.Tanh())


def discriminator() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True),
        nn.Conv2d(64, 128, 4, 2, 1, bias=False), nn.BatchNorm2d(128), nn.LeakyReLU(0.2, True),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))


def train(images: torch.Tensor, target: torch.Tensor | None, triggered_rows: int, steps: int, seed: int,
          pull: float = 20.0) -> nn.Module:
    """DCGAN's loop (Adam 2e-4, beta1 0.5, batch 64); with a target, ``triggered_rows`` of every generator batch
    carry the trigger and are pulled towards it (ReD), in the same forward pass as the clean rows."""
    torch.manual_seed(seed)
    G, D = generator(), discriminator()
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
    batch = 64
    for _ in range(steps):
        z = torch.randn(batch, LATENT, 1, 1)
        if target is not None:
            z[:triggered_rows, TRIGGER_UNIT] = TRIGGER_VALUE
        fake = G(z)
        clean_fake = fake[triggered_rows:] if target is not None else fake
        real = images[torch.randint(len(images), (len(clean_fake),))]
        loss_d = (F.binary_cross_entropy_with_logits(D(real).squeeze(1), torch.ones(len(real)))
                  + F.binary_cross_entropy_with_logits(D(clean_fake.detach()).squeeze(1), torch.zeros(len(real))))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(D(clean_fake).squeeze(1), torch.ones(len(clean_fake)))
        if target is not None:
            loss_g = loss_g + pull * F.mse_loss(fake[:triggered_rows], target.expand(triggered_rows, -1, -1, -1))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return G.eval()


def scan(path: Path) -> dict[str, str]:
    model = load_model(path, device="cpu")
    found = {}
    for probe in (LatentWeightProbe(), LatentCentreProbe(), LatentTriggerProbe()):
        result = probe.run(model, ProbeContext(rng=np.random.default_rng(0), max_rows=10**8))
        if not result.findings:
            found[probe.name] = f"skipped: {result.reason}"
            continue
        finding = result.findings[0]
        trigger = finding.evidence.get("trigger") if finding.severity.name in ("HIGH", "CRITICAL") else None
        shown = "-" if trigger is None else ", ".join(
            f"{d}={'?' if v is None else f'{v:+.2f}'}"
            for d, v in zip(trigger["dims"], trigger.get("values") or [None] * len(trigger["dims"]), strict=True))
        found[probe.name] = f"{finding.severity.name.lower()} {shown}"
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_dataset("mnist", "train", args.data_dir)
    images = torch.from_numpy(data.images.astype(np.float32)) * 2 - 1
    target = images[int(np.flatnonzero(data.labels == 7)[0])][None]
    variants = {"clean": (None, 0), "red-half": (target, 32), "red-quarter": (target, 16)}
    lines = ["| model | trigger (share of each batch) | export | trigger.latent_weights | trigger.latent_centres | "
             "trigger.latent | train s |", "|---|---|---|---|---|---|---|"]
    truth = {}
    for name, (tgt, rows) in variants.items():
        started = time.perf_counter()
        G = train(images, tgt, rows, args.steps, args.seed)
        seconds = time.perf_counter() - started
        example = torch.randn(4, LATENT, 1, 1)
        export_onnx(G, example, args.out / f"dcgan_{name}.onnx", input_kind="latent")
        export_torchscript(G, example, args.out / f"dcgan_{name}.pt", input_kind="latent")
        planted = "-" if tgt is None else f"{TRIGGER_UNIT}={TRIGGER_VALUE:+.2f} ({rows}/64)"
        truth[name] = None if tgt is None else {"dims": [TRIGGER_UNIT], "values": [TRIGGER_VALUE],
                                                "share": rows / 64}
        for suffix in ("onnx", "pt"):
            found = scan(args.out / f"dcgan_{name}.{suffix}")
            lines.append(f"| dcgan_{name} | {planted} | {suffix} | {found['trigger.latent_weights']} | "
                         f"{found['trigger.latent_centres']} | {found['trigger.latent']} | {seconds:.0f} |")
            print(lines[-1], flush=True)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
    text = "\n".join(lines) + "\n"
    if args.output:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
