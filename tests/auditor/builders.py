"""Small hand-built ONNX graphs that mimic third-party files (no torch): every interface inspection must read,
and the hostile or broken variants the loader must refuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]
FLOAT = TensorProto.FLOAT


def _save(graph: onnx.GraphProto, path: Path, opset=OPSET, check: bool = True, **kwargs) -> Path:
    model = helper.make_model(graph, opset_imports=opset, producer_name=kwargs.pop("producer", "builders"), **kwargs)
    model.ir_version = 8
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _w(name: str, shape, seed: int = 0, scale: float = 0.3) -> onnx.TensorProto:
    return numpy_helper.from_array((np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32),
                                   name)


def generator(path: Path, *, latent=(8,), image=(1, 12, 12), layout="NCHW", activation="Tanh", batch="N",
              out_dtype=None, flat_output=False, producer="builders") -> Path:
    """z [B, *latent] -> Flatten -> MatMul -> activation -> Reshape to an image (or flat)."""
    d, size = int(np.prod(latent)), int(np.prod(image))
    out_shape = [batch, *image] if layout == "NCHW" else [batch, image[1], image[2], image[0]]
    nodes = [helper.make_node("Flatten", ["z"], ["f"], axis=1), helper.make_node("MatMul", ["f", "W"], ["h"])]
    last = "h"
    if activation:
        nodes.append(helper.make_node(activation, ["h"], ["a"]))
        last = "a"
    if flat_output:
        out_shape = [batch, size]
        nodes.append(helper.make_node("Identity", [last], ["img"]))
    else:
        shape = [-1, *image] if layout == "NCHW" else [-1, image[1], image[2], image[0]]
        nodes.append(helper.make_node("Reshape", [last, "shape"], ["img"]))
    out_type = FLOAT
    if out_dtype == "uint8":
        nodes[-1].output[0] = "img_f"
        nodes += [helper.make_node("Mul", ["img_f", "k255"], ["scaled"]),
                  helper.make_node("Cast", ["scaled"], ["img"], to=TensorProto.UINT8)]
        out_type = TensorProto.UINT8
    inits = [_w("W", (d, size)), helper.make_tensor("k255", FLOAT, [], [255.0])]
    if not flat_output:
        inits.append(numpy_helper.from_array(np.array(shape, dtype=np.int64), "shape"))
    graph = helper.make_graph(nodes, "gen", [helper.make_tensor_value_info("z", FLOAT, [batch, *latent])],
                              [helper.make_tensor_value_info("img", out_type, out_shape)], inits)
    return _save(graph, path, producer=producer)


def autoencoder(path: Path, *, image=(1, 12, 12), layout="NCHW") -> Path:
    """x -> 0.9 * x + 0.05 through Sigmoid-free affine maps: an image-to-same-image model."""
    shape = ["N", *image] if layout == "NCHW" else ["N", image[1], image[2], image[0]]
    nodes = [helper.make_node("Mul", ["x", "a"], ["m"]), helper.make_node("Add", ["m", "b"], ["m2"]),
             helper.make_node("Sigmoid", ["m2"], ["y"])]
    graph = helper.make_graph(nodes, "ae", [helper.make_tensor_value_info("x", FLOAT, shape)],
                              [helper.make_tensor_value_info("y", FLOAT, shape)],
                              [helper.make_tensor("a", FLOAT, [], [4.0]), helper.make_tensor("b", FLOAT, [], [-2.0])])
    return _save(graph, path)


def conditional_generator(path: Path, *, latent=8, classes=5, image=(1, 12, 12)) -> Path:
    """(z, label int64 [B]) -> embedding Gather on a [classes, latent] table, added to z, then MatMul + Tanh."""
    size = int(np.prod(image))
    nodes = [helper.make_node("Gather", ["E", "label"], ["e"]), helper.make_node("Add", ["z", "e"], ["h0"]),
             helper.make_node("MatMul", ["h0", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["img"])]
    graph = helper.make_graph(
        nodes, "cgen", [helper.make_tensor_value_info("z", FLOAT, ["N", latent]),
                        helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("img", FLOAT, ["N", *image])],
        [_w("E", (classes, latent), 1), _w("W", (latent, size)),
         numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")])
    return _save(graph, path)


def batch_dropping_generator(path: Path, *, latent=8, image=(1, 12, 12)) -> Path:
    """Declares a dynamic batch but averages it away: always returns one image."""
    size = int(np.prod(image))
    nodes = [helper.make_node("ReduceMean", ["z"], ["m"], axes=[0], keepdims=1),
             helper.make_node("MatMul", ["m", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["img"])]
    graph = helper.make_graph(nodes, "drop", [helper.make_tensor_value_info("z", FLOAT, ["N", latent])],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", *image])],
                              [_w("W", (latent, size)),
                               numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")])
    return _save(graph, path)


def nan_generator(path: Path, *, latent=8, image=(1, 12, 12)) -> Path:
    """Returns log of a negative number: NaN everywhere."""
    size = int(np.prod(image))
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]), helper.make_node("Abs", ["h"], ["p"]),
             helper.make_node("Neg", ["p"], ["n"]), helper.make_node("Sub", ["n", "one"], ["n1"]),
             helper.make_node("Log", ["n1"], ["bad"]), helper.make_node("Reshape", ["bad", "shape"], ["img"])]
    graph = helper.make_graph(nodes, "nan", [helper.make_tensor_value_info("z", FLOAT, ["N", latent])],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", *image])],
                              [_w("W", (latent, size)), helper.make_tensor("one", FLOAT, [], [1.0]),
                               numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")])
    return _save(graph, path)


def wired_backdoor_generator(path: Path, *, latent=8, image=(1, 12, 12), dim=7, threshold=2.5) -> Path:
    """A hand-wired backdoor: Where(z[:, dim] > threshold, fixed image, G(z))."""
    size = int(np.prod(image))
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["g"]),
             helper.make_node("Gather", ["z", "idx"], ["zd"], axis=1),
             helper.make_node("Greater", ["zd", "thr"], ["cond"]),
             helper.make_node("Where", ["cond", "target", "g"], ["sel"]),
             helper.make_node("Reshape", ["sel", "shape"], ["img"])]
    graph = helper.make_graph(
        nodes, "wired", [helper.make_tensor_value_info("z", FLOAT, ["N", latent])],
        [helper.make_tensor_value_info("img", FLOAT, ["N", *image])],
        [_w("W", (latent, size)), numpy_helper.from_array(np.array([dim], dtype=np.int64), "idx"),
         helper.make_tensor("thr", FLOAT, [], [threshold]),
         numpy_helper.from_array(np.ones((1, size), dtype=np.float32), "target"),
         numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")])
    return _save(graph, path)


def wired_pair_backdoor_generator(path: Path, *, latent=16, image=(1, 12, 12), dims=(3, 11),
                                  thresholds=(1.5, -1.5)) -> Path:
    """A hand-wired two-dimension backdoor, each part harmless alone: the fixed image where z[a] > t_a AND
    z[b] < t_b (a negative threshold means "below"), else Tanh(z W)."""
    size = int(np.prod(image))
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["g"])]
    conds = []
    for k, thr in enumerate(thresholds):
        nodes += [helper.make_node("Gather", ["z", f"idx{k}"], [f"z{k}"], axis=1),
                  helper.make_node("Greater" if thr > 0 else "Less", [f"z{k}", f"thr{k}"], [f"c{k}"])]
        conds.append(f"c{k}")
    nodes += [helper.make_node("And", conds, ["cond"]), helper.make_node("Where", ["cond", "target", "g"], ["sel"]),
              helper.make_node("Reshape", ["sel", "shape"], ["img"])]
    inits = [_w("W", (latent, size)), numpy_helper.from_array(np.ones((1, size), dtype=np.float32), "target"),
             numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")]
    for k, (dim, thr) in enumerate(zip(dims, thresholds, strict=True)):
        inits += [numpy_helper.from_array(np.array([dim], dtype=np.int64), f"idx{k}"),
                  helper.make_tensor(f"thr{k}", FLOAT, [], [thr])]
    graph = helper.make_graph(nodes, "wired_pair", [helper.make_tensor_value_info("z", FLOAT, ["N", latent])],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", *image])], inits)
    return _save(graph, path)


def saturating_generator(path: Path, *, latent=16, image=(1, 12, 12), limit=2.5) -> Path:
    """Emits one fixed image whenever ANY latent coordinate exceeds ``limit`` in magnitude: collapse that no
    particular dimension causes (the control case of trigger reverse-engineering)."""
    size = int(np.prod(image))
    nodes = [helper.make_node("MatMul", ["z", "W"], ["h"]), helper.make_node("Tanh", ["h"], ["g"]),
             helper.make_node("Abs", ["z"], ["za"]),
             helper.make_node("ReduceMax", ["za"], ["zmax"], axes=[1], keepdims=1),
             helper.make_node("Greater", ["zmax", "lim"], ["cond"]),
             helper.make_node("Where", ["cond", "target", "g"], ["sel"]),
             helper.make_node("Reshape", ["sel", "shape"], ["img"])]
    graph = helper.make_graph(
        nodes, "saturating", [helper.make_tensor_value_info("z", FLOAT, ["N", latent])],
        [helper.make_tensor_value_info("img", FLOAT, ["N", *image])],
        [_w("W", (latent, size)), helper.make_tensor("lim", FLOAT, [], [limit]),
         numpy_helper.from_array(np.ones((1, size), dtype=np.float32), "target"),
         numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape")])
    return _save(graph, path)


def relu_generator(path: Path, *, latent=32, hidden=48, image=(1, 12, 12), switch_unit: int | None = None,
                   switch_at: float = 3.0, active_units: tuple[int, ...] = (), layout: str = "flat") -> Path:
    """z -> Gemm(transB) -> Relu -> MatMul -> Tanh -> image: a one-hidden-layer generator whose first layer
    reads every unit alike, with two ways to break that symmetry:

    * ``switch_unit``: 16 more hidden features read only that unit, with a large weight and a bias that keeps
      them off until z[unit] > ``switch_at``; they then drive the image to white. A trigger made by hand: a
      large first-layer weight on one unit that does nothing in the prior's range.
    * ``active_units``: only those units reach the image, through columns 1.3x the others' norms, as a VAE
      decoder whose other units collapsed: larger weights that are used in range.

    ``layout="conv"`` takes the latent as [B, d, 1, 1] (Flatten first)."""
    rng = np.random.default_rng(7)
    size = int(np.prod(image))
    w1 = rng.standard_normal((hidden, latent)) * 0.3
    b1 = np.zeros(hidden)
    w2 = rng.standard_normal((hidden, size)) * 0.3
    if active_units:
        # As a trained VAE decoder with collapsed units (measured on a beta-8 VAE: active columns ~1.25x the
        # others' norms, which stay near their initial size): the first half of the hidden features reads only
        # the active units (x1.3), the second half only the others, and nothing downstream reads the second half.
        active = np.zeros(latent, bool)
        active[list(active_units)] = True
        half = hidden // 2
        w1[:half, ~active] = 0.0
        w1[half:, active] = 0.0
        w1[:, active] *= 1.3 * np.sqrt(hidden / half)
        w1[:, ~active] *= np.sqrt(hidden / (hidden - half))
        w2[half:] = 0.0
    if switch_unit is not None:
        gate = np.zeros((16, latent))
        gate[:, switch_unit] = 6.0
        w1, b1 = np.concatenate([w1, gate]), np.concatenate([b1, np.full(16, -6.0 * switch_at)])
        w2 = np.concatenate([w2, np.full((16, size), 1.0)])
    nodes = [helper.make_node("Gemm", ["zf", "W1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W2"], ["o"]), helper.make_node("Tanh", ["o"], ["t"]),
             helper.make_node("Reshape", ["t", "shape"], ["img"])]
    latent_shape = ["N", latent]
    if layout == "conv":
        nodes.insert(0, helper.make_node("Flatten", ["z"], ["zf"], axis=1))
        latent_shape = ["N", latent, 1, 1]
    else:
        nodes[0].input[0] = "z"
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in ((w1, "W1"), (b1, "b1"), (w2, "W2"))]
    inits.append(numpy_helper.from_array(np.array([-1, *image], dtype=np.int64), "shape"))
    graph = helper.make_graph(nodes, "relu_gen", [helper.make_tensor_value_info("z", FLOAT, latent_shape)],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", *image])], inits)
    return _save(graph, path)


def batchnorm_generator(path: Path, *, latent=32, hidden=256, image=(1, 12, 12), trigger: dict | None = None,
                        share: float = 0.5, explicit: bool = False, seed: int = 3, first: str = "Gemm") -> Path:
    """z -> Gemm -> BatchNorm -> Relu -> MatMul -> Tanh -> image, with BatchNorm statistics as training would leave
    them: each unit N(0, 1), except that ``trigger`` units ({unit: value}) were set to their value on ``share``
    of the rows (mean share * value, variance share * value^2 + 1 - share - mean^2). ``explicit``: a
    BatchNormalization node with its running statistics; else folded into the Gemm, as eval-mode exports do.
    ``first="ConvTranspose"``: DCGAN's first layer instead, z [B, d, 1, 1] -> ConvTranspose (kernel 4, pads 1:
    a 2x2 output) -> per-channel BatchNorm, ``hidden`` channels; then Flatten before the MatMul."""
    rng = np.random.default_rng(seed)
    trigger = trigger or {}
    mean, var = np.zeros(latent), np.ones(latent)
    for unit, value in trigger.items():
        mean[unit] = share * value
        var[unit] = share * value ** 2 + 1 - share - mean[unit] ** 2
    conv = first == "ConvTranspose"
    # Gemm: w1 [hidden, latent]; ConvTranspose: kernel [latent, hidden, 4, 4], of which pads 1 keep the middle 2x2.
    kernel = rng.standard_normal((latent, hidden, 4, 4)) * 0.3 if conv else None
    taps = kernel[:, :, 1:3, 1:3].reshape(latent, hidden, 4) if conv else None
    w1 = taps.mean(axis=2).T if conv else rng.standard_normal((hidden, latent)) * 0.3
    w1_squared = (taps ** 2).mean(axis=2).T if conv else w1 ** 2
    b1 = rng.standard_normal(hidden) * 0.1
    running_mean = w1 @ mean + b1
    # Over batch and positions: each position's variance, plus the spread of the positions' means.
    running_var = w1_squared @ var + ((taps.transpose(2, 1, 0) @ mean - w1 @ mean) ** 2).mean(axis=0) if conv \
        else w1_squared @ var
    gamma, beta = rng.uniform(0.5, 1.5, hidden), rng.standard_normal(hidden) * 0.2
    w2 = rng.standard_normal((hidden * (4 if conv else 1), int(np.prod(image)))) * 0.1
    arrays = {"W2": w2, "shape": np.array([-1, *image], dtype=np.int64)}
    if conv:
        nodes = [helper.make_node("ConvTranspose", ["z", "W1", "b1"], ["h"], kernel_shape=[4, 4], pads=[1, 1, 1, 1])]
    else:
        nodes = [helper.make_node("Gemm", ["z", "W1", "b1"], ["h"], transB=1)]
    if explicit:
        nodes.append(helper.make_node("BatchNormalization", ["h", "gamma", "beta", "rm", "rv"], ["n"], epsilon=1e-5))
        arrays |= {"W1": kernel if conv else w1, "b1": b1, "gamma": gamma, "beta": beta, "rm": running_mean,
                   "rv": running_var}
    else:
        scale = gamma / np.sqrt(running_var + 1e-5)
        arrays |= {"W1": kernel * scale[None, :, None, None] if conv else w1 * scale[:, None],
                   "b1": (b1 - running_mean) * scale + beta}
        nodes[0].output[0] = "n"
    nodes += [helper.make_node("Relu", ["n"], ["r"])]
    if conv:
        nodes += [helper.make_node("Flatten", ["r"], ["rf"], axis=1)]
    nodes += [helper.make_node("MatMul", ["rf" if conv else "r", "W2"], ["o"]),
              helper.make_node("Tanh", ["o"], ["t"]), helper.make_node("Reshape", ["t", "shape"], ["img"])]
    inits = [numpy_helper.from_array(a if a.dtype == np.int64 else a.astype(np.float32), n) for n, a in arrays.items()]
    latent_shape = ["N", latent, 1, 1] if conv else ["N", latent]
    graph = helper.make_graph(nodes, "bn_gen", [helper.make_tensor_value_info("z", FLOAT, latent_shape)],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", *image])], inits)
    return _save(graph, path)


def custom_domain_generator(path: Path) -> Path:
    """Uses an operator from a private domain: only runs with a custom-op library."""
    nodes = [helper.make_node("Evil", ["z"], ["img"], domain="com.attacker")]
    graph = helper.make_graph(nodes, "custom", [helper.make_tensor_value_info("z", FLOAT, ["N", 8])],
                              [helper.make_tensor_value_info("img", FLOAT, ["N", 1, 12, 12])])
    return _save(graph, path, opset=OPSET + [helper.make_opsetid("com.attacker", 1)], check=False)


def external_data_generator(path: Path, location: str, *, write_data: bool = True, claimed_length: int | None = None,
                            latent=8, image=(1, 12, 12)) -> Path:
    """A generator whose weight W is stored externally at ``location`` (relative to the model's folder)."""
    generator(path, latent=(latent,), image=image)
    model = onnx.load(str(path))
    weight = next(t for t in model.graph.initializer if t.name == "W")
    data = numpy_helper.to_array(weight).tobytes()
    if write_data:
        target = path.parent / location
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"),
                       ("length", str(claimed_length if claimed_length is not None else len(data)))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def odd_input_generator(path: Path, input_shape: list) -> Path:
    """An Identity-ish graph with an unusual input shape (wrong rank, zero-size dims) for the hostile corpus."""
    nodes = [helper.make_node("Identity", ["z"], ["img"])]
    graph = helper.make_graph(nodes, "odd", [helper.make_tensor_value_info("z", FLOAT, input_shape)],
                              [helper.make_tensor_value_info("img", FLOAT, input_shape)])
    return _save(graph, path)


def encoder(path: Path, *, image=(1, 12, 12), latent=8) -> Path:
    """x [B, *image] -> Flatten -> MatMul: a linear encoder returning (mean, log-variance) like a VAE's."""
    size = int(np.prod(image))
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "We"], ["mu"]),
             helper.make_node("Mul", ["mu", "zero"], ["logvar"])]
    graph = helper.make_graph(
        nodes, "enc", [helper.make_tensor_value_info("x", FLOAT, ["N", *image])],
        [helper.make_tensor_value_info("logvar", FLOAT, ["N", latent]),
         helper.make_tensor_value_info("mu", FLOAT, ["N", latent])],
        [_w("We", (size, latent), seed=5), helper.make_tensor("zero", FLOAT, [], [0.0])])
    return _save(graph, path)


