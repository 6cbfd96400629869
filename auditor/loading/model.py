"""A loaded model as probes see it: a batched function from input arrays to an image batch, that counts rows.

Probes ask for populations (a whole batch of latents or images); this class chunks them to the batch size the
model accepts, runs them row by row when the graph only really handles one sample, converts output layout and
range to NCHW float in [0, 1], and refuses NaN/Inf outputs with a one-line error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from auditor.errors import ModelRunError, map_runtime_errors

DEFAULT_CHUNK = 256


@dataclass
class RunCounter:
    rows: int = 0
    seconds: float = 0.0
    calls: int = 0


@dataclass
class OnnxRunner:
    """Thin, stateless-per-call wrapper over an onnxruntime session."""

    session: object
    provider: str
    chunk: int = DEFAULT_CHUNK
    fixed_batch: int | None = None            # the graph's batch dimension when it is a fixed number
    row_by_row: bool = False
    counter: RunCounter = field(default_factory=RunCounter)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def raw(self, feeds: dict[str, np.ndarray], output: int = 0) -> np.ndarray:
        """Runs one call as given (no chunking); counts rows; maps runtime errors."""
        n = len(next(iter(feeds.values())))
        started = time.perf_counter()
        with map_runtime_errors("the model failed to run"):
            out = self.session.run(None, feeds)[output]
        self.counter.rows += n
        self.counter.calls += 1
        self.counter.seconds += time.perf_counter() - started
        return np.asarray(out)

    def __call__(self, feeds: dict[str, np.ndarray], output: int = 0) -> np.ndarray:
        """Runs a population of any size, chunked (and padded for fixed-batch graphs)."""
        n = len(next(iter(feeds.values())))
        if n == 0:
            raise ModelRunError("asked to run an empty batch")
        step = 1 if self.row_by_row else (self.fixed_batch or self.chunk)
        parts = []
        for start in range(0, n, step):
            part = {k: v[start:start + step] for k, v in feeds.items()}
            real = len(next(iter(part.values())))
            if self.fixed_batch and real < self.fixed_batch:
                pad = self.fixed_batch - real
                part = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) for k, v in part.items()}
            out = self.raw(part, output)
            if len(out) < real:
                raise ModelRunError(f"the model returned {len(out)} rows for a batch of {real}")
            parts.append(out[:real])
        return np.concatenate(parts)
