"""Audit ONNX generators, decoders and autoencoders for backdoors and latent-space fragility.

The core needs onnxruntime and numpy only; torch is never imported unless a torch-backed feature is asked for.

    >>> import auditor
    >>> report = auditor.scan("fixtures/ae_mnist_clean.onnx")        # doctest: +SKIP
    >>> report.exit_code, [f.code for f in report.findings]          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from auditor._version import __version__
from auditor.errors import AuditorError, ConfigError, ExitCode, InspectionError, ModelLoadError, ModelRunError
from auditor.records import AuditReport, Finding, ModelInfo, ModelKind, ProbeResult, Severity, Status

__all__ = ["AuditReport", "AuditorError", "ConfigError", "ExitCode", "Finding", "InspectionError", "ModelInfo",
           "ModelKind", "ModelLoadError", "ModelRunError", "ProbeResult", "Severity", "Status", "__version__",
           "scan"]


def scan(path: str | Path, **options) -> AuditReport:
    """Audits one model file; ``options`` are ``AuditConfig`` fields (probes, device, seed, fail_on, preset, data)."""
    from auditor.runner import AuditConfig, run_audit

    return run_audit(path, AuditConfig(**options))