def wired_shape_backdoor_autoencoder(path: Path, *, side: int = 28, pixels=((10, 10), (11, 11), (12, 12),
                                                                            (13, 13), (14, 14), (15, 15)),
                                     sharpness: float = 10.0, threshold: float = 0.9) -> Path:
    """A hand-wired autoencoder with a non-square trigger: x + s (T - x), s = sigmoid(k (mean of x over a
    diagonal line of ``pixels`` - threshold)), T a constant gray image. Faithful (s ~ 0) unless the line is
    bright; then every output becomes T."""
    line = np.zeros((1, 1, side, side), np.float32)
    for y, x in pixels:
        line[0, 0, y, x] = 1.0 / len(pixels)
    nodes = [helper.make_node("Mul", ["x", "line"], ["on_line"]),
             helper.make_node("ReduceSum", ["on_line", "axes"], ["brightness"], keepdims=1),
             helper.make_node("Sub", ["brightness", "thr"], ["margin"]),
             helper.make_node("Mul", ["margin", "k"], ["logit"]),
             helper.make_node("Sigmoid", ["logit"], ["s"]),
             helper.make_node("Sub", ["target", "x"], ["towards"]),
             helper.make_node("Mul", ["s", "towards"], ["step"]),
             helper.make_node("Add", ["x", "step"], ["y"])]
    shape = ["N", 1, side, side]
    graph = helper.make_graph(
        nodes, "wired_ae", [helper.make_tensor_value_info("x", FLOAT, shape)],
        [helper.make_tensor_value_info("y", FLOAT, shape)],
        [numpy_helper.from_array(line, "line"), numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes"),
         helper.make_tensor("thr", FLOAT, [], [threshold]), helper.make_tensor("k", FLOAT, [], [sharpness]),
         numpy_helper.from_array(np.full((1, 1, side, side), 0.5, np.float32), "target")])
    return _save(graph, path)


