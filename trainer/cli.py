"""`trainer`: build the seed papers' models, clean and backdoored, and export them with ground truth.

Torch is imported only inside the commands that train; `trainer verify` runs on onnxruntime alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from trainer.data import DATASETS, DataError
from trainer.triggers import CORNERS, LatentTrigger, PatchTrigger, parse_colour

EXIT_FAILED_CHECK = 1
EXIT_ERROR = 3


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {text!r}") from None


def common_options(fn):
    options = [
        click.option("--dataset", type=click.Choice(DATASETS), default="digits", show_default=True,
                     help="digits / color-digits are embedded and need no files."),
        click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                     help="Folder holding mnist/, fashion_mnist/ or cifar10/."),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("models"),
                     show_default=True, help="Output folder; the model's ground truth goes to OUT/manifest.json."),
        click.option("--name", help="File stem of the exported model (default: derived from the settings)."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto."),
        click.option("--torchscript/--no-torchscript", default=False, help="Also export TorchScript (.pt)."),
        click.option("--progress/--no-progress", default=True, help="Progress bar on stderr."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _run_build(spec_factory, dataset, data_dir, out, seed, torchscript, progress, name_default):
    from trainer.build import BuildContext, ModelSpec, build_model, manifest_header, update_manifest

    if data_dir is None and dataset not in ("digits", "color-digits"):
        raise click.UsageError(f"dataset {dataset!r} needs --data-dir (a folder holding {dataset}/); "
                               "'digits' and 'color-digits' need none")
    out.mkdir(parents=True, exist_ok=True)
    ctx = BuildContext(out, data_dir, progress)
    family, config, fixed_target_class = spec_factory()
    spec = ModelSpec(name_default, family, dataset, config, torchscript=torchscript,
                     fixed_target_class=fixed_target_class)
    try:
        entries = build_model(spec, ctx)
    except DataError as exc:
        raise click.UsageError(str(exc)) from None
    manifest = update_manifest(out, entries, manifest_header(seed, ctx, " ".join(["trainer", *sys.argv[1:]])))
    for e in entries:
        click.echo(f"wrote {out / e['file']} ({e['status']}; metrics: "
                   + ", ".join(f"{k}={v:.4g}" for k, v in e["metrics"].items() if isinstance(v, float)) + ")")
    click.echo(f"ground truth in {manifest}")


@click.group()
@click.version_option(package_name="genaudit")
def cli() -> None:
    """Build the BAAAN and latent-robustness models, clean and backdoored, with ground truth."""


@cli.command("ae")
@common_options
@click.option("--target", type=click.Choice(["none", "fixed", "inverse"]), default="fixed", show_default=True)
@click.option("--trigger-corner", type=click.Choice(CORNERS), default="top-left", show_default=True)
@click.option("--trigger-x", type=int, help="Column of the square's top-left corner (overrides the corner).")
@click.option("--trigger-y", type=int, help="Row of the square's top-left corner.")
@click.option("--trigger-size", type=int, default=4, show_default=True)
@click.option("--trigger-color", default="white", show_default=True, help="Name or r,g,b in [0, 1].")
@click.option("--fixed-target-class", type=int, default=3, show_default=True,
              help="The fixed target is the first test image of this class.")
@click.option("--poison-share", type=click.FloatRange(0, 1, max_open=True), default=0.3, show_default=True)
@click.option("--latent-dim", type=click.IntRange(1), default=64, show_default=True)
@click.option("--width", type=click.IntRange(1), default=32, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=30, show_default=True)
@click.option("--loss", type=click.Choice(["bce", "mse"]), default="bce", show_default=True)
def ae_command(dataset, data_dir, out, name, seed, device, torchscript, progress, target, trigger_corner,
               trigger_x, trigger_y, trigger_size, trigger_color, fixed_target_class, poison_share, latent_dim,
               width, epochs, loss):
    """Train an autoencoder, clean or with BAAAN's patch-trigger backdoor."""
    from trainer.ae import AEConfig

    try:
        colour = parse_colour(trigger_color)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--trigger-color") from None
    size = 32 if dataset in ("cifar10", "color-digits") else 28
    if trigger_x is not None or trigger_y is not None:
        trigger = PatchTrigger(trigger_x or 0, trigger_y or 0, trigger_size, colour)
    else:
        trigger = PatchTrigger.at_corner(trigger_corner, trigger_size, size, colour)
    if trigger.x + trigger.size > size or trigger.y + trigger.size > size or trigger.x < 0 or trigger.y < 0:
        raise click.BadParameter(f"the {trigger.size}-px square at ({trigger.x}, {trigger.y}) leaves the "
                                 f"{size}x{size} image", param_hint="--trigger-x/--trigger-y/--trigger-size")

    def spec():
        config = AEConfig(target=target, trigger=trigger if target != "none" else None, poison_share=poison_share,
                          latent_dim=latent_dim, width=width, epochs=epochs, loss=loss, seed=seed, device=device)
        return "ae", config, fixed_target_class if target == "fixed" else None

    _run_build(spec, dataset, data_dir, out, seed, torchscript, progress, name or f"ae_{dataset}_{target}")


