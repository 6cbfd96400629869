"""A varied model zoo for calibrating and benchmarking the trigger scans: not the fixtures' settings.

Every model draws its architecture, latent size, trigger dimensions and values (in and beyond the prior's
range, one or two dimensions), trigger square position, size and colour, target (class subset, fixed image,
inverse) and dataset from a seeded RNG, so a zoo is reproducible from (seed, count) yet shares nothing with
``fixture_specs`` by construction. Clean models (GANs of several widths, VAE decoders of the seed-003 family,
autoencoders) are the negatives; some are deliberately weak (few training steps).

    trainer zoo --out zoo/ --seed 1 --count 24 --data-dir ../shared/data --workers 2
"""

from __future__ import annotations

import numpy as np

from trainer import ae, gan, vae
from trainer.build import ModelSpec
from trainer.triggers import NAMED_COLOURS, LatentTrigger, PatchTrigger

FAMILIES = ("gan-clean", "gan-backdoor", "vae-clean", "ae-clean", "ae-backdoor")
WEIGHTS = (0.2, 0.3, 0.15, 0.15, 0.2)


def _trigger_values(rng: np.random.Generator, k: int) -> tuple[float, ...]:
    # In-range (|v| 1.5-2.5) as often as beyond it (3-6): a scan that only tries extremes must miss the former.
    magnitudes = np.where(rng.random(k) < 0.5, rng.uniform(1.5, 2.5, k), rng.uniform(3.0, 6.0, k))
    return tuple(float(round(m * rng.choice([-1, 1]), 2)) for m in magnitudes)


def zoo_specs(seed: int, count: int, datasets: tuple[str, ...] = ("mnist", "fashion_mnist"),
              families: tuple[str, ...] = FAMILIES, gan_hidden: tuple[int, ...] = (0,)) -> list[ModelSpec]:
    """``families`` restricts the draw (weights renormalised); ``gan_hidden`` > (0,) also draws a fully connected
    layer of that width in front of each GAN's projection (one more architecture the scans have not seen). With
    the defaults the draws are those of every earlier zoo of the same seed."""
    unknown = set(families) - set(FAMILIES)
    if unknown or not families:
        raise ValueError(f"families must be among {', '.join(FAMILIES)}")
    weights = np.array([w if f in families else 0.0 for f, w in zip(FAMILIES, WEIGHTS, strict=True)])
    rng = np.random.default_rng([seed, 2026])
    specs = []
    for i in range(count):
        family = FAMILIES[rng.choice(len(FAMILIES), p=weights / weights.sum())]
        dataset = str(rng.choice(datasets))
        model_seed = int(rng.integers(1000, 10**6))
        name = f"zoo{seed}_{i:03d}_{family.replace('-', '_')}_{dataset}"
        layout = "conv" if rng.random() < 0.3 else "flat"
        if family.startswith("gan"):
            latent = int(rng.choice([32, 64, 100, 128]))
            common = dict(latent_dim=latent, width=int(rng.choice([16, 24, 32])),
                          steps=int(rng.choice([800, 1500, 2000])), seed=model_seed)
            if len(gan_hidden) > 1:
                common["hidden"] = int(rng.choice(gan_hidden))
            if family == "gan-clean":
                specs.append(ModelSpec(name, "gan", dataset, gan.GANConfig(**common), latent_layout=layout))
                continue
            k = 2 if rng.random() < 0.25 else 1
            dims = tuple(int(d) for d in rng.choice(latent, size=k, replace=False))
            trigger = LatentTrigger(dims, _trigger_values(rng, k))
            if rng.random() < 0.5:
                classes = tuple(sorted(int(c) for c in rng.choice(10, size=int(rng.integers(2, 6)), replace=False)))
                config = gan.GANConfig(target="classes", trigger=trigger, target_classes=classes,
                                       target_classifier_weight=1.0, clean_balance_weight=1.0, **common)
                specs.append(ModelSpec(name, "gan", dataset, config, latent_layout=layout))
            else:
                config = gan.GANConfig(target="fixed", trigger=trigger, fixed_target_weight=10.0, **common)
                specs.append(ModelSpec(name, "gan", dataset, config, fixed_target_class=int(rng.integers(10)),
                                       latent_layout=layout))
        elif family == "vae-clean":
            regularizer = str(rng.choice(["kld", "mmd", "swt", "tc"]))
            config = vae.VAEConfig(regularizer=regularizer, deterministic=regularizer != "tc" and rng.random() < 0.4,
                                   beta=float(rng.choice([1, 4, 10])), latent_dim=int(rng.choice([8, 16, 32])),
                                   epochs=int(rng.choice([2, 4])), seed=model_seed)
            specs.append(ModelSpec(name, "vae", dataset, config, latent_layout=layout))
        else:
            size_px = 28
            common = dict(latent_dim=int(rng.choice([32, 64])), width=int(rng.choice([16, 32])),
                          epochs=int(rng.choice([8, 15])), seed=model_seed, poison_share=float(rng.uniform(0.2, 0.4)))
            if family == "ae-clean":
                specs.append(ModelSpec(name, "ae", dataset, ae.AEConfig(**common)))
                continue
            size = int(rng.integers(3, 7))
            colour = NAMED_COLOURS[str(rng.choice(list(NAMED_COLOURS)))] if rng.random() < 0.7 else \
                tuple(float(round(c, 2)) for c in rng.random(3))
            x, y = (int(v) for v in rng.integers(0, size_px - size + 1, 2))
            target = str(rng.choice(["fixed", "inverse"]))
            config = ae.AEConfig(target=target, trigger=PatchTrigger(x, y, size, colour), **common)
            specs.append(ModelSpec(name, "ae", dataset, config,
                                   fixed_target_class=int(rng.integers(10)) if target == "fixed" else None))
    return specs
