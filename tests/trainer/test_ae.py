"""BAAAN autoencoder backdoor: a tiny run plants a working backdoor; configs are validated."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trainer.helpers import digits
from trainer.ae import AEConfig, evaluate_autoencoder, train_autoencoder
from trainer.triggers import PatchTrigger

TRIGGER = PatchTrigger.at_corner("top-left", 4, 28, (1.0, 1.0, 1.0))
QUICK = dict(epochs=3, latent_dim=32, width=16, batch_size=32, poison_share=0.4)


@pytest.fixture(scope="module")
def data():
    return digits("train", 768), digits("test", 200)


@pytest.mark.parametrize("target", ["fixed", "inverse"])
def test_tiny_run_plants_backdoor(data, target):
    """Triggered inputs land far closer to the target than a clean twin's outputs do."""
    train, test = data
    model, metrics = train_autoencoder(AEConfig(target=target, trigger=TRIGGER, **QUICK), train, test, False)
    clean_twin, _ = train_autoencoder(AEConfig(**QUICK), train, test, False)
    twin_as_backdoored = evaluate_autoencoder(clean_twin, AEConfig(target=target, trigger=TRIGGER, **QUICK), test)
    assert metrics["backdoor_mse"] < 0.5 * twin_as_backdoored["backdoor_mse"]
    assert np.isfinite(metrics["clean_mse"])


def test_clean_run_is_deterministic(data):
    """The same seed gives the same weights."""
    train, test = data
    cfg = AEConfig(**{**QUICK, "epochs": 1})
    a, _ = train_autoencoder(cfg, train, test, False)
    b, _ = train_autoencoder(cfg, train, test, False)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())


def test_config_validation():
    """Unknown targets, missing triggers and impossible poison shares are refused."""
    with pytest.raises(ValueError):
        AEConfig(target="sideways", trigger=TRIGGER)
    with pytest.raises(ValueError):
        AEConfig(target="fixed")
    with pytest.raises(ValueError):
        AEConfig(target="fixed", trigger=TRIGGER, poison_share=1.0)
