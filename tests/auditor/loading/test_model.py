"""The evaluation engine: chunking, padding, one output buffer, batch-size tuning, row counts, CUDA IO binding."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.errors import ModelRunError
from auditor.loading.model import CHUNK_CANDIDATES, OnnxRunner


class FakeSession:
    """y = 2x + 1 row-wise; optionally a fixed per-call overhead (so bigger chunks are faster per row)."""

    def __init__(self, overhead: float = 0.0, drop_rows: bool = False):
        self.calls: list[int] = []
        self.overhead = overhead
        self.drop_rows = drop_rows

    def get_inputs(self):
        return [SimpleNamespace(name="x")]

    def get_outputs(self):
        return [SimpleNamespace(name="y")]

    def run(self, _names, feeds):
        x = feeds["x"]
        self.calls.append(len(x))
        if self.overhead:
            time.sleep(self.overhead)
        y = 2 * x + 1
        return [y[:-1] if self.drop_rows else y]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 700), chunk=st.integers(1, 300), fixed=st.one_of(st.none(), st.integers(1, 50)))
def test_any_population_comes_back_whole_and_in_order(n, chunk, fixed):
    """Whatever the population size, chunk size and fixed batch, the output is the row-wise function of the input,
    every call is at most one chunk (exactly the fixed batch when there is one), and the population's rows (not
    the padding) are counted."""
    session = FakeSession()
    runner = OnnxRunner(session, "CPUExecutionProvider", chunk=chunk, fixed_batch=fixed, tuned=True)
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    np.testing.assert_array_equal(runner({"x": x}), 2 * x + 1)
    if fixed:
        assert set(session.calls) == {fixed}
    else:
        assert max(session.calls) <= chunk
    assert runner.counter.rows == n and runner.counter.calls == len(session.calls)


def test_batch_size_tuning_keeps_the_fastest_chunk_and_wastes_no_rows():
    """With a per-call overhead the largest candidate is fastest per row and is kept; the tuning chunks are
    real rows of the population (results intact); the best per-row time is recorded for the benchmark bound."""
    session = FakeSession(overhead=0.005)
    runner = OnnxRunner(session, "CPUExecutionProvider")
    n = 2 * sum(CHUNK_CANDIDATES) + 500
    x = np.random.default_rng(0).random((n, 2)).astype(np.float32)
    np.testing.assert_allclose(runner({"x": x}), 2 * x + 1)
    assert session.calls[:6] == [c for c in CHUNK_CANDIDATES for _ in range(2)]
    assert runner.tuned and runner.chunk == max(CHUNK_CANDIDATES)
    assert runner.counter.rows == n and 0 < runner.counter.best_row_seconds < 0.005 / 64


def test_small_populations_do_not_tune():
    runner = OnnxRunner(FakeSession(), "CPUExecutionProvider")
    runner({"x": np.zeros((10, 1), np.float32)})
    assert not runner.tuned and runner.chunk == 256


def test_short_or_empty_outputs_are_errors():
    with pytest.raises(ModelRunError, match="returned 3 rows for a batch of 4"):
        OnnxRunner(FakeSession(drop_rows=True), "CPUExecutionProvider")({"x": np.zeros((4, 1), np.float32)})
    with pytest.raises(ModelRunError, match="empty"):
        OnnxRunner(FakeSession(), "CPUExecutionProvider")({"x": np.zeros((0, 1), np.float32)})


def test_cuda_provider_uses_io_binding():
    """On CUDA the engine binds inputs from host memory and the chosen output to the device, then copies once."""
    log = []

    class Binding:
        def bind_cpu_input(self, name, value):
            log.append(("input", name, value.flags["C_CONTIGUOUS"]))
            self.value = value

        def bind_output(self, name, device):
            log.append(("output", name, device))

        def copy_outputs_to_cpu(self):
            return [2 * self.value + 1]

    class CudaSession(FakeSession):
        def io_binding(self):
            return Binding()

        def run_with_iobinding(self, binding):
            log.append(("run",))

    runner = OnnxRunner(CudaSession(), "CUDAExecutionProvider", tuned=True)
    x = np.ones((runner.chunk, 2), np.float32)[:, ::1]
    np.testing.assert_array_equal(runner({"x": x}), 2 * x + 1)
    assert log == [("input", "x", True), ("output", "y", "cuda"), ("run",)]


class CudaFake(FakeSession):
    """Runs like FakeSession through the IO-binding calls the CUDA path makes."""

    def io_binding(self):
        session = self

        class Binding:
            def bind_cpu_input(self, name, value):
                self.value = value

            def bind_output(self, name, device):
                pass

            def copy_outputs_to_cpu(self):
                return session.run(None, {"x": self.value})

        return Binding()

    def run_with_iobinding(self, binding):
        pass


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 700), min_size=1, max_size=8), chunk=st.sampled_from([64, 100, 256]))
def test_cuda_calls_all_have_one_shape(sizes, chunk):
    """On CUDA every change of input shape re-runs cuDNN's algorithm search, so every call is one full chunk
    (the last one padded): whatever population sizes a scan asks for, the model sees one batch shape, and every
    output row is still the function of its own input row."""
    session = CudaFake()
    runner = OnnxRunner(session, "CUDAExecutionProvider", chunk=chunk, tuned=True)
    for n in sizes:
        x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
        np.testing.assert_array_equal(runner({"x": x}), 2 * x + 1)
    assert set(session.calls) == {chunk}
    assert runner.counter.rows == sum(sizes) <= sum(session.calls)
