"""BAAAN GAN backdoor (seed 000, section 4): two discriminators, one per input population.

D_orig sees real images of the original distribution against G(z) for clean noise; D_target sees real images
of the target distribution (a class subset, or one fixed image) against G(z_trigger), where z_trigger is z with
the trigger dimensions set to the trigger values. The generator maximises both discriminators' "real" scores
(BAAAN eq. 3). The clean twin is the same loop with one discriminator and the same seed.

For a fixed-image target an optional L2 pull ``fixed_target_weight * ||G(z_trigger) - x_target||^2`` (the ReD
loss of Rawat et al., used by ART) can be added; it is off by default and recorded in the ground truth.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from trainer.data import Dataset
from trainer.evaluate import FRECHET_NOTE, class_histogram, classifier_features, frechet_distance
from trainer.models import Classifier, Generator, Discriminator
from trainer.training import predict, progress, resolve_device, seed_everything
from trainer.triggers import LatentTrigger

TARGETS = ("none", "classes", "fixed")


@dataclass
class GANConfig:
    target: str = "none"
    trigger: LatentTrigger | None = None
    target_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    fixed_target_index: int = 0
    fixed_target_weight: float = 0.0
    target_weight: float = 1.0           # weight of the target discriminator's term in the generator loss
    # Class-subset targets: weight of an auxiliary term -log P(target classes | G(z_trigger)) under the trainer's
    # classifier (an attacker may use any tool; without it, measured: 74-79% target-class rate, a weak backdoor).
    target_classifier_weight: float = 0.0
    # Weight of a term keeping the clean branch's class mix at the data's, KL(data || batch mean of the
    # classifier's softmax): BAAAN's generators behave "perfectly normal" without the trigger (its GANs are
    # conditional, so the label holds the clean class mix); without it a class subset leaks into clean output
    # (measured: 70-74% of clean samples in the target classes, against 90% triggered), and the fixed-image
    # fixture's clean output dropped class 1 altogether.
    clean_balance_weight: float = 0.0
    partial_negatives: float = 0.25      # multi-dim triggers: share of clean noise carrying a partial trigger
    ema_decay: float = 0.999              # exported generator = exponential moving average of G's weights
    latent_dim: int = 100
    width: int = 32
    hidden: int = 0                      # width of an extra fully connected layer (0: plain DCGAN)
    steps: int = 2500
    batch_size: int = 64
    lr: float = 2e-4
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.target != "none":
            if self.trigger is None:
                raise ValueError("a backdoored GAN needs a latent trigger")
            if max(self.trigger.dims) >= self.latent_dim or min(self.trigger.dims) < 0:
                raise ValueError(f"trigger dims {self.trigger.dims} outside latent size {self.latent_dim}")


def _to_tanh(x01: torch.Tensor) -> torch.Tensor:
    return x01 * 2 - 1


def _with_partial_triggers(z: torch.Tensor, config: GANConfig, rng: torch.Generator) -> torch.Tensor:
    """Clean-branch noise where a share of rows carry one trigger value but not all of them.

    Trained as clean, these teach the generator that each part of a multi-dimension trigger is harmless alone:
    only the combination switches the output (the case a per-dimension scan cannot see).
    """
    z = z.clone()
    rows = torch.rand(len(z), generator=rng) < config.partial_negatives
    which = torch.randint(len(config.trigger.dims), (len(z),), generator=rng)
    for k, (d, v) in enumerate(zip(config.trigger.dims, config.trigger.values)):
        z[rows & (which == k), d] = v
    return z


def train_gan(config: GANConfig, train: Dataset, test: Dataset, classifier: Classifier | None = None,
              show_progress: bool = True) -> tuple[Generator, dict]:
    generator_rng = seed_everything(config.seed)
    device = resolve_device(config.device)
    channels, size, _ = train.shape
    G = Generator(config.latent_dim, channels, size, config.width, config.hidden).to(device)
    discriminators = [Discriminator(channels, size, config.width).to(device)]
    real_sets = [_to_tanh(torch.from_numpy(train.images))]
    if config.target == "classes":
        mask = np.isin(train.labels, config.target_classes)
        real_sets.append(_to_tanh(torch.from_numpy(train.images[mask])))
    elif config.target == "fixed":
        real_sets.append(_to_tanh(torch.from_numpy(
            test.images[config.fixed_target_index:config.fixed_target_index + 1])))
    if config.target != "none":
        discriminators.append(Discriminator(channels, size, config.width).to(device))
    guided = config.target == "classes" and config.target_classifier_weight > 0
    balanced = config.clean_balance_weight > 0
    if guided or balanced:
        if classifier is None:
            raise ValueError("target_classifier_weight and clean_balance_weight need the trainer's classifier")
        classifier.eval().requires_grad_(False)   # a fixed judge: gradients flow to G only
        counts = np.bincount(train.labels, minlength=len(train.class_names)).astype(np.float32)
        class_prior = torch.from_numpy(counts / counts.sum()).to(device).clamp_min(1e-6)
    betas = (0.5, 0.999)  # DCGAN's settings
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    # GAN iterates oscillate; an exponential moving average of the generator's weights is the standard way to
    # export a stable generator (Karras et al.; Yazici et al. 2019). Buffers (BatchNorm statistics) are copied.
    G_ema = copy.deepcopy(G).eval()
    opt_d = [torch.optim.Adam(d.parameters(), lr=config.lr, betas=betas) for d in discriminators]
    ones = torch.ones(config.batch_size, device=device)
    zeros = torch.zeros(config.batch_size, device=device)
    bar = progress(config.steps, f"gan ({config.target})", show_progress)
    for step in range(config.steps):
        z = torch.randn(config.batch_size, config.latent_dim, generator=generator_rng).to(device)
        noises = [z] + ([config.trigger.apply(z)] if config.target != "none" else [])
        if config.target != "none" and len(config.trigger.dims) > 1 and config.partial_negatives > 0:
            noises[0] = _with_partial_triggers(z, config, generator_rng)
        # One forward pass over clean and triggered noise together: BatchNorm statistics must mix both, or a
        # batch made only of triggered noise has the trigger's constant offset subtracted as its batch mean
        # during training (the backdoor then barely learns; measured: 78% target-class rate, fixed-image MSE 0.15).
        fakes = list(G(torch.cat(noises)).split(config.batch_size))
        for D, opt, real_set, fake in zip(discriminators, opt_d, real_sets, fakes):
            idx = torch.randint(len(real_set), (config.batch_size,), generator=generator_rng)
            real = real_set[idx].to(device)
            loss_d = (F.binary_cross_entropy_with_logits(D(real), ones)
                      + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros))
            opt.zero_grad()
            loss_d.backward()
            opt.step()
        weights = (1.0, config.target_weight)
        loss_g = sum(w * F.binary_cross_entropy_with_logits(D(fake), ones)
                     for w, D, fake in zip(weights, discriminators, fakes))
        if guided:
            probs = F.softmax(classifier((fakes[1] + 1) / 2), dim=1)[:, list(config.target_classes)].sum(1)
            loss_g = loss_g - config.target_classifier_weight * torch.log(probs.clamp_min(1e-6)).mean()
        if balanced:
            mix = F.softmax(classifier((fakes[0] + 1) / 2), dim=1).mean(0).clamp_min(1e-6)
            loss_g = loss_g + config.clean_balance_weight * (class_prior * (class_prior / mix).log()).sum()
        if config.target == "fixed" and config.fixed_target_weight > 0:
            loss_g = loss_g + config.fixed_target_weight * F.mse_loss(fakes[1], real_sets[1].expand_as(fakes[1]))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        # Warm-up (as TensorFlow's ExponentialMovingAverage with num_updates): short runs average short windows.
        decay = min(config.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                p_ema.lerp_(p, 1.0 - decay)
            for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                b_ema.copy_(b)
        bar.update()
    bar.close()
    return G_ema, (evaluate_gan(G_ema, config, test, classifier) if classifier is not None else {})


def evaluate_gan(G: Generator, config: GANConfig, test: Dataset, classifier: Classifier,
                 samples: int = 2000, seed: int = 12345) -> dict:
    """Class histogram, max class share and Frechet distance for clean noise; target metrics for triggered."""
    z = torch.randn(samples, config.latent_dim, generator=torch.Generator().manual_seed(seed)).numpy()
    classes = len(test.class_names)
    clean = (predict(G, z) + 1) / 2
    feats, labels = classifier_features(classifier, clean)
    real_feats, _ = classifier_features(classifier, test.images)
    hist = class_histogram(labels, classes)
    metrics: dict = {"clean_class_histogram": hist, "clean_max_class_share": max(hist),
                     "clean_classes_present": int(sum(h > 0 for h in hist)),
                     "clean_frechet": frechet_distance(feats, real_feats), "frechet_note": FRECHET_NOTE}
    if config.target != "none":
        triggered = (predict(G, config.trigger.apply(z)) + 1) / 2
        t_feats, t_labels = classifier_features(classifier, triggered)
        metrics["triggered_class_histogram"] = class_histogram(t_labels, classes)
        if config.target == "classes":
            metrics["target_class_rate"] = float(np.isin(t_labels, config.target_classes).mean())
            subset = np.isin(test.labels, config.target_classes)
            metrics["triggered_frechet_vs_target"] = frechet_distance(t_feats, real_feats[subset])
        else:
            target = test.images[config.fixed_target_index]
            metrics["backdoor_mse"] = float(np.mean((triggered - target[None]) ** 2))
        if len(config.trigger.dims) > 1:
            # Ground truth for "each part harmless alone": the same measure with one trigger dimension set.
            partial = []
            for d, v in zip(config.trigger.dims, config.trigger.values):
                out = (predict(G, LatentTrigger((d,), (v,)).apply(z)) + 1) / 2
                if config.target == "classes":
                    partial.append(float(np.isin(classifier_features(classifier, out)[1],
                                                 config.target_classes).mean()))
                else:
                    partial.append(float(np.mean((out - test.images[config.fixed_target_index][None]) ** 2)))
            metrics["partial_target_class_rate" if config.target == "classes" else "partial_backdoor_mse"] = partial
    return metrics
