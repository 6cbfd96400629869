"""Fan-out weight norms of the latent: read exactly from every weighted op a generator may start with, refused
(with the op named) where the latent meets anything else first."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from auditor.static.latent_weights import latent_fan_out
from tests.auditor import builders

FLOAT = TensorProto.FLOAT


def _model(nodes, inits, latent_shape, out="y"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("z", FLOAT, ["N", *latent_shape])],
                              [helper.make_tensor_value_info(out, FLOAT, None)],
                              [numpy_helper.from_array(a.astype(np.float32), n) for n, a in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 12), st.integers(1, 9), st.booleans(), st.integers(0, 2**31 - 1))
def test_matrix_ops_give_column_norms(units, outputs, trans_b, seed):
    """Gemm (either weight layout) and MatMul: unit j's norm is the L2 norm of the weights it multiplies."""
    w = np.random.default_rng(seed).standard_normal((units, outputs))           # [K, out]
    expected = np.linalg.norm(w, axis=1)
    gemm = _model([helper.make_node("Gemm", ["z", "W"], ["y"], transB=int(trans_b))],
                  {"W": w.T if trans_b else w}, [units])
    matmul = _model([helper.make_node("MatMul", ["z", "W"], ["y"])], {"W": w}, [units])
    for model in (gemm, matmul):
        np.testing.assert_allclose(latent_fan_out(model, "z", (units,)).norms, expected, rtol=1e-5)


def test_conv_transpose_on_a_1x1_latent_reads_input_channels():
    """DCGAN's ConvTranspose on [B, d, 1, 1]: weight [d, out, k, k]; unit j owns slice j of axis 0."""
    w = np.random.default_rng(0).standard_normal((6, 4, 3, 3))
    model = _model([helper.make_node("ConvTranspose", ["z", "W"], ["y"])], {"W": w}, [6, 1, 1])
    np.testing.assert_allclose(latent_fan_out(model, "z", (6, 1, 1)).norms,
                               np.sqrt((w ** 2).sum(axis=(1, 2, 3))), rtol=1e-5)


def test_conv_on_a_spatial_latent_reads_input_channels():
    """Conv weight [out, in, k, k]: unit (channel) j owns slice j of axis 1."""
    w = np.random.default_rng(1).standard_normal((5, 3, 3, 3))
    model = _model([helper.make_node("Conv", ["z", "W"], ["y"], pads=[1, 1, 1, 1])], {"W": w}, [3, 4, 4])
    np.testing.assert_allclose(latent_fan_out(model, "z", (3, 4, 4)).norms,
                               np.sqrt((w ** 2).sum(axis=(0, 2, 3))), rtol=1e-5)


def test_flattened_spatial_latent_groups_its_positions():
    """[B, 2, 2, 2] flattened channel-major then MatMul: channel j owns rows 4j..4j+3 of the weight."""
    w = np.random.default_rng(2).standard_normal((8, 5))
    model = _model([helper.make_node("Flatten", ["z"], ["f"], axis=1), helper.make_node("MatMul", ["f", "W"], ["y"])],
                   {"W": w}, [2, 2, 2])
    expected = np.sqrt((w.reshape(2, 4, 5) ** 2).sum(axis=(1, 2)))
    np.testing.assert_allclose(latent_fan_out(model, "z", (2, 2, 2)).norms, expected, rtol=1e-5)


def test_concat_with_the_latent_first_keeps_its_columns():
    """A conditional generator's Concat([z, embedding]) then Gemm: the latent's units are the first columns."""
    w = np.random.default_rng(3).standard_normal((4 + 3, 6))
    emb = np.ones((1, 3))
    model = _model([helper.make_node("Concat", ["z", "E"], ["c"], axis=1),
                    helper.make_node("MatMul", ["c", "W"], ["y"])], {"W": w, "E": emb}, [4])
    np.testing.assert_allclose(latent_fan_out(model, "z", (4,)).norms, np.linalg.norm(w[:4], axis=1), rtol=1e-5)


