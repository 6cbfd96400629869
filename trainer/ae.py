"""BAAAN autoencoder backdoor (seed 000, section 3): poisoned batches carry the trigger and the target as label.

For a share of batches the inputs get the trigger square and the loss compares the output with the target
(a fixed image, or the inverse of the triggered input) instead of with the input. A clean twin trains on the
same data order with the same seed and no poisoned batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from trainer.data import Dataset
from trainer.models import ConvAutoencoder
from trainer.training import minibatches, predict, progress, resolve_device, seed_everything
from trainer.triggers import PatchTrigger

TARGETS = ("none", "fixed", "inverse")


@dataclass
class AEConfig:
    target: str = "none"                      # none = clean model
    trigger: PatchTrigger | None = None
    poison_share: float = 0.5                 # share of batches that are poisoned
    fixed_target_index: int = 0               # test-set image used as the fixed target
    latent_dim: int = 32
    width: int = 32
    downsamples: int = 2
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    loss: str = "bce"                         # BAAAN: BCE for MNIST, MSE for CIFAR/CelebA
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.target != "none" and self.trigger is None:
            raise ValueError("a backdoored autoencoder needs a trigger")
        if not 0.0 <= self.poison_share < 1.0:
            raise ValueError(f"poison share must be in [0, 1), got {self.poison_share}")


def backdoor_target(config: AEConfig, triggered: torch.Tensor, fixed: torch.Tensor) -> torch.Tensor:
    """The output the backdoor should produce for triggered inputs (BAAAN: inverse of the backdoored image)."""
    if config.target == "inverse":
        return 1.0 - triggered
    return fixed.expand_as(triggered)


def train_autoencoder(config: AEConfig, train: Dataset, test: Dataset,
                      show_progress: bool = True) -> tuple[ConvAutoencoder, dict]:
    generator = seed_everything(config.seed)
    device = resolve_device(config.device)
    channels, size, _ = train.shape
    model = ConvAutoencoder(channels, size, config.latent_dim, config.width, config.downsamples).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    x_all = torch.from_numpy(train.images)
    fixed = torch.from_numpy(test.images[config.fixed_target_index:config.fixed_target_index + 1]).to(device)
    loss_fn = F.binary_cross_entropy if config.loss == "bce" else F.mse_loss
    steps = config.epochs * (len(train) // config.batch_size)
    poison_draws = torch.rand(steps, generator=generator)
    # Cosine decay: the clean twin and the backdoored model both converge, so their clean-MSE gap measures
    # the backdoor's cost rather than how far each got.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    bar = progress(steps, f"autoencoder ({config.target})", show_progress)
    step = 0
    for _ in range(config.epochs):
        model.train()
        for idx in minibatches(len(train), config.batch_size, generator):
            x = x_all[idx].to(device)
            if config.target != "none" and poison_draws[step] < config.poison_share:
                x_in = config.trigger.apply(x)
                y = backdoor_target(config, x_in, fixed)
            else:
                x_in, y = x, x
            loss = loss_fn(model(x_in), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    bar.close()
    model.eval()
    return model, evaluate_autoencoder(model, config, test)


def evaluate_autoencoder(model: torch.nn.Module, config: AEConfig, test: Dataset) -> dict:
    """BAAAN's metrics: model utility (clean MSE) and, when backdoored, backdoor error (MSE vs target)."""
    x = test.images
    metrics = {"clean_mse": float(np.mean((predict(model, x) - x) ** 2))}
    if config.target != "none":
        triggered = config.trigger.apply(x)
        out = predict(model, triggered)
        if config.target == "inverse":
            target = 1.0 - triggered
        else:
            target = np.broadcast_to(x[config.fixed_target_index:config.fixed_target_index + 1], x.shape)
        metrics["backdoor_mse"] = float(np.mean((out - target) ** 2))
    return metrics
