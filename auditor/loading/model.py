"""The one evaluation engine every probe uses: a population of inputs in, a population of outputs out.

Probes ask for populations (a whole batch of latents or images); ``OnnxRunner`` cuts them into chunks of the
batch size the model runs fastest at, pads the last chunk for fixed-batch graphs (on CUDA every chunk, so the
model sees one input shape), runs row by row only when the graph really handles one sample, writes every chunk
into one preallocated output buffer, binds inputs and outputs explicitly on CUDA (IO binding), and counts rows
and seconds. ``AuditModel`` (auditor.loading) converts layout and range and refuses NaN/Inf outputs.

Batch size: the first population large enough is run in chunks of each candidate size in turn, twice each (real
rows, nothing thrown away) and the size with the lowest time per row is kept. ``best_row_seconds`` is the lowest time
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
CUDA = "CUDAExecutionProvider"


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

    def raw(self, feeds: dict[str, np.ndarray], output: int = 0, real: int | None = None) -> np.ndarray:
        """Runs one call as given (no chunking); maps runtime errors. Counts ``real`` rows (the population's, not
        the padding's: the rows a report states are queries of the model) and times per computed row."""
        n = len(next(iter(feeds.values())))
        started = time.perf_counter()
        with map_runtime_errors("the model failed to run"):
            if self.provider == CUDA:
                out = self._run_bound(feeds, output)
            else:
                out = self.session.run(None, feeds)[output]
        elapsed = time.perf_counter() - started
        self.counter.rows += n if real is None else real
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

    @property
    def batch(self) -> int:
        """Rows per onnxruntime call: 1 row by row, else the graph's fixed batch or the tuned chunk."""
        return 1 if self.row_by_row else (self.fixed_batch or self.chunk)

    def __call__(self, feeds: dict[str, np.ndarray], output: int = 0) -> np.ndarray:
        """Runs a population of any size, chunked (and padded for fixed-batch graphs), into one output buffer."""
        n = len(next(iter(feeds.values())))
        if n == 0:
            raise ModelRunError("asked to run an empty batch")
        tuning = (not self.tuned and not self.row_by_row and not self.fixed_batch
                  and n >= 2 * sum(CHUNK_CANDIDATES))
        # Each candidate twice in a row, keeping the faster: the first call of a new shape pays one-off costs
        # (memory planning; on CUDA the cuDNN algorithm search) that say nothing about the steady state.
        plan = [c for c in CHUNK_CANDIDATES for _ in range(2)] if tuning else []
        result = None
        start = 0
        while start < n:
            step = plan.pop(0) if plan else self.batch
            part = {k: v[start:start + step] for k, v in feeds.items()}
            real = len(next(iter(part.values())))
            # CUDA: every change of input shape makes cuDNN's exhaustive algorithm search run again (measured on an
            # H100: a scan's mix of 8/64/256-row calls ran 26-28x slower than the same calls padded to one shape),
            # so every call there is one full chunk; the padded rows are cheap on a GPU.
            padded = self.fixed_batch or (step if self.provider == CUDA else real)
            if real < padded:
                pad = padded - real
                part = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) for k, v in part.items()}
            began = time.perf_counter()
            out = self.raw(part, output, real)
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
