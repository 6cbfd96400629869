"""The one evaluation engine every probe uses: a population of inputs in, a population of outputs out.

Probes ask for populations (a whole batch of latents or images); ``OnnxRunner`` cuts them into chunks of the
batch size the model runs fastest at, pads the last chunk for fixed-batch graphs, runs row by row only when the
graph really handles one sample, writes every chunk into one preallocated output buffer, binds inputs and
outputs explicitly on CUDA (IO binding: no per-call output allocation on the device side), and counts rows
and seconds. ``AuditModel`` (auditor.loading) converts layout and range and refuses NaN/Inf outputs.

Batch size: the first population large enough is run in chunks of each candidate size in turn (real rows,
nothing thrown away) and the size with the lowest time per row is kept. ``best_row_seconds`` is the lowest time
per row seen at any chunk of at least ``MIN_TIMED_ROWS``: rows x best_row_seconds is the physical lower bound
the benchmark compares a probe's wall time against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from auditor.errors import ModelRunError, map_runtime_errors

DEFAULT_CHUNK = 256
CHUNK_CANDIDATES = (64, 256, 1024)
MIN_TIMED_ROWS = 32


@dataclass
class RunCounter:
    rows: int = 0
    seconds: float = 0.0
    calls: int = 0
    best_row_seconds: float = float("inf")


@dataclass
class OnnxRunner:
    """Thin, stateless-per-call wrapper over an onnxruntime session."""

    session: object
    provider: str
    chunk: int = DEFAULT_CHUNK
    fixed_batch: int | None = None            # the graph's batch dimension when it is a fixed number
    row_by_row: bool = False
    counter: RunCounter = field(default_factory=RunCounter)
    tuned: bool = False
    chunk_timings: dict = field(default_factory=dict)   # chunk size -> best seconds per row seen

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    def raw(self, feeds: dict[str, np.ndarray], output: int = 0) -> np.ndarray:
        """Runs one call as given (no chunking); counts rows; maps runtime errors."""
        n = len(next(iter(feeds.values())))
        started = time.perf_counter()
        with map_runtime_errors("the model failed to run"):
            if self.provider == "CUDAExecutionProvider":
                out = self._run_bound(feeds, output)
            else:
                out = self.session.run(None, feeds)[output]
        elapsed = time.perf_counter() - started
        self.counter.rows += n
        self.counter.calls += 1
        self.counter.seconds += elapsed
        if n >= MIN_TIMED_ROWS:
            self.counter.best_row_seconds = min(self.counter.best_row_seconds, elapsed / n)
        return np.asarray(out)

    def _run_bound(self, feeds: dict[str, np.ndarray], output: int) -> np.ndarray:
        """CUDA: inputs copied to the device once, outputs left for onnxruntime to allocate on the device and
        copied back once, instead of session.run's per-output host staging."""
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        names = [o.name for o in self.session.get_outputs()]
        binding.bind_output(names[output], "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]

    def _step(self) -> int:
        return 1 if self.row_by_row else (self.fixed_batch or self.chunk)

    def __call__(self, feeds: dict[str, np.ndarray], output: int = 0) -> np.ndarray:
        """Runs a population of any size, chunked (and padded for fixed-batch graphs), into one output buffer."""
        n = len(next(iter(feeds.values())))
        if n == 0:
            raise ModelRunError("asked to run an empty batch")
        tuning = (not self.tuned and not self.row_by_row and not self.fixed_batch
                  and n >= sum(CHUNK_CANDIDATES))
        plan = list(CHUNK_CANDIDATES) if tuning else []
        result = None
        start = 0
        while start < n:
            step = plan.pop(0) if plan else self._step()
            part = {k: v[start:start + step] for k, v in feeds.items()}
            real = len(next(iter(part.values())))
            if self.fixed_batch and real < self.fixed_batch:
                pad = self.fixed_batch - real
                part = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) for k, v in part.items()}
            began = time.perf_counter()
            out = self.raw(part, output)
            if tuning and real == step:
                self.chunk_timings[step] = min(self.chunk_timings.get(step, np.inf),
                                               (time.perf_counter() - began) / real)
            if len(out) < real:
                raise ModelRunError(f"the model returned {len(out)} rows for a batch of {real}")
            if result is None:
                result = np.empty((n, *out.shape[1:]), dtype=out.dtype)
            elif out.shape[1:] != result.shape[1:]:
                raise ModelRunError(f"the model returned rows of shape {out.shape[1:]} after {result.shape[1:]}")
            result[start:start + real] = out[:real]
            start += real
        if tuning and self.chunk_timings:
            self.chunk = min(self.chunk_timings, key=self.chunk_timings.get)
            self.tuned = True
        return result
