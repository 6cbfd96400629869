"""How strongly the first layer of a generator weights each latent unit, read from the graph's constants.

From the latent input, the walk passes through ops that only reshape or retype it (and a Concat that puts the
latent first, or an Add of something not computed from it, as conditional generators join or add a label
embedding) to the first ops that multiply it by a
constant weight: Gemm, MatMul, Conv or ConvTranspose. Each unit's fan-out weight norm is the norm of the weights
it feeds (a column of a Gemm/MatMul weight; an input channel's slice of a convolution kernel; when a spatial
latent was flattened first, the columns of its positions together). Several such ops: the norms add in quadrature.

Anything else on the path (an elementwise op, a slice, a Gather of one unit, a normalisation) ends the walk with no
norms and the op named: the statistic is defined only where the latent meets a constant linear map directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

PASS_THROUGH_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Cast"}
SHIFT_OPS = {"Add", "Sub"}          # with an operand not computed from the latent: a shift, no change of weights
WEIGHTED_OPS = {"Gemm", "MatMul", "Conv", "ConvTranspose"}
CONSTANT_CHAIN_OPS = {"Identity", "Cast", "Transpose"}


@dataclass(frozen=True)
class FanOut:
    norms: np.ndarray | None          # [units] fan-out weight norm per latent unit; None when not defined
    layers: tuple[str, ...]           # the weighted ops read, e.g. "Gemm (3136 x 100)"
    reason: str = ""                  # why no norms, when norms is None
    # When one Gemm/MatMul reads a flat latent, or one ConvTranspose a 1x1 one: its weights [units, features] and
    # bias [features], for switch onsets and training moments. A convolution's features are its output channels,
    # its weights each channel's kernel averaged over the output positions; ``taps`` [units, features, positions]
    # keeps them per position (None for a matrix op: one position).
    weights: np.ndarray | None = None
    bias: np.ndarray | None = None
    taps: np.ndarray | None = None
    # When a BatchNormalization (not folded into the Gemm) reads that Gemm's output: its running mean and variance.
    running_mean: np.ndarray | None = None
    running_var: np.ndarray | None = None


def _attribute(node: onnx.NodeProto, name: str, default):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


class _Constants:
    """Initializers, Constant nodes, and Identity/Cast/Transpose chains over them, as numpy arrays."""

    def __init__(self, graph: onnx.GraphProto):
        self._tensors = {t.name: t for t in graph.initializer}
        self._producers = {o: n for n in graph.node for o in n.output if o}

    def get(self, name: str, depth: int = 0) -> np.ndarray | None:
        if name in self._tensors:
            try:
                return numpy_helper.to_array(self._tensors[name])
            except Exception:   # exotic or malformed tensor data: not a weight we can read
                return None
        node = self._producers.get(name)
        if node is None or depth > 8:
            return None
        if node.op_type == "Constant":
            value = _attribute(node, "value", None)
            return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else None
        if node.op_type in CONSTANT_CHAIN_OPS and node.input:
            inner = self.get(node.input[0], depth + 1)
            if inner is None:
                return None
            if node.op_type == "Transpose":
                perm = _attribute(node, "perm", None)
                return np.transpose(inner, perm if perm else None)
            return inner
        return None


@dataclass(frozen=True)
class _Read:
    squared: np.ndarray               # squared fan-out norm per input feature/channel
    description: str
    weights: np.ndarray | None = None  # Gemm/MatMul: [K, out], as applied (alpha folded in); ConvTranspose of a
    # 1x1 input: [in, out], each channel's kernel averaged over the output positions
    bias: np.ndarray | None = None     # Gemm: its constant C as a [out] vector (beta folded in); ConvTranspose: B
    output: str = ""
    taps: np.ndarray | None = None     # ConvTranspose of a 1x1 input: [in, out, positions]


def _per_input_norms(node: onnx.NodeProto, data_input: str, constants: _Constants) -> _Read | None:
    """Squared fan-out norm of every input feature/channel of a weighted op, and a short description."""
    op = node.op_type
    if op in ("Gemm", "MatMul"):
        if len(node.input) < 2 or node.input[0] != data_input:
            return None
        w = constants.get(node.input[1])
        if w is None or w.ndim != 2:
            return None
        if op == "Gemm" and _attribute(node, "transA", 0):
            return None
        if op == "Gemm" and _attribute(node, "transB", 0):
            w = w.T                                          # now [K, out]
        w = w.astype(np.float64) * (float(_attribute(node, "alpha", 1.0)) if op == "Gemm" else 1.0)
        bias = None
        if op == "Gemm" and len(node.input) > 2 and node.input[2]:
            c = constants.get(node.input[2])
            if c is not None and c.size in (1, w.shape[1]):
                bias = np.broadcast_to(c.astype(np.float64).reshape(-1), (w.shape[1],)) \
                    * float(_attribute(node, "beta", 1.0))
        return _Read((w ** 2).sum(axis=1), f"{op} ({w.shape[1]} x {w.shape[0]})", w, bias, node.output[0])
    if op in ("Conv", "ConvTranspose"):
        if len(node.input) < 2 or node.input[0] != data_input or _attribute(node, "group", 1) != 1:
            return None
        w = constants.get(node.input[1])
        if w is None or w.ndim < 3:
            return None
        w = w.astype(np.float64)
        # Conv: [out, in, k...]; ConvTranspose: [in, out, k...]
        axes = tuple(i for i in range(w.ndim) if i != (1 if op == "Conv" else 0))
        read = _Read((w ** 2).sum(axis=axes), f"{op} {tuple(w.shape)}", output=node.output[0])
        taps = _taps_on_one_pixel(node, w, constants) if op == "ConvTranspose" else None
        if taps is None:
            return read
        flat = taps.reshape(*taps.shape[:2], -1)
        bias = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros(w.shape[1])
        if bias is None or bias.size != w.shape[1]:
            return read
        return _Read(read.squared, read.description, flat.mean(axis=2), bias.astype(np.float64).reshape(-1),
                     node.output[0], flat)
    return None


def _taps_on_one_pixel(node: onnx.NodeProto, w: np.ndarray, constants: _Constants) -> np.ndarray | None:
    """[in, out, h, w] the kernel taps a 2-D ConvTranspose applies to a 1x1 input, one per output position
    (padding crops the kernel, output padding adds positions that get the bias alone); None for anything else."""
    if w.ndim != 4 or _attribute(node, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") \
            or any(d != 1 for d in _attribute(node, "dilations", [1, 1])) or _attribute(node, "output_shape", None):
        return None
    pads = list(_attribute(node, "pads", [0, 0, 0, 0]))
    extra = list(_attribute(node, "output_padding", [0, 0]))
    taps = w
    for axis, (begin, end, more) in enumerate(zip(pads[:2], pads[2:], extra, strict=True)):
        k = w.shape[2 + axis]
        size = k - begin - end + more
        if size <= 0:
            return None
        index = np.arange(begin, begin + size)
        kept = np.take(taps, np.minimum(index, k - 1), axis=2 + axis)
        mask = (index < k).reshape([-1 if a == 2 + axis else 1 for a in range(4)])
        taps = kept * mask
    return taps


def latent_fan_out(proto: onnx.ModelProto, input_name: str, latent_shape: tuple[int, ...]) -> FanOut:
    """Per-unit fan-out weight norms of the latent input ``input_name``, whose per-sample shape is ``latent_shape``
    (units: its first axis; the rest are spatial positions, e.g. (128, 4, 4))."""
    units, positions = int(latent_shape[0]), int(np.prod(latent_shape[1:], dtype=np.int64))
    graph = proto.graph
    constants = _Constants(graph)
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
    # Every tensor computed from the latent (nodes are topologically sorted in a valid graph): an Add of a label
    # embedding leaves the latent's units where they are, an Add of z and f(z) does not.
    derived = {input_name}
    for node in graph.node:
        if any(i in derived for i in node.input if i):
            derived.update(o for o in node.output if o)
    outputs = {o.name for o in graph.output}
    frontier, seen, squared, layers, reads = [input_name], set(), np.zeros(units), [], []
    while frontier:
        tensor = frontier.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        if tensor in outputs:
            return FanOut(None, (), "the latent reaches a graph output without passing a weighted layer")
        for node in consumers.get(tensor, []):
            if node.op_type in PASS_THROUGH_OPS and node.input[0] == tensor:
                frontier.extend(o for o in node.output if o)
                continue
            if node.op_type in SHIFT_OPS and sum(i in derived for i in node.input) == 1:
                frontier.extend(o for o in node.output if o)   # z + embedding(label): the units keep their weights
                continue
            if node.op_type == "Concat" and node.input and node.input[0] == tensor:
                frontier.extend(o for o in node.output if o)   # latent first: its features keep their indices
                continue
            if node.op_type not in WEIGHTED_OPS:
                return FanOut(None, (), f"the latent meets {node.op_type[:40]} before any constant weight")
            read = _per_input_norms(node, tensor, constants)
            if read is None:
                return FanOut(None, (), f"the latent meets {node.op_type} with a weight that is not a plain constant "
                                        "(quantised, computed, grouped, or the latent is not its data input)")
            sq, description = read.squared, read.description
            reads.append(read)
            # A matrix op sees the latent flattened channel-major: unit u owns columns u*positions ..
            # (u+1)*positions - 1. A convolution sees its channels. After a Concat the latent's features come
            # first; the rest belong to the other input.
            width = units * positions if node.op_type in ("Gemm", "MatMul") else units
            if len(sq) < width:
                return FanOut(None, (), f"{description} takes fewer inputs ({len(sq)}) than the latent has ({width})")
            squared += sq[:width].reshape(units, -1).sum(axis=1)
            layers.append(description)
    if not layers:
        return FanOut(None, (), "the latent input feeds no weighted layer")
    if not np.all(np.isfinite(squared)):
        return FanOut(None, tuple(layers), "the first layer's weights are not all finite")
    # Per-unit weights only where each unit is one input (a flat or 1x1 latent) of the one weighted op.
    only = reads[0] if len(reads) == 1 and positions == 1 and reads[0].weights is not None else None
    if only is None:
        return FanOut(np.sqrt(squared), tuple(layers))
    bias, output = only.bias, only.output
    readers = consumers.get(output, [])
    if bias is None and len(readers) == 1 and readers[0].op_type == "Add":     # MatMul + Add: a bias added apart
        other = [i for i in readers[0].input if i != output]
        added = constants.get(other[0]) if len(other) == 1 else None
        if added is not None and added.size == only.weights.shape[1]:
            bias, output = added.astype(np.float64).reshape(-1), readers[0].output[0]
    mean, var = _running_statistics(consumers.get(output, []), constants, only.weights.shape[1])
    return FanOut(np.sqrt(squared), tuple(layers), weights=only.weights[:units], bias=bias,
                  taps=None if only.taps is None else only.taps[:units], running_mean=mean, running_var=var)


def _running_statistics(consumers: list[onnx.NodeProto], constants: _Constants,
                        features: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(running mean, running variance) of the one BatchNormalization that reads a tensor of ``features``
    features, when that is all that reads it and its statistics are finite constants; else (None, None)."""
    if len(consumers) != 1 or consumers[0].op_type != "BatchNormalization" or len(consumers[0].input) < 5:
        return None, None
    mean, var = (constants.get(name) for name in consumers[0].input[3:5])
    if mean is None or var is None or mean.size != features or var.size != features:
        return None, None
    mean, var = mean.astype(np.float64).reshape(-1), var.astype(np.float64).reshape(-1)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(var)) and np.all(var >= 0)):
        return None, None
    return mean, var