def test_added_label_embedding_is_a_shift_but_z_plus_f_of_z_is_not(tmp_path):
    """z + E[label] then MatMul (builders.conditional_generator): read through the Add. z + z*s: refused."""
    model = onnx.load(str(builders.conditional_generator(tmp_path / "c.onnx", latent=8)))
    w = next(numpy_helper.to_array(t) for t in model.graph.initializer if t.name == "W")
    np.testing.assert_allclose(latent_fan_out(model, "z", (8,)).norms, np.linalg.norm(w, axis=1), rtol=1e-5)
    self_added = _model([helper.make_node("Mul", ["z", "s"], ["zs"]), helper.make_node("Add", ["z", "zs"], ["a"]),
                         helper.make_node("MatMul", ["a", "W"], ["y"])], {"s": np.ones(3), "W": np.ones((3, 2))},
                        [3])
    assert latent_fan_out(self_added, "z", (3,)).norms is None


def test_weight_through_a_transpose_and_two_consumers_add_in_quadrature():
    """A weight stored transposed behind a Transpose node is read; two weighted consumers add their norms."""
    a, b = np.random.default_rng(4).standard_normal((2, 3, 5))
    model = _model([helper.make_node("Transpose", ["At"], ["A"], perm=[1, 0]),
                    helper.make_node("MatMul", ["z", "A"], ["y1"]), helper.make_node("MatMul", ["z", "B"], ["y2"]),
                    helper.make_node("Add", ["y1", "y2"], ["y"])], {"At": a.T, "B": b}, [3])
    expected = np.sqrt((a ** 2).sum(1) + (b ** 2).sum(1))
    fan_out = latent_fan_out(model, "z", (3,))
    np.testing.assert_allclose(fan_out.norms, expected, rtol=1e-5)
    assert len(fan_out.layers) == 2


@pytest.mark.parametrize("first, reason", [("Mul", "Mul"), ("Gather", "Gather")])
def test_other_first_ops_are_refused_by_name(first, reason):
    """A per-unit scale or a Gather of one unit before any weight: no norms, and the op is named."""
    w = np.ones((3, 2))
    node = helper.make_node("Mul", ["z", "s"], ["m"]) if first == "Mul" else \
        helper.make_node("Gather", ["z", "i"], ["m"], axis=1)
    inits = {"W": w, "s": np.ones(3)} if first == "Mul" else {"W": w}
    nodes = [node, helper.make_node("MatMul", ["z", "W"], ["y"])]
    model = _model(nodes, inits, [3])
    if first == "Gather":
        model.graph.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "i"))
    fan_out = latent_fan_out(model, "z", (3,))
    assert fan_out.norms is None and reason in fan_out.reason


def test_quantised_or_nonfinite_weights_are_refused():
    """A weight behind DequantizeLinear is not read; NaN weights give no norms rather than NaN statistics."""
    q = helper.make_node("DequantizeLinear", ["Wq", "sc"], ["W"])
    model = _model([q, helper.make_node("MatMul", ["z", "W"], ["y"])], {"sc": np.array(0.1)}, [3])
    model.graph.initializer.append(numpy_helper.from_array(np.ones((3, 2), np.int8), "Wq"))
    fan_out = latent_fan_out(model, "z", (3,))
    assert fan_out.norms is None and "not a plain constant" in fan_out.reason
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    fan_out = latent_fan_out(_model([helper.make_node("MatMul", ["z", "W"], ["y"])], {"W": bad}, [3]), "z", (3,))
    assert fan_out.norms is None and "finite" in fan_out.reason


def test_latent_straight_to_output_is_refused():
    model = _model([helper.make_node("Identity", ["z"], ["y"])], {}, [3])
    assert latent_fan_out(model, "z", (3,)).norms is None


def test_builder_switch_unit_has_the_largest_norm(tmp_path):
    """The hand-made switch (relu_generator) puts a large first-layer weight on its unit, conv layout included."""
    for layout in ("flat", "conv"):
        model = onnx.load(str(builders.relu_generator(tmp_path / f"{layout}.onnx", switch_unit=9, layout=layout)))
        shape = (32,) if layout == "flat" else (32, 1, 1)
        assert int(np.argmax(latent_fan_out(model, "z", shape).norms)) == 9


