"""load -> inspect: turns a model file into an ``AuditModel`` with its ``ModelInfo``.

Probes talk to ``AuditModel`` only, in one convention whatever the file does: latents as float32
[N, *latent_shape] drawn from N(0, I); images as float32 NCHW in [0, 1].
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from auditor.errors import InspectionError, ModelRunError
from auditor.loading.inspect import Overrides, inspect_model
from auditor.loading.model import OnnxRunner
from auditor.loading.onnx_file import OnnxFile, parse_onnx_bytes, read_onnx
from auditor.loading.session import make_session
from auditor.loading.torchscript import TORCHSCRIPT_SUFFIXES
from auditor.records import ModelInfo

__all__ = ["AuditModel", "Overrides", "load_model"]


@dataclass
class AuditModel:
    info: ModelInfo
    runner: OnnxRunner
    onnx_file: OnnxFile | None = None

    @property
    def rows(self) -> int:
        return self.runner.counter.rows

    def sample_latents(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.info.latent_shape is None:
            raise InspectionError("this model has no latent input")
        return rng.standard_normal((n, *self.info.latent_shape)).astype(np.float32)

    def sample_labels(self, rng: np.random.Generator, n: int) -> np.ndarray | None:
        return rng.integers(0, self.info.num_classes, n) if self.info.label_input else None

    def _label_feed(self, labels: np.ndarray) -> np.ndarray:
        spec = next(i for i in self.info.inputs if i.name == self.info.label_input)
        if spec.dtype.startswith("float"):
            return np.eye(self.info.num_classes, dtype=np.float32)[labels]
        return labels.astype(spec.dtype).reshape((len(labels), *([1] * (len(spec.shape) - 1))))

    def to_unit(self, out: np.ndarray) -> np.ndarray:
        """Model output -> NCHW float32 in [0, 1]."""
        c, h, w = self.info.image_shape
        x = out.astype(np.float32)
        if self.info.layout == "NHWC":
            x = x.transpose(0, 3, 1, 2)
        x = x.reshape(len(x), c, h, w)
        lo, hi = self.info.value_range
        return np.clip((x - lo) / (hi - lo), 0.0, 1.0) if hi > lo else x

    @property
    def input_channels_last(self) -> bool:
        """Does the (autoencoder's) image input take NHWC?"""
        main = self.info.inputs[0]
        return len(main.shape) == 4 and _channels_last(main.shape)

    def from_unit(self, images: np.ndarray) -> np.ndarray:
        """NCHW [0, 1] images -> the autoencoder's input convention (layout, range, dtype)."""
        main = self.info.inputs[0]
        lo, hi = self.info.value_range
        x = images * (hi - lo) + lo
        if self.input_channels_last:
            x = x.transpose(0, 2, 3, 1)
        if main.dtype == "uint8":
            return np.clip(np.round(x), 0, 255).astype(np.uint8)
        return x.astype(main.dtype)

    def generator_feeds(self, z: np.ndarray, labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The model's input feeds for latents (and labels, for conditional generators)."""
        feeds = {self.info.inputs[0].name: z.astype(self.info.inputs[0].dtype)}
        if self.info.label_input:
            if labels is None:
                raise InspectionError("a conditional generator needs labels")
            feeds[self.info.label_input] = self._label_feed(labels)
        return feeds

    def generate(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Latents (and labels, for conditional generators) -> images NCHW [0, 1]."""
        return self.to_unit(self._run(self.generator_feeds(z, labels)))

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Images NCHW [0, 1] -> the autoencoder's output, NCHW [0, 1]."""
        return self.to_unit(self._run({self.info.inputs[0].name: self.from_unit(images)}))

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        out_index = [o.name for o in self.info.outputs].index(self._output_name())
        out = self.runner(feeds, out_index)
        if not np.isfinite(out.astype(np.float64)).all():
            raise ModelRunError("the model returned NaN or Inf")
        return out

    def _output_name(self) -> str:
        return next((o.name for o in self.info.outputs if len(o.shape) in (2, 3, 4)), self.info.outputs[0].name)


def _channels_last(shape) -> bool:
    return isinstance(shape[-1], int) and shape[-1] in (1, 3, 4) and not (isinstance(shape[1], int)
                                                                        and shape[1] in (1, 3, 4))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_model(path: str | Path, *, device: str = "auto", overrides: Overrides = Overrides(),  # noqa: B008 (frozen)
               seed: int = 0, threads: int | None = None, spinning: bool = False) -> AuditModel:
    """Reads, checks, opens and inspects a model. Raises ModelLoadError / InspectionError / ModelRunError.

    ONNX files go straight to onnxruntime; TorchScript files are converted through torch first (see
    ``auditor.loading.torchscript``), which is the only path that imports torch. ``threads`` and ``spinning``
    go to onnxruntime's CPU thread pool (see ``auditor.loading.session``).
    """
    path = Path(path)
    fmt, note = "onnx", None
    if path.suffix.lower() in TORCHSCRIPT_SUFFIXES:
        from auditor.loading.torchscript import torchscript_to_onnx

        onnx_bytes, note = torchscript_to_onnx(path, overrides.latent_shape)
        onnx_file = parse_onnx_bytes(onnx_bytes, path.stat().st_size)
        fmt = "torchscript"
    else:
        onnx_file = read_onnx(path)
    session, provider = make_session(onnx_file.model_bytes, device=device, threads=threads, spinning=spinning)
    runner = OnnxRunner(session, provider)
    info = inspect_model(onnx_file.proto, runner, path=str(path), sha256=sha256_file(path),
                         size_bytes=onnx_file.size_bytes, overrides=overrides, seed=seed)
    if fmt != "onnx":
        info = replace(info, format=fmt, assumptions=(*info.assumptions, note))
    runner.counter.rows = 0  # inspection's trial rows are not charged to the probes
    return AuditModel(info, runner, onnx_file)
