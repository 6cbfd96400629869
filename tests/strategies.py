"""Hypothesis strategies for the auditor's records (all strategies live here)."""

from __future__ import annotations

from hypothesis import strategies as st

from auditor.records import (AuditReport, Curve, Finding, ModelInfo, ModelKind, ProbeResult, Severity, Status,
                             TensorSpec)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False, width=32)
codes = st.from_regex(r"[A-Z]{3,6}-[A-Z]{2,6}-[0-9]{3}", fullmatch=True)

triggers = st.one_of(
    st.builds(lambda dims, values: {"type": "latent", "dims": dims, "values": values},
              st.lists(st.integers(0, 511), min_size=1, max_size=3), st.lists(finite, min_size=1, max_size=3)),
    st.builds(lambda x, y, s, c: {"type": "patch", "x": x, "y": y, "size": s, "color": c},
              st.integers(0, 64), st.integers(0, 64), st.integers(1, 16),
              st.lists(st.floats(0, 1), min_size=3, max_size=3)))

findings = st.builds(Finding, probe=text, code=codes, severity=st.sampled_from(Severity),
                     score=st.floats(0, 1), summary=text,
                     evidence=st.fixed_dictionaries({}, optional={"trigger": triggers, "note": text}))


@st.composite
def curves(draw):
    n = draw(st.integers(0, 8))
    return Curve(tuple(draw(st.lists(finite, min_size=n, max_size=n))),
                 tuple(draw(st.lists(finite, min_size=n, max_size=n))), draw(text), draw(text))


probe_results = st.builds(ProbeResult, probe=text, status=st.sampled_from(Status),
                          seconds=st.floats(0, 1e4), rows=st.integers(0, 10**9),
                          findings=st.lists(findings, max_size=3).map(tuple),
                          metrics=st.dictionaries(text, finite, max_size=3),
                          curves=st.dictionaries(text, curves(), max_size=2),
                          reason=st.none() | text)

tensor_specs = st.builds(TensorSpec, name=text,
                         shape=st.lists(st.none() | st.integers(1, 512) | st.just("batch"), max_size=4).map(tuple),
                         dtype=st.sampled_from(["float32", "uint8", "int64"]))

model_infos = st.builds(
    ModelInfo, path=text, sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True), format=st.just("onnx"),
    size_bytes=st.integers(1, 10**9), kind=st.sampled_from(ModelKind),
    inputs=st.lists(tensor_specs, min_size=1, max_size=2).map(tuple),
    outputs=st.lists(tensor_specs, min_size=1, max_size=2).map(tuple),
    latent_shape=st.none() | st.lists(st.integers(1, 512), min_size=1, max_size=3).map(tuple),
    image_shape=st.none() | st.tuples(st.sampled_from([1, 3]), st.integers(8, 64), st.integers(8, 64)),
    layout=st.sampled_from(["NCHW", "NHWC"]), value_range=st.sampled_from([(0.0, 1.0), (-1.0, 1.0)]),
    range_kind=st.sampled_from(["tanh", "sigmoid"]), producer=text,
    assumptions=st.lists(text, max_size=2).map(tuple))

reports = st.builds(AuditReport, tool_version=st.just("0.1.0"), started_at=st.just("2026-11-22T00:00:00+00:00"),
                    model_path=text, config=st.just({}), model=st.none() | model_infos,
                    static_findings=st.lists(findings, max_size=3).map(tuple),
                    results=st.lists(probe_results, max_size=3).map(tuple), error=st.none() | text,
                    exit_code=st.sampled_from([0, 1, 3, 4]))
