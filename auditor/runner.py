"""run_audit: load -> inspect -> static checks -> probes -> report. The one place errors are captured.

A model that cannot be loaded or inspected gives a report with ``error`` set (exit 3); a probe that raises
gives an ERRORED result and the others still run (exit 3 too: an inconclusive audit never passes).
"""

from __future__ import annotations

import datetime as _dt
import os
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from auditor._version import __version__
from auditor.data import ImageReadError, load_image_folder, self_generated_images
from auditor.errors import AuditorError, ConfigError, one_line
from auditor.gradients import MODES
from auditor.loading import AuditModel, Overrides, load_model
from auditor.probes import REGISTRY, Probe
from auditor.probes.base import ProbeContext
from auditor.records import AuditReport, ModelKind, ProbeResult, Severity, Status
from auditor.static.checks import run_static_checks
from auditor.verdict import decide

PRESETS = {"quick": 0.5, "default": 1.0, "thorough": 4.0}   # multiplies each probe's row budget
DEFAULT_MAX_ROWS = 200_000
DEFAULT_PROBE_IMAGES = 64


@dataclass(frozen=True)
class AuditConfig:
    probes: tuple[str, ...] = ()                 # empty = every applicable probe
    device: str = "auto"
    seed: int = 0
    fail_on: str = "high"
    preset: str = "default"
    data: str | None = None                      # folder of probe images for autoencoders
    max_rows: int = DEFAULT_MAX_ROWS             # per probe, before the preset factor
    gradients: str = "query"                     # "query" | "exact" | "auto" (auditor.gradients)
    latents: str | None = None                   # .npy of latents for the robustness probe (never unpickled)
    encoder: str | None = None                   # ONNX encoder: latents = encoder(--data images)
    forbidden: str | None = None                 # folder of images the generator must not be able to emit
    pgd_norm: str = "linf"                       # "linf" | "l2"
    pgd_target: str | None = None                # None: untargeted; "black"; or an image file to steer towards
    classifier: str | None = None                # ONNX classifier of the generator's domain (class-mix scan)
    overrides: Overrides = field(default_factory=Overrides)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        try:
            Severity.parse(self.fail_on)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.gradients not in MODES:
            raise ConfigError(f"gradients must be one of {', '.join(MODES)}, got {self.gradients!r}")
        if self.pgd_norm not in ("linf", "l2"):
            raise ConfigError(f"pgd norm must be linf or l2, got {self.pgd_norm!r}")
        if self.encoder and not self.data:
            raise ConfigError("--encoder needs --data (the images to encode)")
        if self.encoder and self.latents:
            raise ConfigError("--latents and --encoder are alternatives; pass one")
        known = {p.name for p in REGISTRY}
        unknown = [p for p in self.probes if p not in known]
        if unknown:
            raise ConfigError(f"unknown probe(s) {', '.join(unknown)}; `auditor probes` lists them")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["probes"] = list(self.probes)
        return d


def _probe_rng(seed: int, name: str) -> np.random.Generator:
    # Derived from the probe's name, so a probe's result does not depend on which other probes ran.
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _probe_images(model: AuditModel, config: AuditConfig) -> tuple[np.ndarray | None, str]:
    if model.info.kind != ModelKind.AUTOENCODER:
        return None, ""
    c, h, w = model.info.image_shape
    if config.data:
        try:
            images = load_image_folder(config.data, size=(h, w), channels=c)
        except ImageReadError as exc:
            raise ConfigError(f"--data: {exc}") from None
        return images, f"--data {config.data} ({len(images)} images)"
    rng = np.random.default_rng([config.seed, 7])
    images = self_generated_images(model.reconstruct, (c, h, w), DEFAULT_PROBE_IMAGES, rng)
    return images, f"self-generated: {DEFAULT_PROBE_IMAGES} smoothed-noise images iterated through the autoencoder"


