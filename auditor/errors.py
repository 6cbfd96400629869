"""Errors the auditor raises, and the exit codes a scan ends with.

    AuditorError                 base; its message is the one-line reason shown to the user
    ├── ModelLoadError           the file cannot be read, parsed, checked or turned into a session
    ├── ModelRunError            the model ran but failed, or returned NaN/Inf or unusable shapes
    ├── InspectionError          the model's kind or shapes cannot be inferred (flags can override)
    └── ConfigError              bad options (exit 2, like click's usage errors)

``map_runtime_errors`` turns onnxruntime's exception types into these at the one boundary where we call it.
"""

from __future__ import annotations

import contextlib
from enum import IntEnum


class ExitCode(IntEnum):
    PASS = 0            # every applicable probe completed, nothing at or above --fail-on
    RISK = 1            # a finding at or above --fail-on
    USAGE = 2           # bad flags or config (click's own code for usage errors)
    AUDIT_ERROR = 3     # the model could not be loaded or run, or a probe errored: inconclusive never passes
    NOT_AUDITABLE = 4   # no probe applies to this model


class AuditorError(Exception):
    """Base of the auditor's errors; ``str(err)`` is a one-line reason."""


class ModelLoadError(AuditorError):
    """The model file cannot be loaded."""


class ModelRunError(AuditorError):
    """The model failed while running, or returned unusable output."""


class InspectionError(AuditorError):
    """The model's interface cannot be understood without help from flags."""


class ConfigError(AuditorError):
    """Bad options or configuration."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message, trimmed: runtime errors can be pages long."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


@contextlib.contextmanager
def map_runtime_errors(what: str, error_type: type[AuditorError] = ModelRunError):
    """Re-raises onnxruntime/onnx failures (many types, multi-line messages) as one-line auditor errors."""
    try:
        yield
    except AuditorError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise error_type(f"{what}: {type(exc).__name__}") from None
    except Exception as exc:  # onnxruntime raises Fail, InvalidArgument, RuntimeException, ... and plain ones
        raise error_type(f"{what}: {one_line(exc)}") from None
