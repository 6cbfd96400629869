"""The torch interpreter of ONNX graphs reproduces onnxruntime, operator by operator, and refuses what it can't."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

torch = pytest.importorskip("torch")

from auditor.gradients.onnx_torch import TorchGraph, UnsupportedGraph  # noqa: E402
from auditor.loading.session import make_session  # noqa: E402


def _model(nodes, inputs, output_shape_rank, initializers=(), opset=18) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * output_shape_rank)],
        initializer=[numpy_helper.from_array(np.asarray(v), n) for n, v in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def _agree(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    session, _ = make_session(model.SerializeToString(), device="cpu")
    TorchGraph(model).verify(session, feeds, rtol=1e-4, atol=1e-5)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(stride=st.integers(1, 3), kernel=st.integers(1, 4), pad_begin=st.integers(0, 2), pad_end=st.integers(0, 2),
       out_pad=st.integers(0, 2), dilation=st.integers(1, 2), group=st.sampled_from([1, 2]))
def test_conv_transpose_matches_onnxruntime(stride, kernel, pad_begin, pad_end, out_pad, dilation, group):
    """ConvTranspose with any strides, asymmetric pads, output padding, dilation and groups matches onnxruntime
    (the interpreter crops instead of using torch's symmetric padding)."""
    out_pad = min(out_pad, stride - 1)          # onnxruntime requires output_padding < stride
    full = (5 - 1) * stride + (kernel - 1) * dilation + 1 + out_pad
    if full - pad_begin - pad_end < 1:
        return
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[stride, stride],
                            pads=[pad_begin, pad_begin, pad_end, pad_end], output_padding=[out_pad, out_pad],
                            dilations=[dilation, dilation], group=group)
    model = _model([node], [("x", [None, 4, 5, 5])], 4,
                   [("w", _rand(4, 3, kernel, kernel, seed=1)), ("b", _rand(3 * group, seed=2))])
    _agree(model, {"x": _rand(2, 4, 5, 5)})


def test_conv_with_asymmetric_pads_and_groups_matches_onnxruntime():
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 1], pads=[0, 1, 2, 0], group=2)
    model = _model([node], [("x", [None, 4, 9, 9])], 4, [("w", _rand(6, 2, 3, 3, seed=1))])
    _agree(model, {"x": _rand(3, 4, 9, 9)})


def test_shape_arithmetic_and_layout_ops_match_onnxruntime():
    """A typical exporter tail: Gemm, Shape/Gather/Concat-built Reshape target, BatchNorm, Resize, Pad, Slice,
    Transpose and activations."""
    c = lambda name, value: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(  # noqa: E731
        np.asarray(value), name))
    nodes = [
        helper.make_node("Gemm", ["z", "w"], ["h"], transB=1, alpha=0.5),
        helper.make_node("Shape", ["z"], ["s"]), c("i0", np.array(0, dtype=np.int64)),
        helper.make_node("Gather", ["s", "i0"], ["n"]), c("ax", np.array([0], dtype=np.int64)),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]), c("rest", np.array([2, 3, 3], dtype=np.int64)),
        helper.make_node("Concat", ["n1", "rest"], ["shape"], axis=0),
        helper.make_node("Reshape", ["h", "shape"], ["r"]),
        helper.make_node("BatchNormalization", ["r", "g", "beta", "mu", "var"], ["bn"], epsilon=1e-3),
        helper.make_node("LeakyRelu", ["bn"], ["a"], alpha=0.2),
        c("scales", np.array([1, 1, 2, 2], dtype=np.float32)),
        helper.make_node("Resize", ["a", "", "scales"], ["up"], mode="nearest"),
        c("pads", np.array([0, 0, 1, 0, 0, 0, 0, 1], dtype=np.int64)),
        helper.make_node("Pad", ["up", "pads"], ["p"], mode="reflect"),
        c("st", np.array([1], dtype=np.int64)), c("en", np.array([6], dtype=np.int64)),
        c("axs", np.array([3], dtype=np.int64)),
        helper.make_node("Slice", ["p", "st", "en", "axs"], ["sl"]),
        helper.make_node("Transpose", ["sl"], ["t"], perm=[0, 2, 3, 1]),
        helper.make_node("Sigmoid", ["t"], ["y"]),
    ]
    inits = [("w", _rand(18, 5, seed=3)), ("g", _rand(2, seed=4)), ("beta", _rand(2, seed=5)),
             ("mu", _rand(2, seed=6)), ("var", np.abs(_rand(2, seed=7)) + 0.5)]
    _agree(_model(nodes, [("z", [None, 5])], 4, inits), {"z": _rand(4, 5)})


def test_gradients_flow_to_the_input():
    """Autograd reaches the latent through Gemm and Tanh: d/dz sum(tanh(W z)) = W^T (1 - tanh^2)."""
    w = _rand(3, 4, seed=8)
    model = _model([helper.make_node("MatMul", ["z", "w"], ["h"]), helper.make_node("Tanh", ["h"], ["y"])],
                   [("z", [None, 3])], 2, [("w", w)])
    z = torch.tensor(_rand(2, 3, seed=9), requires_grad=True)
    (y,) = TorchGraph(model)({"z": z})
    (grad,) = torch.autograd.grad(y.sum(), z)
    expected = (1 - np.tanh(z.detach().numpy() @ w) ** 2) @ w.T
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-5)


def test_unsupported_operator_is_refused_by_name():
    model = _model([helper.make_node("Hardmax", ["z"], ["y"])], [("z", [None, 3])], 2)
    with pytest.raises(UnsupportedGraph, match="Hardmax"):
        TorchGraph(model)


def test_verify_rejects_a_graph_that_evaluates_differently():
    """If the torch evaluation disagrees with onnxruntime (here: a tampered weight), verify refuses it."""
    model = _model([helper.make_node("MatMul", ["z", "w"], ["y"])], [("z", [None, 3])], 2, [("w", _rand(3, 2))])
    session, _ = make_session(model.SerializeToString(), device="cpu")
    graph = TorchGraph(model)
    graph.weights["w"] = graph.weights["w"] + 1.0
    with pytest.raises(UnsupportedGraph, match="does not match onnxruntime"):
        graph.verify(session, {"z": _rand(2, 3)})
