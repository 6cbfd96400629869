"""`auditor`: parse flags, call one function, render, exit. No audit logic lives here.

Exit codes: 0 pass, 1 a finding at or above --fail-on, 2 usage error, 3 the audit could not complete,
4 nothing to audit (no probe applies). Several at once: 3 over 1 over 4.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditor._version import __version__
from auditor.errors import AuditorError, ConfigError, ExitCode, one_line
from auditor.records import Severity

SEVERITIES = [s.name.lower() for s in Severity]
FORMATS = ["text", "json", "html", "sarif"]


def _tuple_of(kind, text: str | None, flag: str):
    if text is None:
        return None
    try:
        return tuple(kind(t) for t in text.replace("x", ",").split(",") if t.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=flag) from None


def _progress_factory(enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    def make(name: str):
        bar = tqdm(desc=name, file=sys.stderr, leave=False, dynamic_ncols=True)

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()
            if done >= total:
                bar.close()
        return update
    return make


def _overrides(kind, latent_shape, layout, value_range, num_classes):
    from auditor.loading import Overrides

    shape = _tuple_of(int, latent_shape, "--latent-shape")
    rng = _tuple_of(float, value_range, "--range")
    if rng is not None and (len(rng) != 2 or rng[0] >= rng[1]):
        raise click.BadParameter(f"expected LOW,HIGH with LOW < HIGH, got {value_range!r}", param_hint="--range")
    if shape is not None and (not shape or min(shape) < 1):
        raise click.BadParameter(f"expected positive sizes, got {latent_shape!r}", param_hint="--latent-shape")
    return Overrides(kind=kind, latent_shape=shape, layout=layout, value_range=rng, num_classes=num_classes)


def model_options(fn):
    for option in reversed([
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--kind", type=click.Choice(["generator", "conditional_generator", "autoencoder"]),
                     help="Override the inferred model kind."),
        click.option("--latent-shape", help="Per-sample latent shape, e.g. 100 or 128,4,4."),
        click.option("--layout", type=click.Choice(["NCHW", "NHWC"]), help="Override the output image layout."),
        click.option("--range", "value_range", help="Override the output value range, e.g. -1,1 or 0,255."),
        click.option("--num-classes", type=click.IntRange(1), help="Classes of a conditional generator's label."),
        click.option("--seed", type=int, default=0, show_default=True),
    ]):
        fn = option(fn)
    return fn


@click.group()
@click.version_option(__version__, package_name="genaudit")
def cli() -> None:
    """Audit ONNX generators, decoders and autoencoders for backdoors and latent-space fragility."""


@cli.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_options
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Scan several models in this many worker processes.")
@click.option("--probes", "probe_names", help="Comma-separated probe ids (default: every applicable probe).")
@click.option("--data", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of probe images for autoencoders (default: images the tool makes itself).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="high", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--preset", type=click.Choice(["quick", "default", "thorough"]), default="default", show_default=True)
@click.option("--gradients", type=click.Choice(["query", "exact", "auto"]), default="query", show_default=True,
              help="Latent gradients: query-only through onnxruntime, exact through torch (needs torch), or auto.")
@click.option("--latents", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A .npy of latents [N, *latent_shape] for the robustness probe (default: prior samples).")
@click.option("--encoder", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="An ONNX encoder: the robustness probe attacks encoder(--data images), as seed 003 does.")
@click.option("--forbidden", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder of images the generator must not be able to emit (checked by inversion).")
@click.option("--pgd-norm", type=click.Choice(["linf", "l2"]), default="linf", show_default=True,
              help="Norm of the latent PGD budget ball.")
@click.option("--pgd-target", help="Targeted latent PGD: 'black' (seed 003) or an image file to steer towards "
              "(default: untargeted).")
@click.option("--classifier", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="ONNX classifier of the generator's domain (images in [0, 1] -> class scores): enables the "
              "class-mix trigger scan, which finds class-subset backdoors.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report here (default: stdout).")
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
def scan(models, device, kind, latent_shape, layout, value_range, num_classes, seed, jobs, probe_names, data,
         fail_on, preset, gradients, latents, encoder, forbidden, pgd_norm, pgd_target, classifier, fmt, output,
         progress):
    """Run the static checks and every applicable probe on each MODEL (files or folders of them).

    One model gives one report; several give one aggregated report (a summary table, then a section per model)
    and the worst exit code (3 over 1 over 4 over 0).
    """
    from auditor.report import render, text
    from auditor.runner import AuditConfig, expand_paths, run_many
    from auditor.verdict import worst

    if data is not None and not data.is_dir():
        raise click.BadParameter(f"{data} is not a folder", param_hint="--data")
    try:
        config = AuditConfig(probes=tuple(p.strip() for p in (probe_names or "").split(",") if p.strip()),
                             device=device, seed=seed, fail_on=fail_on, preset=preset,
                             data=str(data) if data else None, gradients=gradients,
                             latents=str(latents) if latents else None, encoder=str(encoder) if encoder else None,
                             forbidden=str(forbidden) if forbidden else None, pgd_norm=pgd_norm,
                             pgd_target=pgd_target, classifier=str(classifier) if classifier else None,
                             overrides=_overrides(kind, latent_shape, layout, value_range, num_classes))
        paths = expand_paths(list(models))
        reports = run_many(paths, config, jobs=jobs, progress=_progress_factory(progress and sys.stderr.isatty()))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    rendered = render(reports, fmt)
    if output is None:
        click.echo(rendered, nl=False)
    else:
        try:
            output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise click.UsageError(f"cannot write --output {output}: {exc.strerror or exc}") from None
        click.echo(text.render_many(reports), err=True, nl=False)
    sys.exit(worst([ExitCode(r.exit_code) for r in reports]))


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@model_options
@click.option("--json", "as_json", is_flag=True, help="Print the model info and static findings as JSON.")
def inspect(model, device, kind, latent_shape, layout, value_range, num_classes, seed, as_json):
    """Print what MODEL is (kind, latent, layout, range) and its static findings; runs no probe."""
    import json

    from auditor.loading import load_model
    from auditor.report.text import _clean
    from auditor.static.checks import run_static_checks

    try:
        loaded = load_model(model, device=device, overrides=_overrides(kind, latent_shape, layout, value_range,
                                                                       num_classes), seed=seed)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except AuditorError as exc:
        click.echo(f"error: {_clean(str(exc), 400)}", err=True)
        sys.exit(ExitCode.AUDIT_ERROR)
    findings = run_static_checks(loaded.onnx_file.proto, external_tensors=loaded.onnx_file.external_tensors,
                                 source_format=loaded.info.format)
    if as_json:
        click.echo(json.dumps({"model": loaded.info.to_dict(), "static_findings": [f.to_dict() for f in findings]},
                              indent=2))
        return
    for key, value in loaded.info.to_dict().items():
        if key in ("inputs", "outputs"):
            value = "; ".join(f"{t['name']} {t['shape']} {t['dtype']}" for t in value)
        click.echo(f"{key:14} {_clean(value, 300)}")
    for f in findings:
        click.echo(f"[{f.severity.name.lower()}] {f.code}: {_clean(f.summary)}")


@cli.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@model_options
@click.option("--gradients", type=click.Choice(["query", "exact", "auto"]), default="auto", show_default=True,
              help="auto: exact through torch when installed (hundreds of gradient steps), else query-only.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--progress/--no-progress", default=True, help="A progress bar on stderr.")
def invert(model, images, device, kind, latent_shape, layout, value_range, num_classes, seed, gradients, as_json,
           progress):
    """Did each of IMAGES (files or folders) come out of generator MODEL?

    Inverts the generator's own samples to set a reachability threshold, then each image: an image whose best
    reconstruction is within the threshold, from a latent inside the prior's typical set (not pushed to its
    edge), counts as something this generator emits.
    Exit 0 when every image was inverted, 2 on bad input, 3 when the model cannot be loaded or run.
    """
    import json

    from auditor.report.text import _clean
    from auditor.runner import AuditConfig, run_invert

    try:
        config = AuditConfig(device=device, seed=seed, gradients=gradients,
                             overrides=_overrides(kind, latent_shape, layout, value_range, num_classes))
        result = run_invert(model, list(images), config, _progress_factory(progress and sys.stderr.isatty()))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except AuditorError as exc:
        click.echo(f"error: {_clean(str(exc), 400)}", err=True)
        sys.exit(ExitCode.AUDIT_ERROR)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"threshold MSE {result['threshold_mse']:.5f} (largest residual of {result['calibration']['samples']} "
               f"own samples x margin; {result['gradients']})")
    for row in result["images"]:
        verdict = ("FROM GENERATOR" if row["from_generator"] else
                   "not from (edge z)" if row["reachable_only_at_edge"] else "not from generator")
        click.echo(f"{verdict:19} mse {row['mse']:.5f}  ssim {row['ssim']:.3f}  norm-z {row['norm_z']:+.2f}  "
                   f"{_clean(row['image'], 200)}")


@cli.command()
def probes():
    """List the probes, the model kinds each applies to, and what each does."""
    from auditor.probes import REGISTRY

    if not REGISTRY:
        click.echo("no behavioural probes are registered in this version; scans run the static checks only")
    for p in REGISTRY:
        kinds = ",".join(sorted(k.value for k in p.applies_to))
        click.echo(f"{p.name:24} {kinds:32} {p.summary()}")


@cli.command()
@click.argument("report_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["html", "sarif", "text", "json"]), default="html",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def render(report_path, fmt, output):
    """Render an existing JSON report (from `scan --format json`) as HTML, SARIF or text."""
    from auditor.report import render as render_reports
    from auditor.report.json_report import parse

    try:
        report = parse(report_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"{report_path}: {one_line(exc)}") from None
    rendered = render_reports([report], fmt)
    if output is None:
        click.echo(rendered, nl=False)
    else:
        output.write_text(rendered, encoding="utf-8")


def main() -> None:
    """Console entry point: any unexpected exception becomes a one-line error and exit 3, never a traceback."""
    try:
        cli(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # last resort: a bug must not print a traceback into a CI log as a pass
        click.echo(f"error: internal error: {type(exc).__name__}: {one_line(exc)}", err=True)
        sys.exit(ExitCode.AUDIT_ERROR)