def _user_latents(model: AuditModel, config: AuditConfig) -> tuple[np.ndarray | None, str]:
    """Latents from --latents (.npy, loaded without pickle) or from --encoder applied to --data images."""
    if model.info.latent_shape is None or not (config.latents or config.encoder):
        return None, ""
    shape = model.info.latent_shape
    if config.latents:
        try:
            z = np.load(config.latents, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--latents {config.latents}: {one_line(exc)}") from None
        source = f"--latents {config.latents}"
    else:
        z, source = _encode(model, config)
    z = np.asarray(z)
    d = int(np.prod(shape))
    if z.ndim < 2 or z.dtype.kind not in "fiu" or int(np.prod(z.shape[1:])) != d or not np.isfinite(z).all():
        raise ConfigError(f"{source}: expected finite numbers shaped [N, {', '.join(map(str, shape))}], got "
                          f"{z.dtype} {list(z.shape)}")
    return z.reshape(len(z), *shape).astype(np.float32), f"{source} ({len(z)} latents)"


def _encode(model: AuditModel, config: AuditConfig) -> tuple[np.ndarray, str]:
    from auditor.loading.onnx_file import read_onnx
    from auditor.loading.session import make_session

    c, h, w = model.info.image_shape
    try:
        images = load_image_folder(config.data, size=(h, w), channels=c)
    except ImageReadError as exc:
        raise ConfigError(f"--data: {exc}") from None
    try:
        session, _ = make_session(read_onnx(config.encoder).model_bytes, device=config.device)
        spec = session.get_inputs()[0]
        x = images if len(spec.shape) == 4 else images.reshape(len(images), -1)
        outputs = session.run(None, {spec.name: x.astype(np.float32)})
    except AuditorError as exc:
        raise ConfigError(f"--encoder {config.encoder}: {exc}") from None
    except Exception as exc:  # onnxruntime's many error types: a bad encoder is a usage problem here
        raise ConfigError(f"--encoder {config.encoder}: {one_line(exc)}") from None
    d = int(np.prod(model.info.latent_shape))
    # A VAE encoder returns (mean, log-variance): the first output of the latent's size is the mean.
    match = next((o for o in outputs if o.ndim >= 2 and int(np.prod(o.shape[1:])) == d), None)
    if match is None:
        raise ConfigError(f"--encoder {config.encoder}: no output has {d} values per sample")
    return match, f"--encoder {config.encoder} over --data {config.data}"


def _forbidden_images(model: AuditModel, config: AuditConfig) -> tuple[np.ndarray | None, str]:
    if not config.forbidden or model.info.image_shape is None or model.info.kind == ModelKind.AUTOENCODER:
        return None, ""
    c, h, w = model.info.image_shape
    try:
        images = load_image_folder(config.forbidden, size=(h, w), channels=c)
    except ImageReadError as exc:
        raise ConfigError(f"--forbidden: {exc}") from None
    return images, f"--forbidden {config.forbidden} ({len(images)} images)"


def _domain_classifier(model: AuditModel, config: AuditConfig, threads: int | None):
    """The --classifier, checked against this generator's images (autoencoders have no use for one)."""
    if not config.classifier or model.info.image_shape is None or model.info.kind == ModelKind.AUTOENCODER:
        return None
    from auditor.loading.classifier import load_classifier

    return load_classifier(config.classifier, model.info.image_shape, device=config.device, threads=threads)


def _attack_target(model: AuditModel, config: AuditConfig) -> np.ndarray | None:
    if config.pgd_target in (None, "black") or model.info.image_shape is None:
        return None
    from auditor.data import load_images

    c, h, w = model.info.image_shape
    try:
        return load_images([config.pgd_target], size=(h, w), channels=c)
    except ImageReadError as exc:
        raise ConfigError(f"--pgd-target: {exc}") from None


def run_probe(probe: Probe, model: AuditModel, ctx: ProbeContext) -> ProbeResult:
    """Runs one probe, capturing any exception into an ERRORED result; fills in seconds and rows."""
    rows_before = model.rows
    started = time.perf_counter()
    try:
        result = probe.run(model, ctx)
        if not isinstance(result, ProbeResult):
            raise TypeError(f"probe returned {type(result).__name__}, not ProbeResult")
    except Exception as exc:  # any probe failure is recorded, never fatal to the audit
        result = ProbeResult(probe.name, Status.ERRORED, reason=f"{type(exc).__name__}: {one_line(exc)}")
    return ProbeResult(result.probe, result.status, time.perf_counter() - started, model.rows - rows_before,
                       result.findings, result.metrics, result.curves, result.images, result.reason)


def run_audit(path: str | Path, config: AuditConfig = AuditConfig(), *, probes: tuple[type[Probe], ...] | None = None,
              progress=None, threads: int | None = None) -> AuditReport:
    """Audits one model file. Raises ConfigError for bad options; every other failure lands in the report.

    ``threads`` is set by parallel scans (a share of the cores per worker); alone, a scan takes every core and,
    when it will not load torch (query-only gradients), lets onnxruntime's idle threads spin.
    """
    started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    base = dict(tool_version=__version__, started_at=started_at, model_path=str(path), config=config.to_dict())
    try:
        model = load_model(path, device=config.device, overrides=config.overrides, seed=config.seed,
                           threads=threads, spinning=threads is None and config.gradients == "query")
    except ConfigError:
        raise
    except AuditorError as exc:
        report = AuditReport(model=None, error=str(exc), **base)
        return _with_exit(report, config)
    static = tuple(run_static_checks(model.onnx_file.proto, external_tensors=model.onnx_file.external_tensors,
                                     source_format=model.info.format))
    selected = [p.from_config(config) for p in (probes if probes is not None else REGISTRY)
                if not config.probes or p.name in config.probes]
    results: list[ProbeResult] = []
    images, images_source = None, ""
    applicable = [p for p in selected if p.applies(model) is None]
    for p in selected:
        if (reason := p.applies(model)) is not None:
            results.append(ProbeResult(p.name, Status.SKIPPED, reason=reason))
    error = None
    if applicable and model.info.kind == ModelKind.AUTOENCODER:
        try:
            images, images_source = _probe_images(model, config)
        except AuditorError as exc:
            if isinstance(exc, ConfigError):
                raise
            error = f"could not make probe images: {exc}"
            applicable = []
    latents, latents_source = _user_latents(model, config)
    forbidden, forbidden_source = _forbidden_images(model, config)
    attack_target = _attack_target(model, config)
    classifier = _domain_classifier(model, config, threads)
    budget = int(config.max_rows * PRESETS[config.preset])
    for p in applicable:
        extra = {"progress": progress(p.name)} if progress else {}
        ctx = ProbeContext(rng=_probe_rng(config.seed, p.name), max_rows=budget, images=images,
                           images_source=images_source, preset=config.preset, gradient_mode=config.gradients,
                           latents=latents, latents_source=latents_source, forbidden=forbidden,
                           forbidden_source=forbidden_source, earlier=tuple(results), attack_target=attack_target,
                           classifier=classifier, **extra)
        results.append(run_probe(p, model, ctx))
    runner = model.runner
    engine = {"provider": runner.provider, "threads": runner.session.get_session_options().intra_op_num_threads,
              "batch": runner.batch, "rows": runner.counter.rows,
              "forward_seconds": round(runner.counter.seconds, 3)}
    report = AuditReport(model=model.info, static_findings=static, results=tuple(results), error=error,
                         engine=engine, **base)
    return _with_exit(report, config)


MODEL_SUFFIXES = (".onnx", ".pt", ".pth", ".ts", ".torchscript")


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files as given; folders expanded to the model files under them (sorted; symlinked folders not followed)."""
    import os

    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                found += [Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in MODEL_SUFFIXES]
            if not found:
                raise ConfigError(f"no model files ({', '.join(MODEL_SUFFIXES)}) under {path}")
            out += found
        else:
            out.append(path)
    return out


def _audit_to_dict(path: str, config: AuditConfig, threads: int) -> dict:
    """Worker-process entry: records cross the process boundary as plain JSON-safe dicts."""
    return run_audit(path, config, threads=threads).to_dict()


def run_many(paths: list[Path], config: AuditConfig, *, jobs: int = 1, progress=None) -> list[AuditReport]:
    """Audits several models, in ``jobs`` worker processes (one model per process at a time bounds memory)."""
    if jobs <= 1 or len(paths) <= 1:
        return [run_audit(p, config, progress=progress) for p in paths]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        # Each worker gets its share of the cores: jobs x all-cores thread pools would oversubscribe the machine.
        threads = max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
                      // jobs)
        futures = [pool.submit(_audit_to_dict, str(p), config, threads) for p in paths]
        reports = []
        for path, future in zip(paths, futures, strict=True):
            try:
                reports.append(AuditReport.from_dict(future.result()))
            except Exception as exc:  # a worker that died (out of memory, killed) still yields a report
                started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
                report = AuditReport(__version__, started_at, str(path), config.to_dict(), None,
                                     error=f"worker failed: {type(exc).__name__}: {one_line(exc)}")
                reports.append(_with_exit(report, config))
        return reports


def _with_exit(report: AuditReport, config: AuditConfig) -> AuditReport:
    code = decide(report, Severity.parse(config.fail_on))
    return AuditReport(**{**{k: getattr(report, k) for k in report.__dataclass_fields__}, "exit_code": int(code)})


INVERT_CALIBRATION = 32
# Measured on the fixture GANs: 8 restarts x 600 steps leave own samples at q95 ~2e-4 (4 x 200: 6e-4); 600
# refinement steps of the best restart bring their worst case from 1.3e-3 to 1.0e-4 (bench/inversion.py).
INVERT_PARAMS = {"restarts": 8, "steps": 600, "refine_steps": 600}


def run_invert(model_path: str | Path, image_paths: list[str | Path], config: AuditConfig, progress=None,
               params=None) -> dict:
    """`auditor invert`: did these images come out of this generator? Inverts INVERT_CALIBRATION of the model's
    own samples to set the reachability threshold, then each image; returns a JSON-safe dict. Raises ConfigError
    for bad options and AuditorError when the model cannot be loaded or run."""
    from auditor.data import IMAGE_SUFFIXES, load_images
    from auditor.gradients import make_oracle
    from auditor.inversion import InversionParams, invert, reachability_threshold, retry_rejected

    files: list[Path] = []
    for raw in image_paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: no such image file or folder")
    if not files:
        raise ConfigError("no PNG/JPEG images given")
    model = load_model(model_path, device=config.device, overrides=config.overrides, seed=config.seed)
    if model.info.kind not in (ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR):
        raise ConfigError(f"invert needs a generator or decoder; {model_path} is a {model.info.kind.value}")
    c, h, w = model.info.image_shape
    try:
        images = load_images(files, size=(h, w), channels=c)
    except ImageReadError as exc:
        raise ConfigError(str(exc)) from None
    rng = np.random.default_rng(config.seed)
    oracle = make_oracle(model, config.gradients)
    params = params or InversionParams(**INVERT_PARAMS)
    # Own samples quantised to 8 bits, as the image files being judged are: otherwise a generator that inverts
    # exactly sets a threshold below PNG rounding error (~1.3e-6 MSE) and rejects its own saved outputs.
    own = np.round(model.generate(model.sample_latents(rng, INVERT_CALIBRATION)) * 255) / 255
    targets = np.concatenate([own, images])
    labels = model.sample_labels(rng, len(targets))
    result = invert(model, oracle, targets, labels, params, rng,
                    progress("invert") if progress else (lambda done, total: None))
    threshold = reachability_threshold(result.mse[:INVERT_CALIBRATION])
    judged = slice(INVERT_CALIBRATION, None)
    kept, verdict = retry_rejected(model, oracle, images, None if labels is None else labels[judged],
                                   result.select(judged), threshold, params, rng)
    rows = []
    for k, path in enumerate(files):
        rows.append({"image": str(path), "mse": float(kept.mse[k]), "ssim": float(kept.ssim[k]),
                     "norm_z": float(kept.norm_z[k]), "max_abs_z": float(kept.max_abs[k]),
                     "reachable_only_at_edge": bool(kept.mse[k] <= threshold and not verdict[k]),
                     "from_generator": bool(verdict[k])})
    return {"model_path": str(model_path), "gradients": oracle.note, "threshold_mse": threshold,
            "calibration": {"samples": INVERT_CALIBRATION,
                            "mse_median": float(np.median(result.mse[:INVERT_CALIBRATION])),
                            "mse_max": float(result.mse[:INVERT_CALIBRATION].max())},
            "restarts": params.restarts, "steps": params.steps, "images": rows}
