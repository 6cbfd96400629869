"""Seed 003's model family: VAEs with KLD, MMD or SWT regularisers, their deterministic twins (DAE),
beta-TCVAE, and latent adversarial training (its Algorithm 1).

Only the decoder is exported: it is the part that sits behind the latent channel the paper attacks.

Loss = reconstruction (BCE summed over pixels, averaged over the batch) + weight * regulariser. A DAE shares the
encoder architecture but uses mu as the latent directly (no sampling) under the same regulariser; for KLD that
leaves 0.5 * ||mu||^2 (RAE-style). beta-TCVAE uses MI + beta * TC + dimension-wise KL (Chen et al. 2018).

Latent adversarial training (seed 003, Alg. 1, whose symbols were lost from our copy of the text; reconstructed
from its prose): after each regular step, ``adv_iterations`` times: find a PGD perturbation (L-inf, ``adv_eps``
in units of the prior std, ``adv_steps`` steps) of the encoded latent that maximises 1 - SSIM between the
decoder's clean and perturbed outputs, then update the decoder alone to reconstruct the input from the
perturbed latent (MSE).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from trainer.data import Dataset
from trainer.models import VAEDecoder, VAEEncoder
from trainer.regularizers import kld, mmd, swt, tc_decomposition
from trainer.training import minibatches, predict, progress, resolve_device, seed_everything

REGULARIZERS = ("kld", "mmd", "swt", "tc")
DEFAULT_WEIGHTS = {"kld": 1.0, "mmd": 200.0, "swt": 20.0, "tc": 1.0}


@dataclass
class VAEConfig:
    regularizer: str = "kld"
    deterministic: bool = False
    weight: float | None = None          # None = DEFAULT_WEIGHTS[regularizer]
    beta: float = 1.0                    # TC weight for regularizer == "tc"
    latent_dim: int = 10
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    adversarial: bool = False
    adv_eps: float = 0.5
    adv_steps: int = 5
    adv_iterations: int = 1
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.regularizer not in REGULARIZERS:
            raise ValueError(f"regularizer must be one of {REGULARIZERS}, got {self.regularizer!r}")
        if self.regularizer == "tc" and self.deterministic:
            raise ValueError("beta-TCVAE needs a stochastic encoder (its TC estimate uses q(z|x))")
        if self.weight is None:
            self.weight = DEFAULT_WEIGHTS[self.regularizer]

    @property
    def name(self) -> str:
        if self.regularizer == "tc":
            base = f"tcvae-beta{self.beta:g}"
        else:
            base = f"{self.regularizer}-{'dae' if self.deterministic else 'vae'}"
        return base + ("-adv" if self.adversarial else "")


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-r ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM with an 11x11 gaussian window (sigma 1.5), as in skimage's gaussian_weights mode."""
    channels = a.shape[1]
    w = _gaussian_window().to(a).expand(channels, 1, -1, -1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, w, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def latent_pgd(decoder: torch.nn.Module, z: torch.Tensor, eps: float, steps: int) -> torch.Tensor:
    """Untargeted L-inf PGD in latent space: maximise 1 - SSIM(D(z + delta), D(z)). Returns z + delta."""
    with torch.no_grad():
        reference = decoder(z)
    delta = torch.empty_like(z).uniform_(-eps, eps).requires_grad_(True)
    step = 2.5 * eps / steps
    for _ in range(steps):
        loss = (1 - ssim(decoder(z + delta), reference)).sum()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta += step * grad.sign()
            delta.clamp_(-eps, eps)
    return (z + delta).detach()


def _regulariser(config: VAEConfig, z, mu, logvar, dataset_size: int) -> torch.Tensor:
    if config.regularizer == "kld":
        return kld(mu, torch.zeros_like(logvar) if config.deterministic else logvar)
    if config.regularizer == "mmd":
        return mmd(z)
    if config.regularizer == "swt":
        return swt(z)
    mi, tc, dwkl = tc_decomposition(z, mu, logvar, dataset_size)
    return mi + config.beta * tc + dwkl


def train_vae(config: VAEConfig, train: Dataset, test: Dataset,
              show_progress: bool = True) -> tuple[VAEEncoder, VAEDecoder, dict]:
    generator = seed_everything(config.seed)
    device = resolve_device(config.device)
    channels, size, _ = train.shape
    enc = VAEEncoder(channels, size, config.latent_dim).to(device)
    dec = VAEDecoder(channels, size, config.latent_dim).to(device)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=config.lr)
    opt_dec = torch.optim.Adam(dec.parameters(), lr=config.lr)
    x_all = torch.from_numpy(train.images)
    steps = config.epochs * (len(train) // config.batch_size)
    bar = progress(steps, f"vae ({config.name})", show_progress)
    for _ in range(config.epochs):
        enc.train()
        dec.train()
        for idx in minibatches(len(train), config.batch_size, generator):
            x = x_all[idx].to(device)
            mu, logvar = enc(x)
            if config.deterministic:
                z = mu
            else:
                z = mu + torch.randn(mu.shape, generator=generator).to(device) * torch.exp(0.5 * logvar)
            recon = F.binary_cross_entropy(dec(z), x, reduction="sum") / len(x)
            loss = recon + config.weight * _regulariser(config, z, mu, logvar, len(train))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if config.adversarial:
                for _ in range(config.adv_iterations):
                    z_adv = latent_pgd(dec, mu.detach(), config.adv_eps, config.adv_steps)
                    adv_loss = F.mse_loss(dec(z_adv), x, reduction="sum") / len(x)
                    opt_dec.zero_grad()
                    adv_loss.backward()
                    opt_dec.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.1f}", refresh=False)
    bar.close()
    enc.eval()
    dec.eval()
    return enc, dec, evaluate_vae(enc, dec, test)


def evaluate_vae(enc: VAEEncoder, dec: VAEDecoder, test: Dataset) -> dict:
    """Reconstruction MSE through the posterior mean, and how well encoded latents match the N(0, I) prior."""
    mu = _encode_mean(enc, test.images)
    recon = predict(dec, mu)
    return {"recon_mse": float(np.mean((recon - test.images) ** 2)),
            "latent_mean_abs": float(np.abs(mu.mean(0)).mean()), "latent_std_mean": float(mu.std(0).mean())}


@torch.no_grad()
def _encode_mean(enc: VAEEncoder, x: np.ndarray) -> np.ndarray:
    return np.concatenate([enc(torch.from_numpy(x[i:i + 500]))[0].numpy() for i in range(0, len(x), 500)])