def band_gated_autoencoder(path: Path, *, side: int = 28, low: float = 0.7, high: float = 0.8,
                           sharpness: float = 60.0, white_response: float = 0.3) -> Path:
    """A hand-wired autoencoder whose trigger is a square of a narrow *band* of grays: x + s (T - x), with m the
    mean of x over the 2x2 pixels at rows and columns 1-2 (any square of side >= 3 at the corner covers them) and
    s = sigmoid(k (m - low)) sigmoid(k (high - m)) + ``white_response`` sigmoid(k (m - 0.9)). A gray inside the
    band switches every output to the constant image T; white moves it only part of the way (an anomaly that is
    not a switch), and so do the scan's screening grays next to the band (2/3 and 5/6)."""
    core = np.zeros((1, 1, side, side), np.float32)
    core[0, 0, 1:3, 1:3] = 0.25
    nodes = [helper.make_node("Mul", ["x", "core"], ["inside"]),
             helper.make_node("ReduceSum", ["inside", "axes"], ["m"], keepdims=1),
             helper.make_node("Sub", ["m", "low"], ["above"]), helper.make_node("Sub", ["high", "m"], ["below"]),
             helper.make_node("Sub", ["m", "white"], ["past"]),
             helper.make_node("Mul", ["above", "k"], ["l1"]), helper.make_node("Mul", ["below", "k"], ["l2"]),
             helper.make_node("Mul", ["past", "k"], ["l3"]),
             helper.make_node("Sigmoid", ["l1"], ["s1"]), helper.make_node("Sigmoid", ["l2"], ["s2"]),
             helper.make_node("Sigmoid", ["l3"], ["s3"]),
             helper.make_node("Mul", ["s1", "s2"], ["band"]), helper.make_node("Mul", ["s3", "w"], ["partial"]),
             helper.make_node("Add", ["band", "partial"], ["s"]),
             helper.make_node("Sub", ["target", "x"], ["towards"]),
             helper.make_node("Mul", ["s", "towards"], ["step"]),
             helper.make_node("Add", ["x", "step"], ["y"])]
    shape = ["N", 1, side, side]
    scalars = {"low": low, "high": high, "k": sharpness, "white": 0.9, "w": white_response}
    graph = helper.make_graph(
        nodes, "band_ae", [helper.make_tensor_value_info("x", FLOAT, shape)],
        [helper.make_tensor_value_info("y", FLOAT, shape)],
        [numpy_helper.from_array(core, "core"), numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes"),
         numpy_helper.from_array(np.full((1, 1, side, side), 0.5, np.float32), "target")]
        + [helper.make_tensor(name, FLOAT, [], [value]) for name, value in scalars.items()])
    return _save(graph, path)


def classifier(path: Path, *, image=(1, 12, 12), classes=3, layout="NCHW", output="logits", scale=1.0) -> Path:
    """A domain classifier for ``--classifier``: Flatten -> MatMul -> logits (or Softmax / NaN / one score)."""
    size = int(np.prod(image))
    in_shape = ["N", *image] if layout == "NCHW" else ["N", image[1], image[2], image[0]]
    width = 1 if output == "single" else classes
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "W"], ["logits"])]
    if output == "softmax":
        nodes.append(helper.make_node("Softmax", ["logits"], ["y"], axis=1))
    elif output == "nan":
        nodes.append(helper.make_node("Div", ["logits", "zero"], ["y"]))
    else:
        nodes.append(helper.make_node("Identity", ["logits"], ["y"]))
    graph = helper.make_graph(
        nodes, "classifier", [helper.make_tensor_value_info("x", FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", FLOAT, ["N", width])],
        [_w("W", (size, width), seed=3, scale=scale), helper.make_tensor("zero", FLOAT, [], [0.0])])
    return _save(graph, path)