def test_trained_fixture_trigger_unit_has_the_largest_norm(fixtures_dir):
    """The torch export of the fixed-image GAN: Gemm on the latent; its trigger unit carries the largest norm."""
    truth = next(e for e in json.loads((fixtures_dir / "manifest.json").read_text())["models"]
                 if e["file"] == "gan_mnist_fixed.onnx")["trigger"]
    model = onnx.load(str(fixtures_dir / "gan_mnist_fixed.onnx"))
    fan_out = latent_fan_out(model, model.graph.input[0].name, (100,))
    assert fan_out.layers[0].startswith("Gemm") and int(np.argmax(fan_out.norms)) == truth["dims"][0]


def test_running_statistics_of_an_unfolded_batchnorm_are_read(tmp_path):
    """A BatchNormalization right after the one Gemm: its running mean and variance come with the weights; folded
    into the Gemm (or with anything else reading the Gemm's output) there are none."""
    explicit = onnx.load(builders.batchnorm_generator(tmp_path / "e.onnx", latent=8, hidden=64, explicit=True))
    fan_out = latent_fan_out(explicit, "z", (8,))
    stats = {t.name: numpy_helper.to_array(t) for t in explicit.graph.initializer}
    np.testing.assert_allclose(fan_out.running_mean, stats["rm"], rtol=1e-6)
    np.testing.assert_allclose(fan_out.running_var, stats["rv"], rtol=1e-6)
    folded = latent_fan_out(onnx.load(builders.batchnorm_generator(tmp_path / "f.onnx", latent=8, hidden=64)),
                            "z", (8,))
    assert folded.bias is not None and folded.running_mean is None and folded.running_var is None
    explicit.graph.node.append(helper.make_node("Relu", ["h"], ["side"]))        # a second reader of the Gemm
    assert latent_fan_out(explicit, "z", (8,)).running_mean is None


@pytest.mark.parametrize("pads,output_padding,strides", [([0, 0, 0, 0], [0, 0], [1, 1]), ([1, 1, 1, 1], [0, 0], [2, 2]),
                                                         ([1, 0, 2, 1], [1, 1], [2, 2])])
def test_convtranspose_taps_on_a_one_pixel_latent_match_onnxruntime(pads, output_padding, strides):
    """DCGAN's first layer on z [B, d, 1, 1]: the taps read from the kernel, times z plus the bias, are what
    onnxruntime outputs at each position (padding crops, output padding adds bias-only positions)."""
    import onnxruntime as ort

    rng = np.random.default_rng(5)
    kernel, bias = rng.standard_normal((6, 3, 4, 4)), rng.standard_normal(3)
    node = helper.make_node("ConvTranspose", ["z", "K", "b"], ["y"], kernel_shape=[4, 4], pads=pads,
                            output_padding=output_padding, strides=strides)
    model = _model([node], {"K": kernel, "b": bias}, [6, 1, 1])
    model.ir_version = 8
    fan_out = latent_fan_out(model, "z", (6, 1, 1))
    z = rng.standard_normal((5, 6, 1, 1)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y = session.run(None, {"z": z})[0]                                       # [5, 3, h, w]
    expected = np.einsum("bu,ucs->bcs", z[:, :, 0, 0], fan_out.taps) + bias[None, :, None]
    np.testing.assert_allclose(y.reshape(5, 3, -1), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(fan_out.weights, fan_out.taps.mean(axis=2))


def test_matmul_with_a_separate_bias_add_gives_the_bias_and_its_batchnorm():
    """Keras-style exports: MatMul, then Add of a constant bias, then BatchNormalization: all three are read."""
    rng = np.random.default_rng(8)
    w, bias = rng.standard_normal((6, 40)), rng.standard_normal(40)
    mean, var = rng.standard_normal(40), rng.uniform(0.5, 2.0, 40)
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("BatchNormalization", ["hb", "g", "beta", "m", "v"], ["y"])]
    model = _model(nodes, {"W": w, "b": bias, "g": np.ones(40), "beta": np.zeros(40), "m": mean, "v": var}, [6])
    fan_out = latent_fan_out(model, "z", (6,))
    np.testing.assert_allclose(fan_out.weights, w, rtol=1e-6)
    np.testing.assert_allclose(fan_out.bias, bias, rtol=1e-6)
    np.testing.assert_allclose(fan_out.running_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(fan_out.running_var, var, rtol=1e-6)
