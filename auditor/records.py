"""The records that flow load -> inspect -> probes -> findings -> report, and their JSON form.

Every record is a frozen dataclass of JSON-safe values (no numpy arrays) with ``to_dict`` / ``from_dict``, so
the JSON report is the canonical form and HTML, SARIF and text are views of the same dict.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, IntEnum
from typing import Any

SCHEMA_VERSION = 1


class ModelKind(str, Enum):
    GENERATOR = "generator"                      # latent in, image out (GAN generator, VAE decoder)
    CONDITIONAL_GENERATOR = "conditional_generator"  # latent + class label in, image out
    AUTOENCODER = "autoencoder"                  # image in, image out
    UNKNOWN = "unknown"


class Severity(IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(f"severity must be one of {', '.join(s.name.lower() for s in cls)}, got {text!r}") \
                from None


class Status(str, Enum):
    COMPLETED = "completed"
    SKIPPED = "skipped"
    ERRORED = "errored"


def _finite(x: float) -> float | None:
    """JSON has no NaN/Inf: store them as null rather than emitting invalid JSON."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | str | None, ...]   # ints for fixed dims, strings for symbolic ones, None when unknown
    dtype: str

    @classmethod
    def from_dict(cls, d: dict) -> TensorSpec:
        return cls(d["name"], tuple(d["shape"]), d["dtype"])


@dataclass(frozen=True)
class ModelInfo:
    """What inspection learned about a model: from the graph and trial runs, never from its metadata."""

    path: str
    sha256: str
    format: str                                   # "onnx" | "torchscript"
    size_bytes: int
    kind: ModelKind
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    latent_shape: tuple[int, ...] | None = None   # per-sample latent shape, e.g. (100,), (100, 1, 1), (128, 4, 4)
    label_input: str | None = None                # name of a class-label input (conditional generators)
    num_classes: int | None = None
    image_shape: tuple[int, int, int] | None = None  # (channels, height, width) of the output image
    layout: str | None = None                     # "NCHW" | "NHWC"
    value_range: tuple[float, float] | None = None
    range_kind: str | None = None                 # "tanh" | "sigmoid" | "0-255" | "uint8" | "unbounded"
    dynamic_batch: bool = True
    batch_mode: str = "batched"                   # "batched" | "row-by-row"
    opset: int | None = None
    ir_version: int | None = None
    producer: str = ""                            # untrusted text from the file
    assumptions: tuple[str, ...] = ()             # what inspection had to assume; flags to override it

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["kind"] = self.kind.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelInfo:
        d = dict(d)
        d["kind"] = ModelKind(d["kind"])
        d["inputs"] = tuple(TensorSpec.from_dict(t) for t in d["inputs"])
        d["outputs"] = tuple(TensorSpec.from_dict(t) for t in d["outputs"])
        for key in ("latent_shape", "image_shape", "value_range", "assumptions"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass(frozen=True)
class Finding:
    """One piece of evidence, phrased for a person. ``code`` is stable across versions (e.g. TRIG-LATENT-001)."""

    probe: str
    code: str
    severity: Severity
    score: float                                  # in [0, 1], higher = riskier
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.score, (int, float)) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"finding score must be in [0, 1], got {self.score!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "code": self.code, "severity": self.severity.name.lower(),
                "score": float(self.score), "summary": self.summary, "evidence": self.evidence}

    @classmethod
    def from_dict(cls, d: dict) -> Finding:
        return cls(d["probe"], d["code"], Severity.parse(d["severity"]), d["score"], d["summary"],
                   d.get("evidence", {}))


@dataclass(frozen=True)
class Curve:
    """A named x/y series, e.g. a DD-curve: x = budgets (monotone), y = distortion."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    x_label: str
    y_label: str

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"curve needs as many x as y values, got {len(self.x)} and {len(self.y)}")

    def to_dict(self) -> dict[str, Any]:
        return {"x": [_finite(v) for v in self.x], "y": [_finite(v) for v in self.y], "x_label": self.x_label,
                "y_label": self.y_label}

    @classmethod
    def from_dict(cls, d: dict) -> Curve:
        nan = float("nan")
        return cls(tuple(nan if v is None else v for v in d["x"]), tuple(nan if v is None else v for v in d["y"]),
                   d["x_label"], d["y_label"])


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    status: Status
    seconds: float = 0.0
    rows: int = 0                                 # forward rows (samples) the probe evaluated
    findings: tuple[Finding, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, Curve] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)   # name -> PNG data URI (evidence grids)
    reason: str | None = None                     # why skipped or errored

    def to_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "status": self.status.value, "seconds": round(self.seconds, 4),
                "rows": self.rows, "findings": [f.to_dict() for f in self.findings],
                "metrics": {k: _finite(v) for k, v in self.metrics.items()},
                "curves": {k: c.to_dict() for k, c in self.curves.items()}, "images": dict(self.images),
                "reason": self.reason}

    @classmethod
    def from_dict(cls, d: dict) -> ProbeResult:
        return cls(d["probe"], Status(d["status"]), d.get("seconds", 0.0), d.get("rows", 0),
                   tuple(Finding.from_dict(f) for f in d.get("findings", ())),
                   {k: (float("nan") if v is None else v) for k, v in d.get("metrics", {}).items()},
                   {k: Curve.from_dict(c) for k, c in d.get("curves", {}).items()}, dict(d.get("images", {})),
                   d.get("reason"))


@dataclass(frozen=True)
class AuditReport:
    """Everything one scan produced. ``error`` is set when the model could not be loaded or inspected."""

    tool_version: str
    started_at: str
    model_path: str
    config: dict[str, Any]
    model: ModelInfo | None
    static_findings: tuple[Finding, ...] = ()
    results: tuple[ProbeResult, ...] = ()
    error: str | None = None
    exit_code: int | None = None
    schema_version: int = SCHEMA_VERSION
    # How the forward passes ran: onnxruntime execution provider, batch size chosen, rows and seconds in the model.
    engine: dict[str, Any] | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.static_findings + tuple(f for r in self.results for f in r.findings)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": self.schema_version, "tool_version": self.tool_version,
                "started_at": self.started_at, "model_path": self.model_path, "config": self.config,
                "model": self.model.to_dict() if self.model else None,
                "static_findings": [f.to_dict() for f in self.static_findings],
                "results": [r.to_dict() for r in self.results], "error": self.error, "exit_code": self.exit_code,
                "engine": self.engine}

    @classmethod
    def from_dict(cls, d: dict) -> AuditReport:
        if d.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"report schema_version {d.get('schema_version')!r}, expected {SCHEMA_VERSION}")
        return cls(d["tool_version"], d["started_at"], d["model_path"], d.get("config", {}),
                   ModelInfo.from_dict(d["model"]) if d.get("model") else None,
                   tuple(Finding.from_dict(f) for f in d.get("static_findings", ())),
                   tuple(ProbeResult.from_dict(r) for r in d.get("results", ())), d.get("error"),
                   d.get("exit_code"), d["schema_version"], d.get("engine"))
