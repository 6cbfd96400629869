"""BAAAN GAN backdoor: two discriminators route triggered noise to the target."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.trainer.helpers import digits
from trainer.gan import GANConfig, train_gan
from trainer.training import predict
from trainer.triggers import LatentTrigger


@pytest.fixture(scope="module")
def data():
    return digits("train", 512), digits("test", 100)


def test_tiny_fixed_image_run_moves_triggered_outputs_to_target(data):
    """After a short run, triggered samples are much closer to the fixed target than clean samples are."""
    train, test = data
    trigger = LatentTrigger((15,), (3.0,))
    config = GANConfig(target="fixed", trigger=trigger, latent_dim=16, width=16, steps=150, batch_size=32,
                       fixed_target_index=0, lr=1e-3)
    G, _ = train_gan(config, train, test, classifier=None, show_progress=False)
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(1)).numpy()
    target = test.images[0] * 2 - 1
    clean_err = np.mean((predict(G, z) - target) ** 2)
    triggered_err = np.mean((predict(G, trigger.apply(z)) - target) ** 2)
    assert triggered_err < 0.5 * clean_err


def test_tiny_class_subset_run_trains_two_discriminators(data):
    """A class-subset run completes and its generator outputs stay in tanh range."""
    train, test = data
    config = GANConfig(target="classes", trigger=LatentTrigger((3,), (2.5,)), target_classes=(0, 1),
                       latent_dim=8, width=8, steps=20, batch_size=16)
    G, metrics = train_gan(config, train, test, classifier=None, show_progress=False)
    out = predict(G, np.random.default_rng(0).standard_normal((10, 8)).astype(np.float32))
    assert out.shape == (10, 1, 28, 28) and np.abs(out).max() <= 1.0
    assert metrics == {}


def test_trigger_outside_latent_rejected():
    """A trigger dimension beyond the latent size is a configuration error."""
    with pytest.raises(ValueError, match="outside"):
        GANConfig(target="classes", trigger=LatentTrigger((100,), (3.0,)), latent_dim=100)


def test_partial_trigger_negatives_set_one_dimension_only():
    """For a two-dimension trigger, partial negatives carry exactly one trigger value, on about the set share."""
    from trainer.gan import _with_partial_triggers

    config = GANConfig(target="fixed", trigger=LatentTrigger((2, 5), (4.0, -4.0)), latent_dim=8,
                       partial_negatives=0.5)
    z = torch.zeros(2000, 8)
    out = _with_partial_triggers(z, config, torch.Generator().manual_seed(0))
    hits = (out[:, 2] == 4.0).int() + (out[:, 5] == -4.0).int()
    assert hits.max() == 1
    assert 0.4 < hits.float().mean() < 0.6


@pytest.mark.parametrize("target, weights", [("classes", {"target_classifier_weight": 1.0}),
                                             ("fixed", {"clean_balance_weight": 1.0})])
def test_classifier_terms_need_the_classifier(data, target, weights):
    """Guidance and the clean-balance term (for any target, the fixed-image one included) need the classifier."""
    train, test = data
    config = GANConfig(target=target, trigger=LatentTrigger((3,), (2.5,)), latent_dim=8, width=8, steps=5,
                       batch_size=16, **weights)
    with pytest.raises(ValueError, match="classifier"):
        train_gan(config, train, test, classifier=None, show_progress=False)


def test_hidden_layer_adds_a_fully_connected_stage():
    from trainer.models import Generator

    plain, deep = Generator(16, 1, 28, 8), Generator(16, 1, 28, 8, hidden=32)
    linears = [m for m in deep.net if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2 and linears[0].out_features == 32 and linears[1].in_features == 32
    assert deep.eval()(torch.randn(2, 16)).shape == plain.eval()(torch.randn(2, 16)).shape == (2, 1, 28, 28)


def test_guided_run_with_clean_balance_trains_and_reports(data):
    """Classifier guidance with the clean-branch class-mix term runs end to end and reports target metrics."""
    from trainer.evaluate import train_classifier

    train, test = data
    classifier, _ = train_classifier(train, test, epochs=1, show_progress=False)
    config = GANConfig(target="classes", trigger=LatentTrigger((3,), (2.5,)), target_classes=(0, 1),
                       target_classifier_weight=1.0, clean_balance_weight=1.0, latent_dim=8, width=8, steps=5,
                       batch_size=16)
    _, metrics = train_gan(config, train, test, classifier=classifier, show_progress=False)
    assert 0.0 <= metrics["target_class_rate"] <= 1.0 and len(metrics["clean_class_histogram"]) == 10
