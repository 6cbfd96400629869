"""A user's domain classifier (``--classifier``): an ONNX model mapping the generator's images to class scores.

Pixel-space statistics see a class-subset backdoor (a trigger that narrows the output to some classes) no better
than an ordinary unit's change of style; a classifier of the domain, which the auditor cannot download, can. The
file is treated like any model file: read and size-checked by ``read_onnx`` (never unpickled), opened under
onnxruntime, and tried on a batch of the generator's image shape before any probe uses it.

Convention: input NCHW (or NHWC) float images in [0, 1] of the generator's channels and size; output [N, K]
logits or probabilities, K >= 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auditor.errors import AuditorError, ConfigError, ModelRunError, map_runtime_errors
from auditor.loading.onnx_file import read_onnx
from auditor.loading.session import make_session


@dataclass
class DomainClassifier:
    session: object
    input_name: str
    channels_last: bool
    classes: int
    source: str
    rows: int = 0

    def probabilities(self, images: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """NCHW [0, 1] images -> [N, K] class probabilities (softmax of the output unless it already is one)."""
        x = images.astype(np.float32)
        if self.channels_last:
            x = x.transpose(0, 2, 3, 1)
        outs = []
        for start in range(0, len(x), chunk):
            with map_runtime_errors("--classifier failed to run"):
                out = self.session.run(None, {self.input_name: np.ascontiguousarray(x[start:start + chunk])})[0]
            outs.append(np.asarray(out, dtype=np.float64).reshape(len(x[start:start + chunk]), -1))
        scores = np.concatenate(outs)
        self.rows += len(x)
        if not np.isfinite(scores).all():
            raise ModelRunError("--classifier returned NaN or Inf")
        if (scores >= 0).all() and np.allclose(scores.sum(1), 1.0, atol=1e-3):
            return scores
        e = np.exp(scores - scores.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def load_classifier(path: str | Path, image_shape: tuple[int, int, int], device: str = "auto",
                    threads: int | None = None) -> DomainClassifier:
    """Opens ``path`` and checks it classifies images of ``image_shape`` (C, H, W). Raises ConfigError."""
    path = Path(path)
    try:
        onnx_file = read_onnx(path)
        session, _ = make_session(onnx_file.model_bytes, device=device, threads=threads)
    except AuditorError as exc:
        raise ConfigError(f"--classifier {path.name}: {exc}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ConfigError(f"--classifier {path.name}: expected one image input, found {len(inputs)}")
    shape = inputs[0].shape
    if len(shape) != 4:
        raise ConfigError(f"--classifier {path.name}: input has rank {len(shape)}, expected an image batch")
    c, h, w = image_shape
    channels_last = shape[-1] == c and shape[1] != c
    expected = (h, w, c) if channels_last else (c, h, w)
    if any(isinstance(got, int) and got != want for got, want in zip(shape[1:], expected, strict=True)):
        raise ConfigError(f"--classifier {path.name}: input shape {list(shape)} does not take the model's "
                          f"{c}x{h}x{w} images")
    classifier = DomainClassifier(session, inputs[0].name, channels_last, 0, str(path))
    try:
        trial = classifier.probabilities(np.full((2, c, h, w), 0.5, dtype=np.float32))
    except AuditorError as exc:
        raise ConfigError(f"--classifier {path.name}: {exc}") from None
    if trial.shape[1] < 2:
        raise ConfigError(f"--classifier {path.name}: output has {trial.shape[1]} value(s) per image; "
                          "expected scores of two or more classes")
    classifier.classes, classifier.rows = trial.shape[1], 0
    return classifier
