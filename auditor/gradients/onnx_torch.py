"""An ONNX graph evaluated by torch, so exact gradients can flow through any generator we can read.

Written here rather than taken from onnx2torch / onnx2pytorch because both pull torchvision, whose wheel breaks
beside the CPU build of torch 2.13, and onnx2torch only converts opset <= 17. This is an interpreter, not a
converter: it walks the (already topologically sorted) nodes with torch functions, so shape arithmetic runs on
real tensors and needs no constant folding. It covers the operators that generators, decoders and autoencoders
exported by torch, tf2onnx and keras2onnx use; any other operator is refused up front with its name
(``UnsupportedGraph``), and ``TorchGraph.verify`` compares it with onnxruntime before anyone trusts a gradient.

Imports torch: only ``auditor.gradients.exact`` loads this module, and only when the user asked for exact
gradients.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from auditor.errors import AuditorError


class UnsupportedGraph(AuditorError):
    """The graph uses an operator or attribute this interpreter does not evaluate."""


_DTYPES = {
    onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16, onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32, onnx.TensorProto.INT8: torch.int8, onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.BOOL: torch.bool,
}


def _attrs(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        out[a.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _ints(t: torch.Tensor | None) -> list[int] | None:
    return None if t is None else [int(v) for v in t.reshape(-1).tolist()]


def _axes(inputs, attrs, position: int = 1) -> list[int] | None:
    if len(inputs) > position and inputs[position] is not None:
        return _ints(inputs[position])
    return list(attrs["axes"]) if "axes" in attrs else None


def _unary(fn) -> Callable:
    return lambda inputs, attrs: fn(inputs[0])


def _binary(fn) -> Callable:
    return lambda inputs, attrs: fn(inputs[0], inputs[1])


def _div(a, b):
    if not a.is_floating_point() and not b.is_floating_point():
        return torch.div(a, b, rounding_mode="trunc")
    return a / b


def _spatial_pads(attrs, rank: int) -> tuple[list[int], list[int]]:
    if attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise UnsupportedGraph(f"auto_pad={attrs['auto_pad']} is not supported")
    pads = list(attrs.get("pads", [0] * (2 * rank)))
    return pads[:rank], pads[rank:]


def _conv(inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    rank = w.dim() - 2
    begin, end = _spatial_pads(attrs, rank)
    if begin != end:
        x = F.pad(x, [p for i in reversed(range(rank)) for p in (begin[i], end[i])])
        begin = [0] * rank
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    return conv(x, w, b, stride=attrs.get("strides", [1] * rank), padding=begin,
                dilation=attrs.get("dilations", [1] * rank), groups=attrs.get("group", 1))


def _conv_transpose(inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    rank = w.dim() - 2
    if "output_shape" in attrs:
        raise UnsupportedGraph("ConvTranspose with output_shape is not supported")
    begin, end = _spatial_pads(attrs, rank)
    conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
    # No padding in the call, then crop: handles asymmetric pads with ONNX's exact output-size rule.
    y = conv(x, w, b, stride=attrs.get("strides", [1] * rank), padding=0,
             output_padding=attrs.get("output_padding", [0] * rank), groups=attrs.get("group", 1),
             dilation=attrs.get("dilations", [1] * rank))
    index = [slice(None), slice(None)] + [slice(begin[i], y.shape[2 + i] - end[i]) for i in range(rank)]
    return y[tuple(index)]


def _gemm(inputs, attrs):
    a, b = inputs[0], inputs[1]
    a = a.t() if attrs.get("transA", 0) else a
    b = b.t() if attrs.get("transB", 0) else b
    y = attrs.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + attrs.get("beta", 1.0) * inputs[2]
    return y


def _reshape(inputs, attrs):
    x, shape = inputs[0], _ints(inputs[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _flatten(inputs, attrs):
    x = inputs[0]
    axis = attrs.get("axis", 1)
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _unsqueeze(inputs, attrs):
    x, axes = inputs[0], _axes(inputs, attrs)
    rank = x.dim() + len(axes)
    for a in sorted(a % rank for a in axes):
        x = x.unsqueeze(a)
    return x


def _squeeze(inputs, attrs):
    x, axes = inputs[0], _axes(inputs, attrs)
    if axes is None:
        return x.squeeze()
    for a in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


def _gather(inputs, attrs):
    x, idx = inputs[0], inputs[1].long()
    axis = attrs.get("axis", 0) % x.dim()
    flat = torch.remainder(idx.reshape(-1), x.shape[axis])
    out = x.index_select(axis, flat)
    return out.reshape((*x.shape[:axis], *idx.shape, *x.shape[axis + 1:]))


def _slice(inputs, attrs):
    x = inputs[0]
    starts, ends = _ints(inputs[1]), _ints(inputs[2])
    axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
    steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st <= 0:
            raise UnsupportedGraph("Slice with a non-positive step is not supported")
        size = x.shape[a]
        s = max(0, min(size, s + size if s < 0 else s))
        e = max(0, min(size, e + size if e < 0 else e))
        index[a % x.dim()] = slice(s, e, st)
    return x[tuple(index)]


def _resize(inputs, attrs):
    x = inputs[0]
    mode = attrs.get("mode", "nearest")
    scales = inputs[2] if len(inputs) > 2 and inputs[2] is not None and inputs[2].numel() else None
    sizes = inputs[3] if len(inputs) > 3 and inputs[3] is not None and inputs[3].numel() else None
    if sizes is not None:
        size = _ints(sizes)[2:]
    elif scales is not None:
        size = [int(math.floor(n * float(s))) for n, s in zip(x.shape[2:], scales.reshape(-1).tolist()[2:])]
    else:
        raise UnsupportedGraph("Resize without scales or sizes")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    if mode == "linear" and x.dim() == 4:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=transform == "align_corners")
    raise UnsupportedGraph(f"Resize mode {mode} on rank {x.dim()} is not supported")


def _upsample(inputs, attrs):
    x = inputs[0]
    scales = inputs[1].reshape(-1).tolist() if len(inputs) > 1 else attrs["scales"]
    size = [int(math.floor(n * float(s))) for n, s in zip(x.shape[2:], scales[2:])]
    return F.interpolate(x, size=size, mode="nearest")


def _pad(inputs, attrs):
    x = inputs[0]
    pads = _ints(inputs[1]) if len(inputs) > 1 else list(attrs["pads"])
    value = float(inputs[2].reshape(-1)[0]) if len(inputs) > 2 and inputs[2] is not None else 0.0
    rank = x.dim()
    torch_pads = [p for i in reversed(range(rank)) for p in (pads[i], pads[i + rank])]
    while len(torch_pads) > 2 and torch_pads[-1] == 0 and torch_pads[-2] == 0:
        torch_pads = torch_pads[:-2]
    mode = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}[attrs.get("mode", "constant")]
    return F.pad(x, torch_pads, mode=mode, value=value) if mode == "constant" else F.pad(x, torch_pads, mode=mode)


def _clip(inputs, attrs):
    x = inputs[0]
    lo = inputs[1] if len(inputs) > 1 and inputs[1] is not None else attrs.get("min")
    hi = inputs[2] if len(inputs) > 2 and inputs[2] is not None else attrs.get("max")
    return torch.clamp(x, min=lo, max=hi)


def _reduce(fn):
    def run(inputs, attrs):
        x, axes = inputs[0], _axes(inputs, attrs)
        keep = bool(attrs.get("keepdims", 1))
        if axes is None or not axes:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        return fn(x, dim=[a % x.dim() for a in axes], keepdim=keep)
    return run


def _batch_norm(inputs, attrs):
    x, scale, bias, mean, var = inputs[:5]
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=attrs.get("epsilon", 1e-5))


def _instance_norm(inputs, attrs):
    return F.instance_norm(inputs[0], weight=inputs[1], bias=inputs[2], eps=attrs.get("epsilon", 1e-5))


def _layer_norm(inputs, attrs):
    x = inputs[0]
    axis = attrs.get("axis", -1) % x.dim()
    bias = inputs[2] if len(inputs) > 2 else None
    return F.layer_norm(x, x.shape[axis:], inputs[1], bias, eps=attrs.get("epsilon", 1e-5))


def _shape(inputs, attrs):
    dims = list(inputs[0].shape)[attrs.get("start", 0):attrs.get("end", None)]
    return torch.tensor(dims, dtype=torch.int64)


def _constant(inputs, attrs):
    if "value" in attrs:
        return torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy())
    for key, dtype in (("value_float", torch.float32), ("value_int", torch.int64)):
        if key in attrs:
            return torch.tensor(attrs[key], dtype=dtype)
    for key, dtype in (("value_floats", torch.float32), ("value_ints", torch.int64)):
        if key in attrs:
            return torch.tensor(list(attrs[key]), dtype=dtype)
    raise UnsupportedGraph("Constant of an unsupported form")


def _constant_of_shape(inputs, attrs):
    fill = torch.from_numpy(numpy_helper.to_array(attrs["value"]).copy()) if "value" in attrs \
        else torch.zeros(1, dtype=torch.float32)
    return fill.reshape(-1)[0].expand(*_ints(inputs[0])).clone()


def _variadic(fn):
    def run(inputs, attrs):
        out = inputs[0]
        for t in inputs[1:]:
            out = fn(out, t)
        return out
    return run


OPS: dict[str, Callable] = {
    "Add": _binary(torch.add), "Sub": _binary(torch.sub), "Mul": _binary(torch.mul), "Div": _binary(_div),
    "Pow": _binary(torch.pow), "MatMul": _binary(torch.matmul), "Equal": _binary(torch.eq),
    "Less": _binary(torch.lt), "Greater": _binary(torch.gt),
    "Neg": _unary(torch.neg), "Abs": _unary(torch.abs), "Exp": _unary(torch.exp), "Log": _unary(torch.log),
    "Sqrt": _unary(torch.sqrt), "Reciprocal": _unary(torch.reciprocal), "Relu": _unary(torch.relu),
    "Sigmoid": _unary(torch.sigmoid), "Tanh": _unary(torch.tanh), "Softplus": _unary(F.softplus),
    "Softsign": _unary(F.softsign), "Erf": _unary(torch.erf), "Sin": _unary(torch.sin), "Cos": _unary(torch.cos),
    "Floor": _unary(torch.floor), "Ceil": _unary(torch.ceil), "Not": _unary(torch.logical_not),
    "Identity": _unary(lambda x: x), "Dropout": _unary(lambda x: x),
    "LeakyRelu": lambda i, a: F.leaky_relu(i[0], a.get("alpha", 0.01)),
    "Elu": lambda i, a: F.elu(i[0], a.get("alpha", 1.0)),
    "Selu": lambda i, a: a.get("gamma", 1.0507009873554805) * torch.where(
        i[0] > 0, i[0], a.get("alpha", 1.6732632423543772) * (torch.exp(i[0]) - 1)),
    "HardSigmoid": lambda i, a: torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "PRelu": lambda i, a: torch.where(i[0] >= 0, i[0], i[0] * i[1]),
    "Gelu": lambda i, a: F.gelu(i[0], approximate="tanh" if a.get("approximate", "none") == "tanh" else "none"),
    "Softmax": lambda i, a: torch.softmax(i[0], dim=a.get("axis", -1)),
    "Where": lambda i, a: torch.where(i[0].bool(), i[1], i[2]),
    "Min": _variadic(torch.minimum), "Max": _variadic(torch.maximum), "Sum": _variadic(torch.add),
    "Mod": lambda i, a: (torch.fmod if a.get("fmod", 0) else torch.remainder)(i[0], i[1]),
    "Clip": _clip, "Conv": _conv, "ConvTranspose": _conv_transpose, "Gemm": _gemm,
    "BatchNormalization": _batch_norm, "InstanceNormalization": _instance_norm,
    "LayerNormalization": _layer_norm, "Reshape": _reshape, "Flatten": _flatten,
    "Transpose": lambda i, a: i[0].permute(*(a.get("perm") or list(reversed(range(i[0].dim()))))),
    "Concat": lambda i, a: torch.cat(i, dim=a["axis"]), "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "Shape": _shape, "Gather": _gather, "Slice": _slice, "Resize": _resize, "Upsample": _upsample, "Pad": _pad,
    "Cast": lambda i, a: i[0].to(_DTYPES[a["to"]]), "Constant": _constant, "ConstantOfShape": _constant_of_shape,
    "Expand": lambda i, a: i[0] * torch.ones(_ints(i[1]), dtype=i[0].dtype),
    "Tile": lambda i, a: i[0].repeat(*_ints(i[1])),
    "ReduceMean": _reduce(torch.mean), "ReduceSum": _reduce(torch.sum),
    "MaxPool": lambda i, a: _pool(F.max_pool2d, i, a), "AveragePool": lambda i, a: _pool(F.avg_pool2d, i, a),
    "GlobalAveragePool": _unary(lambda x: x.mean(dim=tuple(range(2, x.dim())), keepdim=True)),
}


def _pool(fn, inputs, attrs):
    x = inputs[0]
    if x.dim() != 4:
        raise UnsupportedGraph("only 2-d pooling is supported")
    begin, end = _spatial_pads(attrs, 2)
    if begin != end:
        raise UnsupportedGraph("asymmetric pooling pads are not supported")
    kernel = attrs["kernel_shape"]
    return fn(x, kernel, stride=attrs.get("strides", kernel), padding=begin, ceil_mode=bool(attrs.get("ceil_mode", 0)))


class TorchGraph:
    """Evaluates the main graph of an ONNX model with torch ops (float32 weights, autograd through inputs)."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        graph = proto.graph
        domains = {o.domain for o in proto.opset_import if o.domain not in ("", "ai.onnx")}
        custom = sorted({n.op_type for n in graph.node if n.domain not in ("", "ai.onnx")})
        unsupported = sorted({n.op_type for n in graph.node if n.op_type not in OPS}) + custom
        if unsupported:
            raise UnsupportedGraph("exact gradients do not cover operator(s) " + ", ".join(unsupported[:8])
                                   + (f" (custom domains {', '.join(sorted(domains))})" if custom else ""))
        self.weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
        self.nodes = [(n.op_type, list(n.input), list(n.output), _attrs(n)) for n in graph.node]
        self.output_names = [o.name for o in graph.output]

    def __call__(self, feeds: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        values: dict[str, torch.Tensor | None] = {**self.weights, **feeds, "": None}
        for op, names_in, names_out, attrs in self.nodes:
            try:
                result = OPS[op]([values[n] for n in names_in], attrs)
            except UnsupportedGraph:
                raise
            except KeyError as exc:
                raise UnsupportedGraph(f"{op}: missing input or attribute {exc}") from None
            results = result if isinstance(result, (tuple, list)) else (result,)
            values.update(zip(names_out, results))
        return [values[n] for n in self.output_names]

    def verify(self, session, feeds: dict[str, np.ndarray], rtol: float = 1e-3, atol: float = 1e-4) -> float:
        """Largest absolute difference from onnxruntime on ``feeds``; raises UnsupportedGraph beyond tolerance."""
        expected = session.run(None, feeds)
        with torch.no_grad():
            got = self({k: torch.from_numpy(v) for k, v in feeds.items()})
        worst = 0.0
        for name, e, g in zip(self.output_names, expected, got):
            g = g.numpy()
            if g.shape != e.shape or not np.allclose(g, e, rtol=rtol, atol=atol):
                raise UnsupportedGraph(f"the torch evaluation of output {name!r} does not match onnxruntime "
                                       f"(shapes {g.shape} / {e.shape})")
            worst = max(worst, float(np.abs(g.astype(np.float64) - e).max()) if e.size else 0.0)
        return worst
