"""Shared plumbing for the training loops: seeding, batching, progress bars, device choice."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator

import numpy as np
import torch
from tqdm import tqdm


def seed_everything(seed: int) -> torch.Generator:
    """Seeds python, numpy and torch; returns a torch generator for data order and noise."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
    return torch.device(device)


def minibatches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches of one shuffled epoch; the last short batch is dropped (BatchNorm dislikes tiny ones)."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start:start + batch_size]


def progress(total: int, description: str, enabled: bool = True) -> tqdm:
    return tqdm(total=total, desc=description, file=sys.stderr, disable=not enabled, leave=False,
                dynamic_ncols=True)


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, batch_size: int = 500,
            device: torch.device | None = None) -> np.ndarray:
    """Runs ``model`` in eval mode over a numpy batch, chunked."""
    model.eval()
    device = device or next(model.parameters()).device
    outs = [model(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu().numpy()
            for i in range(0, len(x), batch_size)]
    return np.concatenate(outs)
