"""A self-contained HTML view of a report: verdict first, then the model, static findings and each probe.

No JavaScript, no external resources. Every string that can come from the model file or a report on disk
(names, producer, summaries, evidence, reasons) goes through ``html.escape``; image evidence is embedded only
when it is a well-formed PNG data URI; curves are drawn as inline SVG from numbers only.
"""

from __future__ import annotations

import html
import json
import math
import re

from auditor.records import AuditReport, Curve, Finding, Status
from auditor.report.text import engine_line, verdict

_PNG_DATA_URI = re.compile(r"^data:image/png;base64,[A-Za-z0-9+/]+={0,2}$")
_COLOURS = {"PASS": "#1a7f37", "RISK": "#cf222e", "INCONCLUSIVE": "#9a6700", "NOT AUDITABLE": "#57606a"}
_SEVERITY_COLOURS = {"critical": "#82071e", "high": "#cf222e", "medium": "#9a6700", "low": "#0969da",
                     "info": "#57606a"}

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1f2328;padding:0 1rem}
h1{font-size:1.5rem;margin:.2rem 0} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.verdict{color:#fff;padding:1rem 1.2rem;border-radius:8px} .verdict small{opacity:.9}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;
vertical-align:top} th{background:#f6f8fa} code,pre{font:12px ui-monospace,monospace} pre{white-space:pre-wrap;
margin:0;max-height:14rem;overflow:auto} .sev{color:#fff;border-radius:4px;padding:0 .4rem;font-size:12px}
.muted{color:#57606a} img.grid{image-rendering:pixelated;max-width:100%;border:1px solid #d0d7de}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _severity(name: str) -> str:
    return f'<span class="sev" style="background:{_SEVERITY_COLOURS.get(name, "#57606a")}">{_e(name)}</span>'


def _findings_table(findings: tuple[Finding, ...] | list[Finding]) -> str:
    if not findings:
        return '<p class="muted">No findings.</p>'
    rows = "".join(
        f"<tr><td>{_severity(f.severity.name.lower())}</td><td><code>{_e(f.code)}</code></td>"
        f"<td>{_e(f.summary)}</td><td>{f.score:.2f}</td>"
        f"<td><pre>{_e(json.dumps(f.evidence, default=str))}</pre></td></tr>" for f in findings)
    return ("<table><tr><th>severity</th><th>code</th><th>summary</th><th>score</th><th>evidence</th></tr>"
            f"{rows}</table>")


def _svg_curve(name: str, curve: Curve, width: int = 420, height: int = 220) -> str:
    points = [(x, y) for x, y in zip(curve.x, curve.y, strict=True) if math.isfinite(x) and math.isfinite(y)]
    if len(points) < 2:
        return f'<p class="muted">{_e(name)}: not enough finite points to plot.</p>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(0.0, min(ys)), max(ys) if max(ys) > min(0.0, min(ys)) else min(ys) + 1
    pad = 36

    def sx(x):
        return pad + (x - x0) / ((x1 - x0) or 1) * (width - 2 * pad)

    def sy(y):
        return height - pad - (y - y0) / ((y1 - y0) or 1) * (height - 2 * pad)

    path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    return (f'<figure><svg width="{width}" height="{height}" role="img" aria-label="{_e(name)}">'
            f'<rect width="{width}" height="{height}" fill="#fff" stroke="#d0d7de"/>'
            f'<polyline fill="none" stroke="#0969da" stroke-width="2" points="{path}"/>'
            f'<text x="{pad}" y="{height - 8}" font-size="11">{_e(curve.x_label)}: {x0:.3g} .. {x1:.3g}</text>'
            f'<text x="4" y="14" font-size="11">{_e(curve.y_label)}: {y0:.3g} .. {y1:.3g}</text>'
            f"</svg><figcaption>{_e(name)}</figcaption></figure>")


def _image(name: str, uri: str) -> str:
    if not _PNG_DATA_URI.match(uri or ""):
        return f'<p class="muted">{_e(name)}: image omitted (not a PNG data URI).</p>'
    return f'<figure><img class="grid" alt="{_e(name)}" src="{uri}"><figcaption>{_e(name)}</figcaption></figure>'


def _model_section(report: AuditReport) -> str:
    m = report.model
    if m is None:
        return ""
    rows = [("kind", m.kind.value), ("format", m.format), ("sha256", m.sha256), ("size", f"{m.size_bytes} bytes"),
            ("inputs", "; ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in m.inputs)),
            ("outputs", "; ".join(f"{t.name} {list(t.shape)} {t.dtype}" for t in m.outputs)),
            ("latent shape", m.latent_shape), ("image shape", m.image_shape), ("layout", m.layout),
            ("value range", f"{m.range_kind} {list(m.value_range or [])}"),
            ("batch", f"{'dynamic' if m.dynamic_batch else 'fixed'}, {m.batch_mode}"),
            ("opset / IR", f"{m.opset} / {m.ir_version}"), ("producer (from file, untrusted)", m.producer)]
    if m.label_input:
        rows.insert(7, ("label input", f"{m.label_input} ({m.num_classes} classes)"))
    if report.engine:
        rows.append(("engine", engine_line(report.engine)))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    assumptions = "".join(f"<li>{_e(a)}</li>" for a in m.assumptions)
    return (f"<h2>Model</h2><table>{body}</table>"
            + (f"<p>What inspection assumed:</p><ul>{assumptions}</ul>" if assumptions else ""))


def _probe_section(result) -> str:
    parts = [f'<h2>Probe <code>{_e(result.probe)}</code>: {_e(result.status.value)}</h2>']
    if result.status == Status.COMPLETED:
        parts.append(f'<p class="muted">{result.rows} forward rows, {result.seconds:.2f} s</p>')
    if result.reason:
        parts.append(f"<p>{_e(result.reason)}</p>")
    if result.status == Status.COMPLETED:
        parts.append(_findings_table(result.findings))
    if result.metrics:
        parts.append("<table><tr><th>metric</th><th>value</th></tr>" + "".join(
            f"<tr><td>{_e(k)}</td><td>{_e(f'{v:.6g}' if isinstance(v, float) else v)}</td></tr>"
            for k, v in result.metrics.items()) + "</table>")
    parts.extend(_svg_curve(name, curve) for name, curve in result.curves.items())
    parts.extend(_image(name, uri) for name, uri in result.images.items())
    return "".join(parts)


def _body(report: AuditReport) -> str:
    word = verdict(report)
    out = [f'<div class="verdict" style="background:{_COLOURS.get(word, "#57606a")}"><h1>{_e(word)}</h1>'
           f"<small>{_e(report.model_path)} &middot; exit code {_e(report.exit_code)} &middot; "
           f"auditor {_e(report.tool_version)} &middot; {_e(report.started_at)}</small></div>"]
    top = sorted(report.findings, key=lambda f: -f.severity)[:5]
    if report.error:
        out.append(f"<h2>Audit could not complete</h2><p>{_e(report.error)}</p>")
    if top:
        out.append("<h2>Top findings</h2>" + _findings_table(top))
    out.append(_model_section(report))
    if report.model:
        out.append("<h2>Static checks</h2>" + _findings_table(report.static_findings))
    out.extend(_probe_section(r) for r in report.results)
    return "".join(out)


def render_many(reports: list[AuditReport]) -> str:
    title = "auditor report" if len(reports) != 1 else f"auditor report: {reports[0].model_path}"
    summary = ""
    if len(reports) > 1:
        summary = "<h1>Summary</h1><table><tr><th>model</th><th>verdict</th><th>exit</th></tr>" + "".join(
            f"<tr><td>{_e(r.model_path)}</td><td>{_e(verdict(r))}</td><td>{_e(r.exit_code)}</td></tr>"
            for r in reports) + "</table>"
    sections = "<hr>".join(f"<section>{_body(r)}</section>" for r in reports)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
            f"style-src 'unsafe-inline'\"><title>{_e(title)}</title><style>{_STYLE}</style></head>"
            f"<body>{summary}{sections}</body></html>\n")


def render(report: AuditReport) -> str:
    return render_many([report])
