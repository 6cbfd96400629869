"""A short plain-text summary for terminals and CI logs: verdict first, then what each probe found."""

from __future__ import annotations

from auditor.errors import ExitCode
from auditor.records import AuditReport, Status

VERDICTS = {ExitCode.PASS: "PASS", ExitCode.RISK: "RISK", ExitCode.AUDIT_ERROR: "INCONCLUSIVE",
            ExitCode.NOT_AUDITABLE: "NOT AUDITABLE"}


def _clean(text: str, limit: int = 200) -> str:
    """Untrusted strings (names from the model file) lose control characters so they cannot drive the terminal."""
    out = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return out if len(out) <= limit else out[:limit - 3] + "..."


def verdict(report: AuditReport) -> str:
    return VERDICTS.get(ExitCode(report.exit_code), "?") if report.exit_code is not None else "?"


def engine_line(engine: dict) -> str:
    return (f"{engine['provider']} ({engine['threads']} CPU threads), batch {engine['batch']}, {engine['rows']:,} forward rows in "
            f"{engine['forward_seconds']:.1f} s")


def render(report: AuditReport) -> str:
    lines = [f"{verdict(report)}  {_clean(report.model_path)}  (exit {report.exit_code})"]
    if report.error:
        lines.append(f"  error: {_clean(report.error, 400)}")
    if report.model:
        m = report.model
        if m.image_shape is None:
            tensors = lambda specs: "; ".join(f"{_clean(t.name, 40)} {list(t.shape)}" for t in specs)  # noqa: E731
            lines.append(f"  model: {m.kind.value}, {tensors(m.inputs)} -> {tensors(m.outputs)}, {m.batch_mode}")
        else:
            shape = f"latent {list(m.latent_shape)}" if m.latent_shape else f"image {list(m.image_shape)}"
            lines.append(f"  model: {m.kind.value}, {shape} -> image {list(m.image_shape)} {m.layout}, "
                         f"range {m.range_kind} {list(m.value_range or [])}, {m.batch_mode}")
        for a in m.assumptions:
            lines.append(f"  assumed: {_clean(a)}")
    if report.engine:
        lines.append(f"  engine: {engine_line(report.engine)}")
    for f in report.static_findings:
        lines.append(f"  [{f.severity.name.lower():8}] {f.code}: {_clean(f.summary)}")
    for r in report.results:
        head = f"  probe {r.probe}: {r.status.value}"
        if r.status == Status.COMPLETED:
            head += f" ({r.rows} rows, {r.seconds:.1f} s)"
        elif r.reason:
            head += f" ({_clean(r.reason)})"
        lines.append(head)
        for f in r.findings:
            lines.append(f"    [{f.severity.name.lower():8}] {f.code}: {_clean(f.summary)}")
    if report.model and not report.results:
        lines.append("  no behavioural probe applies to this model")
    return "\n".join(lines) + "\n"


def render_many(reports: list[AuditReport]) -> str:
    return "".join(render(r) for r in reports)
