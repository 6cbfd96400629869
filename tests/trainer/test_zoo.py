"""The calibration zoo's specs: reproducible from (seed, count), restricted by family, extra GAN architecture
drawn only when asked (so every earlier zoo of a seed keeps its models)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from trainer.cli import cli
from trainer.zoo import FAMILIES, zoo_specs

DATASETS = ("mnist", "fashion_mnist")


def _family(spec) -> str:
    return spec.name.split("_", 2)[2].rsplit("_", 1 if spec.dataset == "mnist" else 2)[0].replace("_", "-")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 30))
def test_same_seed_same_zoo_and_defaults_unchanged(seed, count):
    """Reproducible, and passing the default families and no hidden layer draws exactly the default zoo."""
    default = zoo_specs(seed, count, DATASETS)
    assert [repr(s) for s in default] == [repr(s) for s in zoo_specs(seed, count, DATASETS)]
    explicit = zoo_specs(seed, count, DATASETS, FAMILIES, (0,))
    assert [repr(s) for s in explicit] == [repr(s) for s in default]
    for spec in default:
        assert _family(spec) in FAMILIES
        if spec.family == "gan":
            assert spec.config.hidden == 0
            if spec.config.trigger is not None:
                assert all(0 <= d < spec.config.latent_dim for d in spec.config.trigger.dims)
                assert all(1.5 <= abs(v) <= 2.5 or 3.0 <= abs(v) <= 6.0 for v in spec.config.trigger.values)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.sets(st.sampled_from(FAMILIES), min_size=1))
def test_families_restrict_the_draw(seed, families):
    specs = zoo_specs(seed, 20, DATASETS, tuple(sorted(families)))
    assert {_family(s) for s in specs} <= families


def test_gan_hidden_widths_are_drawn_from_the_given_set():
    specs = [s for s in zoo_specs(3, 40, DATASETS, ("gan-clean", "gan-backdoor"), (0, 128, 256))]
    widths = {s.config.hidden for s in specs}
    assert widths <= {0, 128, 256} and len(widths) > 1


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="families must be among"):
        zoo_specs(0, 3, DATASETS, ("gan-evil",))
    result = CliRunner().invoke(cli, ["zoo", "--families", "gan-evil", "--out", "unused"])
    assert result.exit_code == 2 and "families must be among" in result.output
