"""Reading an untrusted ONNX file: size limits, parsing, and a gate on external-data references.

Nothing here follows a path named inside the model before it is checked: an external tensor must live in a
regular, non-symlinked file inside the model's own folder, and its byte range must fit that file and match the
tensor's declared size. Checked tensors are inlined, so the session is built from self-contained bytes.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import onnx
from onnx import external_data_helper

from auditor.errors import ModelLoadError, map_runtime_errors

MAX_MODEL_BYTES = 2**31 - 1          # protobuf's hard limit for one serialised message
MAX_EXTERNAL_BYTES = 2**31 - 1


@dataclass(frozen=True)
class OnnxFile:
    proto: onnx.ModelProto             # external tensors already inlined
    model_bytes: bytes                 # self-contained serialisation, what the session loads
    size_bytes: int                    # bytes of the file on disk
    external_tensors: int              # how many tensors came from external files


def _all_tensors(graph: onnx.GraphProto):
    yield from graph.initializer
    yield from (t.values for t in graph.sparse_initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def _tensor_nbytes(tensor: onnx.TensorProto) -> int | None:
    try:
        itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except Exception:
        return None  # string or exotic types: cannot predict the byte count
    return int(np.prod([int(d) for d in tensor.dims], dtype=object)) * itemsize


def _check_external(tensor: onnx.TensorProto, folder: Path) -> int:
    info = {e.key: e.value for e in tensor.external_data}
    name = tensor.name[:80]
    location = info.get("location", "")
    if not location:
        raise ModelLoadError(f"external tensor {name!r} names no data file")
    for flavour in (PurePosixPath(location), PureWindowsPath(location)):
        if flavour.is_absolute() or flavour.drive or ".." in flavour.parts:
            raise ModelLoadError(f"external tensor {name!r} points outside the model's folder ({location[:120]!r})")
    candidate = folder / location
    # Walk every component with lstat: a symlink anywhere on the way could lead out of the folder.
    current = folder
    for part in PurePosixPath(location.replace("\\", "/")).parts:
        current = current / part
        try:
            mode = current.lstat().st_mode
        except OSError:
            raise ModelLoadError(f"external tensor {name!r}: data file {location[:120]!r} does not exist") from None
        if stat.S_ISLNK(mode):
            raise ModelLoadError(f"external tensor {name!r}: data path {location[:120]!r} goes through a symlink")
    if not candidate.resolve().is_relative_to(folder.resolve()) or not candidate.is_file():
        raise ModelLoadError(f"external tensor {name!r}: {location[:120]!r} is not a regular file in the "
                             "model's folder")
    file_size = candidate.stat().st_size
    try:
        offset = int(info.get("offset", 0))
        length = int(info["length"]) if "length" in info else file_size - offset
    except ValueError:
        raise ModelLoadError(f"external tensor {name!r}: offset/length are not integers") from None
    if offset < 0 or length < 0 or offset + length > file_size:
        raise ModelLoadError(f"external tensor {name!r} claims bytes {offset}..{offset + length} of a "
                             f"{file_size}-byte file")
    expected = _tensor_nbytes(tensor)
    if expected is not None and expected != length:
        raise ModelLoadError(f"external tensor {name!r} declares {expected} bytes but its data holds {length}")
    return length


def _parse(raw: bytes, name: str) -> onnx.ModelProto:
    with map_runtime_errors(f"{name} is not a valid ONNX model (protobuf parse failed)", ModelLoadError):
        proto = onnx.ModelProto.FromString(raw)
    if proto.ir_version <= 0 or not proto.graph.output or not proto.graph.node:
        raise ModelLoadError(f"{name} is not an ONNX model (no IR version, nodes or outputs)")
    return proto


def parse_onnx_bytes(raw: bytes, size_bytes: int, name: str = "converted model") -> OnnxFile:
    """An OnnxFile from self-contained bytes we produced ourselves (TorchScript conversion)."""
    proto = _parse(raw, name)
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(proto.graph)):
        raise ModelLoadError(f"{name} refers to external data")
    return OnnxFile(proto, raw, size_bytes, 0)


def read_onnx(path: str | Path) -> OnnxFile:
    """Reads, size-checks and parses ``path``; validates and inlines external data. Raises ModelLoadError."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelLoadError(f"{path.name} is not a regular file")
    if st.st_size == 0:
        raise ModelLoadError(f"{path.name} is empty")
    if st.st_size > MAX_MODEL_BYTES:
        raise ModelLoadError(f"{path.name} is {st.st_size} bytes; the limit for one ONNX file is {MAX_MODEL_BYTES}")
    raw = path.read_bytes()
    proto = _parse(raw, path.name)
    external = [t for t in _all_tensors(proto.graph)
                if t.data_location == onnx.TensorProto.EXTERNAL]
    total = sum(_check_external(t, path.parent) for t in external)
    if total > MAX_EXTERNAL_BYTES:
        raise ModelLoadError(f"external data totals {total} bytes; the limit is {MAX_EXTERNAL_BYTES}")
    if external:
        with map_runtime_errors("cannot read the model's external data", ModelLoadError):
            external_data_helper.load_external_data_for_model(proto, str(path.parent))
            raw = proto.SerializeToString()
    return OnnxFile(proto, raw, st.st_size, len(external))
