"""Scoring generated images the way BAAAN does, without downloadable weights.

BAAAN reports FID with Inception features; Inception weights cannot be downloaded here, so the trainer trains
a small classifier on the same dataset and uses (a) its predicted class histogram (target-class rate for
class-subset backdoors, mode coverage for clean generators) and (b) a Frechet distance between Gaussian fits of
its 128-d penultimate features. Numbers from (b) are NOT comparable to published FIDs; every report says so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg

from trainer.data import Dataset
from trainer.models import Classifier
from trainer.training import minibatches, predict, progress, seed_everything

FRECHET_NOTE = ("Frechet distance in the 128-d feature space of the trainer's own classifier, not Inception "
                "(its weights cannot be downloaded here); not comparable to published FID values")


def train_classifier(train: Dataset, test: Dataset, *, epochs: int = 3, seed: int = 0,
                     show_progress: bool = True) -> tuple[Classifier, float]:
    generator = seed_everything(seed)
    channels, size, _ = train.shape
    model = Classifier(channels, size, len(train.class_names))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.from_numpy(train.images), torch.from_numpy(train.labels)
    steps = epochs * (len(train) // 64)
    bar = progress(steps, "classifier", show_progress)
    for _ in range(epochs):
        model.train()
        for idx in minibatches(len(train), 64, generator):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update()
    bar.close()
    accuracy = float((predict(model, test.images).argmax(1) == test.labels).mean())
    return model, accuracy


@torch.no_grad()
def classifier_features(model: Classifier, images01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(penultimate features, predicted labels) for images in [0, 1]."""
    model.eval()
    feats = predict(model.features, images01.astype(np.float32))
    labels = model.head(torch.from_numpy(feats)).argmax(1).numpy()
    return feats, labels


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussian fits of two feature sets (the FID formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    # A small ridge keeps sqrtm defined when ReLU features have dead (constant) dimensions.
    ridge = 1e-6 * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    covmean = linalg.sqrtm(cov_a @ cov_b)
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * covmean))


def class_histogram(labels: np.ndarray, classes: int) -> list[float]:
    return (np.bincount(labels, minlength=classes) / max(len(labels), 1)).round(4).tolist()
