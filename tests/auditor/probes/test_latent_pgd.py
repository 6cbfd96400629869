"""Latent PGD: beats random noise, respects budgets, and ranks a fragile decoder below a robust one."""

from __future__ import annotations

import numpy as np
import pytest

from auditor.loading import load_model
from auditor.probes.base import ProbeContext
from auditor.probes.latent_pgd import LatentPGDProbe, PGDParams
from auditor.records import Severity, Status
from tests.auditor import builders

PARAMS = PGDParams(batch=4, steps=5, budgets=(0.05, 0.2, 0.5, 1.0))


def _run(path, params=PARAMS, seed=0):
    model = load_model(path, device="cpu")
    return LatentPGDProbe(params).run(model, ProbeContext(rng=np.random.default_rng(seed), max_rows=10**6)), model


def test_curves_metrics_and_attack_beats_random(tmp_path):
    """SSIM falls with eps; the attack hurts at least as much as random noise; metrics are in range."""
    result, model = _run(builders.generator(tmp_path / "g.onnx", image=(1, 16, 16)))
    assert result.status == Status.COMPLETED
    ssim_curve = result.curves["SSIM vs eps (attack)"].y
    assert ssim_curve[0] > ssim_curve[-1]
    assert result.metrics["aaddc_ssim"] <= result.metrics["aaddc_ssim_random"] + 0.02
    assert 0 <= result.metrics["aaddc_ssim"] <= 1 and 0 <= result.metrics["aaddc_mse"] <= 1
    assert result.images and next(iter(result.images.values())).startswith("data:image/png;base64,")


def test_fragile_generator_ranks_below_robust(tmp_path):
    """A generator with 10x larger weights (more sensitive to its latent) gets a lower AADDC."""
    robust = builders.generator(tmp_path / "r.onnx", image=(1, 16, 16))
    fragile = tmp_path / "f.onnx"
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(robust))
    w = model.graph.initializer[0]
    w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w) * 10, w.name))
    onnx.save(model, str(fragile))
    a, _ = _run(robust)
    b, _ = _run(fragile)
    assert b.metrics["aaddc_ssim"] < a.metrics["aaddc_ssim"]
    assert b.findings[0].severity >= a.findings[0].severity


def test_targeted_and_l2_modes_run(tmp_path):
    """Targeted (all-black) and L2 variants complete and report their mode."""
    path = builders.generator(tmp_path / "g.onnx", image=(1, 16, 16), activation="Sigmoid")
    result, _ = _run(path, PGDParams(batch=2, steps=3, budgets=(0.1, 0.5), norm="l2", targeted=True))
    assert result.findings[0].evidence["targeted"] is True and result.findings[0].evidence["norm"] == "l2"
    assert result.findings[0].severity in (Severity.INFO, Severity.LOW)


def test_bad_params_rejected():
    """Unknown norms and unsorted budgets are refused."""
    with pytest.raises(ValueError):
        PGDParams(norm="l1")
    with pytest.raises(ValueError):
        PGDParams(budgets=(0.5, 0.1))
