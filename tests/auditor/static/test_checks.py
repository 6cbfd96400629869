"""Static checks: a hand-wired backdoor and private domains are flagged; clean exports are not."""

from __future__ import annotations

import onnx
import pytest

from auditor.records import Severity
from auditor.static.checks import input_dependent_control_flow, run_static_checks
from tests.auditor import builders


def _codes(findings):
    return {f.code: f for f in findings}


def test_wired_backdoor_flagged_high(tmp_path):
    """Where(Greater(z[7], 2.5), target, G(z)) is flagged as input-dependent control flow at high."""
    findings = _codes(run_static_checks(onnx.load(str(builders.wired_backdoor_generator(tmp_path / "w.onnx")))))
    f = findings["STATIC-CTRLFLOW-001"]
    assert f.severity == Severity.HIGH and {"Greater", "Where"} <= set(f.evidence["ops"])


def test_plain_generator_has_no_findings(tmp_path):
    """A plain MatMul/Tanh generator raises nothing."""
    assert run_static_checks(onnx.load(str(builders.generator(tmp_path / "g.onnx")))) == []


def test_comparison_on_weights_only_is_not_flagged():
    """Comparisons that never see the input (constant folding leftovers) are not input-dependent."""
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Greater", ["a", "b"], ["c"]), helper.make_node("Cast", ["c"], ["cf"], to=1),
         helper.make_node("Add", ["x", "cf"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("a", TensorProto.FLOAT, [1], [1.0]), helper.make_tensor("b", TensorProto.FLOAT, [1], [0.0])])
    assert input_dependent_control_flow(helper.make_model(graph)) == []


def test_custom_domain_flagged(tmp_path):
    """A private operator domain is a high finding (it needs native code shipped with the model)."""
    findings = _codes(run_static_checks(onnx.load(str(builders.custom_domain_generator(tmp_path / "c.onnx")))))
    assert findings["STATIC-DOMAIN-002"].severity == Severity.HIGH
    assert findings["STATIC-DOMAIN-002"].evidence["domain"] == "com.attacker"


def test_checker_failure_is_a_finding():
    """A graph that fails onnx.checker gives STATIC-CHECKER-001 rather than crashing."""
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    assert "STATIC-CHECKER-001" in _codes(run_static_checks(helper.make_model(graph)))


@pytest.mark.parametrize("name", ["ae_mnist_clean.onnx", "gan_mnist_classes.onnx", "vae_mnist_kld_vae.onnx"])
def test_trainer_exports_are_clean(fixtures_dir, name):
    """Our own torch exports raise no static finding (no false alarm from the exporter's idioms)."""
    findings = run_static_checks(onnx.load(str(fixtures_dir / name)))
    assert [f for f in findings if f.severity >= Severity.MEDIUM] == []
