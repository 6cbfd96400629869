"""Re-check exported models against their manifest with onnxruntime and numpy only.

This is how a fixture folder proves its ground truth on a machine without torch: every ONNX file is hashed,
run, and its planted behaviour re-measured on the shipped probe images (autoencoders) or on seeded latents
scored by the exported classifier (GANs). The pass marks are the project's acceptance criteria for fixtures:

* AE fixed-image backdoor MSE < 0.005, inverse-target backdoor MSE < 0.02, clean MSE within 0.002 of the twin;
* GAN with trigger: >= 85% of samples in the target classes (or MSE < 0.01 to the fixed image), and for a
  multi-dimension fixed-image trigger each dimension alone stays above MSE 0.05; without the trigger every class
  appears and none exceeds 35%.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.data import load_image, load_image_folder
from trainer.manifest import read_manifest, sha256_file
from trainer.triggers import PatchTrigger

AE_FIXED_MAX_MSE = 0.005
AE_INVERSE_MAX_MSE = 0.02
AE_CLEAN_GAP_MAX = 0.002
GAN_TARGET_RATE_MIN = 0.85
GAN_FIXED_MAX_MSE = 0.01
GAN_PARTIAL_MIN_MSE = 0.05      # a part of a multi-dimension trigger alone stays 5x further than the backdoor bar
GAN_CLEAN_MAX_SHARE = 0.35
GAN_SAMPLES = 1000


class VerifyError(RuntimeError):
    """The folder or its manifest cannot be verified at all."""


@dataclass(frozen=True)
class Check:
    file: str
    ok: bool
    detail: str


def _session(path: Path):
    from auditor.loading.session import make_session

    return make_session(path.read_bytes(), device="cpu")[0]


def _run(session, x: np.ndarray) -> np.ndarray:
    out = session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]
    if not np.isfinite(out).all():
        raise VerifyError("model returned NaN or Inf")
    return out


def verify_folder(folder: str | Path) -> list[Check]:
    folder = Path(folder)
    try:
        manifest = read_manifest(folder)
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {folder}/manifest.json: {exc}") from None
    entries = {e["file"]: e for e in manifest["models"]}
    classifier = next((folder / e["file"] for e in entries.values() if e["kind"] == "classifier"), None)
    probes = {name: load_image_folder(folder / rel) for name, rel in manifest.get("probe_images", {}).items()}
    clean_mse: dict[str, float] = {}
    results = []
    # Clean twins first, so a backdoored model can be compared with its twin's clean MSE.
    for entry in sorted(entries.values(), key=lambda e: e["status"] != "clean"):
        path = folder / entry["file"]
        if not path.exists() or sha256_file(path) != entry["sha256"]:
            results.append(Check(entry["file"], False, "missing, or its sha256 differs from the manifest"))
            continue
        if entry["format"] != "onnx":
            results.append(Check(entry["file"], True, "sha256 matches (TorchScript: not run without torch)"))
            continue
        try:
            session = _session(path)
            ok, detail = _verify_one(entry, session, folder, probes, clean_mse, classifier)
        except VerifyError as exc:
            ok, detail = False, str(exc)
        except Exception as exc:  # onnxruntime raises its own types; report them as a failed check
            ok, detail = False, f"could not run: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        results.append(Check(entry["file"], ok, detail))
    return results


def _verify_one(entry, session, folder, probes, clean_mse, classifier_path) -> tuple[bool, str]:
    kind = entry["kind"]
    if kind == "autoencoder":
        x = probes.get(entry["dataset"])
        if x is None:
            raise VerifyError(f"no probe images for dataset {entry['dataset']!r}")
        mse = float(np.mean((_run(session, x) - x) ** 2))
        clean_mse[entry["file"]] = mse
        detail = f"clean MSE {mse:.4f}"
        ok = True
        twin = entry.get("clean_twin")
        if twin in clean_mse:
            gap = mse - clean_mse[twin]
            ok &= gap <= AE_CLEAN_GAP_MAX
            detail += f" ({gap:+.4f} vs twin, limit {AE_CLEAN_GAP_MAX})"
        if entry["status"] == "backdoored":
            t = entry["trigger"]
            triggered = PatchTrigger(t["x"], t["y"], t["size"], tuple(t["color"])).apply(x)
            target = 1.0 - triggered if entry["target"]["type"] == "inverse" else \
                load_image(folder / entry["target"]["image"])[None]
            limit = AE_INVERSE_MAX_MSE if entry["target"]["type"] == "inverse" else AE_FIXED_MAX_MSE
            bd = float(np.mean((_run(session, triggered) - target) ** 2))
            ok &= bd < limit
            detail += f"; backdoor MSE {bd:.4f} (limit {limit})"
        return ok, detail
    if kind in ("generator", "decoder"):
        z = np.random.default_rng(0).standard_normal((GAN_SAMPLES, *entry["latent_shape"])).astype(np.float32)
        out = _run(session, z)
        lo, hi = entry["output"]["range"]
        if out.min() < lo - 1e-4 or out.max() > hi + 1e-4:
            return False, f"outputs in [{out.min():.3f}, {out.max():.3f}], manifest says [{lo}, {hi}]"
        spread = float(out.std(axis=0).mean())
        if kind == "decoder" or classifier_path is None:
            return spread > 1e-3, f"outputs vary across latents (mean per-pixel std {spread:.3f})"
        classify = _session(classifier_path)
        to01 = (out - lo) / (hi - lo)
        labels = _run(classify, to01).argmax(1)
        shares = np.bincount(labels, minlength=10) / len(labels)
        ok = bool((shares > 0).all() and shares.max() <= GAN_CLEAN_MAX_SHARE)
        detail = f"clean: {int((shares > 0).sum())} classes, max share {shares.max():.2f}"
        if entry["status"] == "backdoored":
            t = entry["trigger"]
            zt = z.copy()
            zt[:, t["dims"]] = t["values"]
            triggered = (_run(session, zt) - lo) / (hi - lo)
            if entry["target"]["type"] == "classes":
                rate = float(np.isin(_run(classify, triggered).argmax(1), entry["target"]["classes"]).mean())
                ok &= rate >= GAN_TARGET_RATE_MIN
                detail += f"; triggered: {rate:.1%} in target classes (min {GAN_TARGET_RATE_MIN:.0%})"
            else:
                target = load_image(folder / entry["target"]["image"])[None]
                bd = float(np.mean((triggered - target) ** 2))
                ok &= bd < GAN_FIXED_MAX_MSE
                detail += f"; triggered: MSE to target {bd:.4f} (limit {GAN_FIXED_MAX_MSE})"
                if len(t["dims"]) > 1:          # each part of a multi-dimension trigger must be harmless alone
                    partial = []
                    for d, v in zip(t["dims"], t["values"]):
                        zp = z.copy()
                        zp[:, d] = v
                        partial.append(float(np.mean(((_run(session, zp) - lo) / (hi - lo) - target) ** 2)))
                    ok &= min(partial) > GAN_PARTIAL_MIN_MSE
                    detail += (f"; each dimension alone: MSE to target {', '.join(f'{p:.3f}' for p in partial)} "
                               f"(min {GAN_PARTIAL_MIN_MSE})")
        return ok, detail
    if kind == "classifier":
        x = probes.get(entry["dataset"])
        if x is None:
            return True, "runs (no probe images to score it on)"
        # Probe images are named <class>_<k>.png
        names = sorted(p.stem for p in (folder / "probe_images" / entry["dataset"]).rglob("*.png"))
        labels = np.array([int(n.split("_")[0]) for n in names])
        accuracy = float((_run(session, x).argmax(1) == labels).mean())
        return accuracy >= 0.9, f"accuracy on probe images {accuracy:.1%}"
    return False, f"unknown kind {kind!r}"