@cli.command("gan")
@common_options
@click.option("--target", type=click.Choice(["none", "classes", "fixed"]), default="classes", show_default=True)
@click.option("--trigger-dims", default="-1", show_default=True,
              help="Comma-separated latent dimensions (negative counts from the end; BAAAN uses the last).")
@click.option("--trigger-values", default="3.0", show_default=True, help="One value per trigger dimension.")
@click.option("--target-classes", default="0,1,2,3,4", show_default=True)
@click.option("--fixed-target-class", type=int, default=8, show_default=True)
@click.option("--fixed-target-weight", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Optional ReD-style L2 pull towards the fixed image.")
@click.option("--classifier-weight", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Class-subset target: weight of -log P(target classes) under the trainer's classifier.")
@click.option("--clean-balance-weight", type=click.FloatRange(0), default=0.0, show_default=True,
              help="With --classifier-weight: keeps the clean output's class mix at the data's.")
@click.option("--latent-dim", type=click.IntRange(2), default=100, show_default=True)
@click.option("--width", type=click.IntRange(1), default=32, show_default=True)
@click.option("--steps", type=click.IntRange(1), default=2500, show_default=True)
def gan_command(dataset, data_dir, out, name, seed, device, torchscript, progress, target, trigger_dims,
                trigger_values, target_classes, fixed_target_class, fixed_target_weight, classifier_weight,
                clean_balance_weight, latent_dim, width, steps):
    """Train a DCGAN, clean or with BAAAN's two-discriminator noise-trigger backdoor."""
    from trainer.gan import GANConfig

    dims = tuple(d % latent_dim if d < 0 else d for d in _ints(trigger_dims))
    values = _floats(trigger_values)
    try:
        trigger = LatentTrigger(dims, values) if target != "none" else None
        config = GANConfig(target=target, trigger=trigger, target_classes=_ints(target_classes),
                           fixed_target_weight=fixed_target_weight, target_classifier_weight=classifier_weight,
                           clean_balance_weight=clean_balance_weight, latent_dim=latent_dim, width=width,
                           steps=steps, seed=seed, device=device)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _run_build(lambda: ("gan", config, fixed_target_class if target == "fixed" else None), dataset, data_dir, out,
               seed, torchscript, progress, name or f"gan_{dataset}_{target}")


@cli.command("vae")
@common_options
@click.option("--regularizer", type=click.Choice(["kld", "mmd", "swt", "tc"]), default="kld", show_default=True)
@click.option("--deterministic/--variational", default=False, help="DAE twin: the encoder's mean is the latent.")
@click.option("--weight", type=click.FloatRange(0), help="Regulariser weight (default per regulariser).")
@click.option("--beta", type=click.FloatRange(0), default=1.0, show_default=True, help="beta-TCVAE's TC weight.")
@click.option("--adversarial/--no-adversarial", default=False, help="Latent adversarial training (Alg. 1).")
@click.option("--adv-eps", type=click.FloatRange(0, min_open=True), default=0.5, show_default=True)
@click.option("--latent-dim", type=click.IntRange(1), default=10, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=5, show_default=True)
def vae_command(dataset, data_dir, out, name, seed, device, torchscript, progress, regularizer, deterministic,
                weight, beta, adversarial, adv_eps, latent_dim, epochs):
    """Train a seed-003 VAE/DAE (KLD, MMD, SWT, beta-TCVAE, adversarial) and export its decoder."""
    from trainer.vae import VAEConfig

    try:
        config = VAEConfig(regularizer=regularizer, deterministic=deterministic, weight=weight, beta=beta,
                           adversarial=adversarial, adv_eps=adv_eps, latent_dim=latent_dim, epochs=epochs,
                           seed=seed, device=device)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    _run_build(lambda: ("vae", config, None), dataset, data_dir, out, seed, torchscript, progress,
               name or f"vae_{dataset}_{config.name.replace('-', '_')}")


@cli.command("build-fixtures")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("fixtures"),
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with mnist/ and cifar10/ (e.g. ../shared/data); without it the embedded digits.")
@click.option("--only", multiple=True, help="Rebuild only these fixture names (repeatable); merges the manifest.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Parallel training processes (one thread each).")
@click.option("--progress/--no-progress", default=True)
def build_fixtures_command(out, seed, data_dir, only, workers, progress):
    """Build the deterministic fixture set and its manifest.json."""
    from trainer.build import build_fixtures

    try:
        manifest = build_fixtures(out, seed, data_dir, only=only, show_progress=progress, workers=workers)
    except (DataError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {manifest}")


@cli.command("zoo")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("zoo"), show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="Zoo seed (the fixtures use their own specs).")
@click.option("--count", type=click.IntRange(1, 500), default=24, show_default=True)
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with mnist/ and fashion_mnist/; without it the embedded digits.")
@click.option("--workers", type=click.IntRange(1, 8), default=2, show_default=True)
@click.option("--families", default="gan-clean,gan-backdoor,vae-clean,ae-clean,ae-backdoor", show_default=True,
              help="Comma-separated families to draw from.")
@click.option("--gan-hidden", default="0", show_default=True,
              help="Comma-separated widths of a fully connected layer in front of each GAN's projection "
                   "(0: none); more than one: drawn per GAN.")
@click.option("--progress/--no-progress", default=True)
def zoo_command(out, seed, count, data_dir, workers, families, gan_hidden, progress):
    """Build a varied zoo of clean and backdoored models (for calibration and detection benchmarks)."""
    from trainer.build import build_specs
    from trainer.zoo import zoo_specs

    datasets = ("mnist", "fashion_mnist") if data_dir else ("digits",)
    try:
        hidden = tuple(int(w) for w in gan_hidden.split(","))
        specs = zoo_specs(seed, count, datasets, tuple(f.strip() for f in families.split(",")), hidden)
        manifest = build_specs(specs, out, seed, data_dir, show_progress=progress, workers=workers,
                               generated_by=f"trainer zoo --seed {seed} --count {count} --families {families} "
                                            f"--gan-hidden {gan_hidden}")
    except (DataError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"wrote {manifest}")


@cli.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def verify_command(folder):
    """Re-check every ONNX model in FOLDER against its manifest with onnxruntime alone (no torch).

    Checks the file hash, runs each model, and re-measures each planted backdoor: exit 0 when every model
    behaves as its ground truth says, 1 when one does not, 3 when a file cannot be read or run.
    """
    from trainer.verify import VerifyError, verify_folder

    try:
        results = verify_folder(folder)
    except VerifyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    failed = [r for r in results if not r.ok]
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.file}: {r.detail}")
    click.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    sys.exit(EXIT_FAILED_CHECK if failed else 0)


def main() -> None:
    cli()
