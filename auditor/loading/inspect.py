"""Works out what a model is from its graph and a few trial runs, never from its metadata.

Kinds: a generator/decoder takes a latent and returns an image; an autoencoder takes an image and returns one
of the same shape; a conditional generator also takes a class label. Latents may be flat [B, d], [B, d, 1, 1]
or spatial [B, 128, 4, 4]. Images may be NCHW or NHWC, or flat [B, H*W*C] outputs. Ranges: tanh [-1, 1],
sigmoid [0, 1], 0-255 floats, uint8. Whatever had to be assumed is listed in ``ModelInfo.assumptions`` with the
flag that overrides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx

from auditor.errors import InspectionError, ModelRunError
from auditor.loading.model import OnnxRunner
from auditor.records import ModelInfo, ModelKind, TensorSpec

TRIAL_ROWS = 64
IMAGE_CHANNELS = (1, 3, 4)
MIN_IMAGE_SIDE = 8
LABEL_NAME_HINTS = ("label", "class", "cond", "y")


@dataclass(frozen=True)
class Overrides:
    """User flags that replace inference (``--kind``, ``--latent-shape``, ``--layout``, ``--range``, ...)."""

    kind: str | None = None
    latent_shape: tuple[int, ...] | None = None
    layout: str | None = None
    value_range: tuple[float, float] | None = None
    num_classes: int | None = None


def _dtype_name(elem_type: int) -> str:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name
    except Exception:
        return f"onnx-type-{elem_type}"


def _spec(value_info: onnx.ValueInfoProto) -> TensorSpec:
    t = value_info.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in t.shape.dim) \
        if t.HasField("shape") else ()
    return TensorSpec(value_info.name, dims, _dtype_name(t.elem_type))


def graph_inputs(proto: onnx.ModelProto) -> list[TensorSpec]:
    """Real inputs: graph inputs that are not initializers (old exporters list weights as inputs)."""
    weights = {i.name for i in proto.graph.initializer}
    return [_spec(i) for i in proto.graph.input if i.name not in weights]


def _is_image_shape(shape: tuple) -> str | None:
    """'NCHW' / 'NHWC' when a per-sample shape looks like an image, else None."""
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
        return None
    c, h, w = shape
    if c in IMAGE_CHANNELS and h >= MIN_IMAGE_SIDE and w >= MIN_IMAGE_SIDE:
        return "NCHW"
    h, w, c = shape
    if c in IMAGE_CHANNELS and h >= MIN_IMAGE_SIDE and w >= MIN_IMAGE_SIDE:
        return "NHWC"
    return None


def _last_op(proto: onnx.ModelProto, output: str) -> str | None:
    producers = {o: n.op_type for n in proto.graph.node for o in n.output}
    return producers.get(output)


def _label_classes(proto: onnx.ModelProto, label: str) -> int | None:
    """Number of classes when the label indexes an embedding table (Gather on a [K, E] initializer)."""
    weights = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Gather" and len(node.input) == 2 and node.input[1] == label \
                and len(weights.get(node.input[0], ())) == 2:
            return int(weights[node.input[0]][0])
    return None


def _flat_image_shape(size: int) -> tuple[int, int, int] | None:
    for c in (1, 3):
        if size % c == 0:
            side = math.isqrt(size // c)
            if side * side * c == size and side >= MIN_IMAGE_SIDE:
                return (c, side, side)
    return None


def _range_from(out: np.ndarray, dtype: str, last_op: str | None) -> tuple[tuple[float, float], str, bool]:
    """(range, kind, assumed?) from the output dtype, the final op, or the observed values."""
    if dtype == "uint8":
        return (0.0, 255.0), "uint8", False
    if last_op == "Tanh":
        return (-1.0, 1.0), "tanh", False
    if last_op == "Sigmoid":
        return (0.0, 1.0), "sigmoid", False
    lo, hi = float(out.min()), float(out.max())
    if lo >= -1.001 and hi <= 1.001 and lo < -0.01:
        return (-1.0, 1.0), "tanh", True
    if lo >= -0.001 and hi <= 1.001:
        return (0.0, 1.0), "sigmoid", True
    if lo >= -0.5 and hi <= 255.5 and hi > 1.5:
        return (0.0, 255.0), "0-255", True
    return (float(np.percentile(out, 0.1)), float(np.percentile(out, 99.9))), "unbounded", True


def inspect_model(proto: onnx.ModelProto, runner: OnnxRunner, *, path: str, sha256: str, size_bytes: int,
                  overrides: Overrides = Overrides(), seed: int = 0) -> ModelInfo:
    """Infers kind, latent shape, layout, range and batch behaviour; raises InspectionError when it cannot."""
    inputs, outputs = graph_inputs(proto), [_spec(o) for o in proto.graph.output]
    if not inputs:
        raise InspectionError("the model has no inputs")
    assumptions: list[str] = []
    float_inputs = [i for i in inputs if i.dtype.startswith("float") or i.dtype == "uint8"]
    int_inputs = [i for i in inputs if i.dtype.startswith("int")]
    if not float_inputs:
        raise InspectionError("no float or uint8 input to feed a latent or an image into")
    main = float_inputs[0]
    label = int_inputs[0] if int_inputs else None
    if label is None and len(float_inputs) == 2:
        other = float_inputs[1]
        if any(h in other.name.lower() for h in LABEL_NAME_HINTS) and len(other.shape) == 2:
            label = other  # one-hot label input
    if len(inputs) > (2 if label else 1):
        raise InspectionError(f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)[:200]}); "
                              "only a latent or image input, plus optionally a class label, is supported")
    if len(main.shape) < 2:
        raise InspectionError(f"input {main.name!r} has rank {len(main.shape)}; expected a batch axis and more")
    per_sample = main.shape[1:]
    if overrides.latent_shape is not None:
        per_sample = overrides.latent_shape
    if any(d is None or isinstance(d, str) for d in per_sample):
        raise InspectionError(f"input {main.name!r} has symbolic dims {main.shape[1:]}; "
                              "pass --latent-shape (generators) or export with fixed image size")
    if any(d <= 0 for d in per_sample):
        raise InspectionError(f"input {main.name!r} has a zero-size dimension {main.shape}")
    batch_dim = main.shape[0]
    fixed_batch = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
    runner.fixed_batch = fixed_batch
    rng = np.random.default_rng(seed)
    input_layout = _is_image_shape(tuple(per_sample))
    kind_hint = overrides.kind
    looks_like_image = input_layout is not None and kind_hint not in ("generator", "conditional_generator")
    num_classes = overrides.num_classes
    label_dtype = None
    if label is not None:
        label_dtype = label.dtype
        if num_classes is None:
            num_classes = label.shape[1] if len(label.shape) == 2 and isinstance(label.shape[1], int) \
                else _label_classes(proto, label.name)
        if num_classes is None:
            num_classes = 10
            assumptions.append("class-label input with no readable range: assumed 10 classes (--num-classes)")

    def trial_feeds(n: int) -> dict[str, np.ndarray]:
        if looks_like_image:
            x = rng.random((n, *per_sample), dtype=np.float32)
            if main.dtype == "uint8":
                x = (x * 255).astype(np.uint8)
        else:
            x = rng.standard_normal((n, *per_sample)).astype(main.dtype if main.dtype != "uint8" else np.float32)
        feeds = {main.name: x}
        if label is not None:
            labels = rng.integers(0, num_classes, n)
            feeds[label.name] = np.eye(num_classes, dtype=np.float32)[labels] if label_dtype.startswith("float") \
                else labels.astype(label_dtype).reshape((n, *([1] * (len(label.shape) - 1))))
        return feeds

    out_index = next((k for k, o in enumerate(outputs) if len(o.shape) in (2, 3, 4)), 0)
    batch_mode = "batched"
    trial_n = fixed_batch or 4
    try:
        out = runner.raw(trial_feeds(trial_n), out_index)
    except ModelRunError:
        if fixed_batch is not None:
            raise
        out = None
    if out is None or len(out) != trial_n:
        # A dynamic batch axis that really serves one sample: fall back to one row per call.
        runner.fixed_batch = None
        runner.row_by_row = True
        batch_mode = "row-by-row"
        out = runner(trial_feeds(2), out_index)
        assumptions.append("the graph returned one row for a larger batch: samples are run one at a time")
    if not np.isfinite(out.astype(np.float64)).all():
        raise ModelRunError("the model returned NaN or Inf on trial inputs")
    if out.size == 0:
        raise InspectionError("the model returned an empty output")
    out_shape = tuple(out.shape[1:])
    out_layout = overrides.layout or _is_image_shape(out_shape)
    if len(out_shape) == 3 and out_layout is None and out_shape[0] in IMAGE_CHANNELS:
        out_layout = "NCHW"
    if len(out_shape) == 2 and min(out_shape) >= MIN_IMAGE_SIDE:
        image_shape = (1, *out_shape)
        out_layout = "NHW"
    elif len(out_shape) == 1:
        image_shape = _flat_image_shape(out_shape[0])
        if image_shape is None:
            return _not_generative(f"output of {out_shape[0]} values per sample is not an image", overrides, locals())
        out_layout = "flat"
        assumptions.append(f"flat output of {out_shape[0]} values read as a {image_shape} image")
    elif out_layout in ("NCHW", "NHWC") and len(out_shape) == 3:
        image_shape = out_shape if out_layout == "NCHW" else (out_shape[2], out_shape[0], out_shape[1])
    else:
        return _not_generative(f"output shape {out_shape} is not an image", overrides, locals())
    if overrides.layout is None and out_layout == "NCHW" and out_shape[0] == out_shape[2] and out_shape[0] in (1, 3):
        assumptions.append(f"output {out_shape} could be NCHW or NHWC: assumed NCHW (--layout)")

    # Range from a larger population than the first trial, so a sigmoid output is not mistaken for tanh.
    population = runner(trial_feeds(TRIAL_ROWS), out_index)
    if not np.isfinite(population.astype(np.float64)).all():
        raise ModelRunError("the model returned NaN or Inf on trial inputs")
    if overrides.value_range is not None:
        value_range, range_kind, assumed = overrides.value_range, "given", False
    else:
        value_range, range_kind, assumed = _range_from(population, outputs[out_index].dtype,
                                                       _last_op(proto, outputs[out_index].name))
    if assumed:
        assumptions.append(f"output range read from trial outputs as {range_kind} {value_range} (--range)")

    latent_shape = None
    if kind_hint:
        kind = ModelKind(kind_hint)
    elif label is not None:
        kind = ModelKind.CONDITIONAL_GENERATOR
    elif looks_like_image and _image_matches(per_sample, input_layout, image_shape):
        kind = ModelKind.AUTOENCODER
    elif int(np.prod(per_sample)) < int(np.prod(image_shape)):
        kind = ModelKind.GENERATOR
    else:
        raise InspectionError(f"cannot tell the kind of a model mapping {tuple(per_sample)} to {out_shape}; "
                              "pass --kind generator or --kind autoencoder")
    if kind in (ModelKind.GENERATOR, ModelKind.CONDITIONAL_GENERATOR):
        latent_shape = tuple(int(d) for d in per_sample)
        if input_layout is not None and not kind_hint:
            assumptions.append(f"image-shaped input {tuple(per_sample)} treated as a latent")
    if kind == ModelKind.AUTOENCODER:
        assumptions.append(f"input images fed in the output's range {value_range} (--range)")
    return ModelInfo(
        path=path, sha256=sha256, format="onnx", size_bytes=size_bytes, kind=kind, inputs=tuple(inputs),
        outputs=tuple(outputs), latent_shape=latent_shape, label_input=label.name if label else None,
        num_classes=num_classes if label else None, image_shape=tuple(int(d) for d in image_shape),
        layout=out_layout, value_range=tuple(float(v) for v in value_range), range_kind=range_kind,
        dynamic_batch=fixed_batch is None, batch_mode=batch_mode, opset=_default_opset(proto),
        ir_version=int(proto.ir_version), producer=f"{proto.producer_name} {proto.producer_version}".strip(),
        assumptions=tuple(assumptions))


def _not_generative(reason: str, overrides: Overrides, found: dict) -> ModelInfo:
    """A model that runs but whose output is no image (a classifier, an encoder): out of scope, not broken. Its
    kind is UNKNOWN, so no probe applies (exit 4) and a folder scan is not failed by it. With --layout or --kind
    the user insists it is an image model: then it is an inspection error."""
    if overrides.layout or overrides.kind:
        raise InspectionError(f"{reason} (check --layout / --kind)")
    proto = found["proto"]
    return ModelInfo(
        path=found["path"], sha256=found["sha256"], format="onnx", size_bytes=found["size_bytes"],
        kind=ModelKind.UNKNOWN, inputs=tuple(found["inputs"]), outputs=tuple(found["outputs"]),
        dynamic_batch=found["fixed_batch"] is None, batch_mode=found["batch_mode"], opset=_default_opset(proto),
        ir_version=int(proto.ir_version), producer=f"{proto.producer_name} {proto.producer_version}".strip(),
        assumptions=(*found["assumptions"], f"{reason}: not a generator, decoder or autoencoder, so no behavioural "
                     "probe applies (pass --layout NCHW or NHWC if it is one)"))


def _image_matches(per_sample, layout, image_shape) -> bool:
    if layout == "NCHW":
        return tuple(per_sample) == tuple(image_shape)
    return (per_sample[2], per_sample[0], per_sample[1]) == tuple(image_shape)


def _default_opset(proto: onnx.ModelProto) -> int | None:
    return next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
