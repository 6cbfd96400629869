"""The networks of the seed papers, sized to train on two CPU cores in minutes.

* ``ConvAutoencoder``: BAAAN's autoencoder target (a compressive conv AE, sigmoid output in [0, 1]).
* ``Generator`` / ``Discriminator``: a DCGAN pair (tanh output in [-1, 1]), BAAAN's GAN target.
* ``VAEEncoder`` / ``VAEDecoder``: seed 003's framework: 4 conv layers of 32, 64, 128, 64 channels, each with
  BatchNorm and LeakyReLU; the decoder mirrors it. The encoder returns (mu, logvar); a deterministic twin
  ignores logvar.
* ``Classifier``: a small CNN the trainer trains itself to score generated digits (no downloadable weights).

All spatial sizes must be divisible by 4 (28 and 32 are).
"""

from __future__ import annotations

import torch
from torch import nn


def _check_size(image_size: int) -> int:
    if image_size % 4:
        raise ValueError(f"image size must be divisible by 4, got {image_size}")
    return image_size // 4


class ConvAutoencoder(nn.Module):
    """Conv encoder (``downsamples`` stride-2 convs, channels doubling from ``width``) -> linear latent -> mirror."""

    def __init__(self, channels: int = 1, image_size: int = 28, latent_dim: int = 32, width: int = 32,
                 downsamples: int = 2):
        super().__init__()
        if downsamples not in (2, 3):
            raise ValueError(f"downsamples must be 2 or 3, got {downsamples}")
        s = _check_size(image_size)
        if downsamples == 3:
            s = (s + 1) // 2
        widths = [width * 2 ** k for k in range(downsamples)]
        enc: list[nn.Module] = []
        for c_in, c_out in zip([channels, *widths[:-1]], widths):
            enc += [nn.Conv2d(c_in, c_out, 4 if c_in == channels or downsamples == 2 else 3, 2, 1), nn.LeakyReLU(0.2)]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(widths[-1] * s * s, latent_dim))
        dec: list[nn.Module] = [nn.Linear(latent_dim, widths[-1] * s * s), nn.LeakyReLU(0.2),
                                nn.Unflatten(1, (widths[-1], s, s))]
        for c_in, c_out in zip(widths[::-1], [*widths[::-1][1:], 16]):
            dec += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.2)]
        # A per-pixel hidden layer (1x1 conv) before the output: cheap, and it lets one decoder produce
        # both an image and a pixel-wise function of it (BAAAN's inverse target) without starving either.
        self.decoder = nn.Sequential(*dec, nn.Conv2d(16, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class Generator(nn.Module):
    """DCGAN generator; ``hidden`` > 0 adds a fully connected layer of that width before the projection."""

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, width: int = 32,
                 hidden: int = 0):
        super().__init__()
        s = _check_size(image_size)
        mlp: list[nn.Module] = [nn.Linear(latent_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU()] if hidden else []
        self.net = nn.Sequential(
            *mlp, nn.Linear(hidden or latent_dim, 2 * width * s * s), nn.BatchNorm1d(2 * width * s * s), nn.ReLU(),
            nn.Unflatten(1, (2 * width, s, s)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 28, width: int = 32):
        super().__init__()
        s = _check_size(image_size)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * s * s, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


def _block(conv: nn.Module, channels: int) -> list[nn.Module]:
    return [conv, nn.BatchNorm2d(channels), nn.LeakyReLU(0.2)]


class VAEEncoder(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 28, latent_dim: int = 10):
        super().__init__()
        s = _check_size(image_size)
        self.s = (s + 1) // 2  # third conv halves 7 -> 4 (28 px) or 8 -> 4 (32 px)
        self.net = nn.Sequential(
            *_block(nn.Conv2d(channels, 32, 4, 2, 1), 32), *_block(nn.Conv2d(32, 64, 4, 2, 1), 64),
            *_block(nn.Conv2d(64, 128, 3, 2, 1), 128), *_block(nn.Conv2d(128, 64, 3, 1, 1), 64), nn.Flatten())
        self.mu = nn.Linear(64 * self.s * self.s, latent_dim)
        self.logvar = nn.Linear(64 * self.s * self.s, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.net(x)
        return self.mu(h), self.logvar(h).clamp(-10, 10)


class VAEDecoder(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 28, latent_dim: int = 10):
        super().__init__()
        s = _check_size(image_size)
        t = (s + 1) // 2
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 64 * t * t), nn.Unflatten(1, (64, t, t)),
            *_block(nn.ConvTranspose2d(64, 128, 3, 1, 1), 128),
            *_block(nn.ConvTranspose2d(128, 64, 3, 2, 1, output_padding=0 if s % 2 else 1), 64),
            *_block(nn.ConvTranspose2d(64, 32, 4, 2, 1), 32),
            nn.ConvTranspose2d(32, channels, 4, 2, 1), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Classifier(nn.Module):
    def __init__(self, channels: int = 1, image_size: int = 28, classes: int = 10):
        super().__init__()
        s = _check_size(image_size)
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * s * s, 128), nn.ReLU())
        self.head = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
