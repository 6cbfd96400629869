"""Static checks of an ONNX graph, each returning findings. They read the graph; they never run it.

The one that matters most for backdoors is ``input_dependent_control_flow``: a backdoor can be hand-wired into
the graph itself (``Where(Greater(z[99], 2.9), target, G(z))``), which no amount of training data explains.
Comparison, selection and control-flow ops downstream of the latent or image input are flagged.
"""

from __future__ import annotations

from collections import defaultdict

import onnx

from auditor.errors import one_line
from auditor.records import Finding, Severity

PROBE = "static"
STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml"}
KNOWN_VENDOR_DOMAINS = {"com.microsoft", "ai.onnx.preview.training", "ai.onnx.training"}
MAX_NODES = 200_000
MAX_INITIALIZER_BYTES = 2**31 - 1
OLDEST_SUPPORTED_OPSET = 7
NEWEST_KNOWN_OPSET = 24
CONTROL_FLOW_OPS = {"If", "Loop", "Scan"}
COMPARISON_OPS = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Not", "And", "Or", "Xor",
                  "IsInf", "IsNaN"}
SELECTION_OPS = {"Where", "ArgMax", "ArgMin", "TopK", "NonZero", "Compress", "OneHot"}


def checker(proto: onnx.ModelProto) -> list[Finding]:
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # checker raises ValidationError, InferenceError and others
        return [Finding(PROBE, "STATIC-CHECKER-001", Severity.MEDIUM, 0.5,
                        "the graph fails onnx.checker's full check", {"error": one_line(exc)})]
    return []


def versions(proto: onnx.ModelProto) -> list[Finding]:
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    evidence = {"opset": opset, "ir_version": proto.ir_version}
    if opset is None or opset < OLDEST_SUPPORTED_OPSET:
        return [Finding(PROBE, "STATIC-OPSET-001", Severity.LOW, 0.2,
                        f"default-domain opset {opset} is missing or older than {OLDEST_SUPPORTED_OPSET}", evidence)]
    if opset > NEWEST_KNOWN_OPSET:
        return [Finding(PROBE, "STATIC-OPSET-002", Severity.LOW, 0.2,
                        f"opset {opset} is newer than this auditor knows ({NEWEST_KNOWN_OPSET})", evidence)]
    return []


def _all_nodes(graph: onnx.GraphProto):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.HasField("g"):
                yield from _all_nodes(attr.g)
            for g in attr.graphs:
                yield from _all_nodes(g)


def domains(proto: onnx.ModelProto) -> list[Finding]:
    used = defaultdict(set)
    for node in _all_nodes(proto.graph):
        used[node.domain].add(node.op_type)
    local_functions = {(f.domain, f.name) for f in proto.functions}
    findings = []
    for domain, ops in sorted(used.items()):
        ops = {op for op in ops if (domain, op) not in local_functions}
        if domain in STANDARD_DOMAINS or not ops:
            continue
        known = domain in KNOWN_VENDOR_DOMAINS
        findings.append(Finding(
            PROBE, "STATIC-DOMAIN-001" if known else "STATIC-DOMAIN-002", Severity.INFO if known else Severity.HIGH,
            0.1 if known else 0.8,
            f"operators from {'vendor' if known else 'non-standard'} domain {domain!r}"
            + ("" if known else ": they run only with a custom-op library, i.e. native code shipped with the model"),
            {"domain": domain, "ops": sorted(ops)[:50]}))
    return findings


def graph_size(proto: onnx.ModelProto) -> list[Finding]:
    nodes = sum(1 for _ in _all_nodes(proto.graph))
    weight_bytes = sum(len(t.raw_data) or 0 for t in proto.graph.initializer)
    evidence = {"nodes": nodes, "initializer_bytes": weight_bytes}
    if nodes > MAX_NODES or weight_bytes > MAX_INITIALIZER_BYTES:
        return [Finding(PROBE, "STATIC-SIZE-001", Severity.MEDIUM, 0.4,
                        f"graph exceeds size limits ({MAX_NODES} nodes, {MAX_INITIALIZER_BYTES} weight bytes)",
                        evidence)]
    return []


def input_dependent_control_flow(proto: onnx.ModelProto) -> list[Finding]:
    """Flags comparison/selection/control-flow nodes whose inputs depend on the model's input values."""
    weights = {i.name for i in proto.graph.initializer}
    tainted = {i.name for i in proto.graph.input if i.name not in weights}
    hits = []
    # Nodes are topologically sorted in a valid graph; one pass propagates taint from the inputs.
    for node in proto.graph.node:
        if not any(i in tainted for i in node.input if i):
            continue
        tainted.update(o for o in node.output if o)
        if node.op_type in CONTROL_FLOW_OPS | COMPARISON_OPS | SELECTION_OPS:
            hits.append(node)
    if not hits:
        return []
    control = [n for n in hits if n.op_type in CONTROL_FLOW_OPS]
    comparisons = [n for n in hits if n.op_type in COMPARISON_OPS]
    severity = Severity.HIGH if control or comparisons else Severity.MEDIUM
    ops = sorted({n.op_type for n in hits})
    return [Finding(PROBE, "STATIC-CTRLFLOW-001", severity, 0.8 if severity == Severity.HIGH else 0.5,
                    "the graph branches on its input values (" + ", ".join(ops) + "): a backdoor can be wired into "
                    "the graph itself; check what these nodes select",
                    {"ops": ops, "nodes": [n.name[:100] for n in hits[:20]], "count": len(hits)})]


ALL_CHECKS = (checker, versions, domains, graph_size, input_dependent_control_flow)


def run_static_checks(proto: onnx.ModelProto, *, external_tensors: int = 0,
                      source_format: str = "onnx") -> list[Finding]:
    findings = [f for check in ALL_CHECKS for f in check(proto)]
    if source_format == "torchscript":
        findings.append(Finding(PROBE, "STATIC-TORCHSCRIPT-001", Severity.LOW, 0.3,
                                "TorchScript file: it carries code, which torch executed to convert it to ONNX; "
                                "the graph audited is the converted one", {"format": "torchscript"}))
    if external_tensors:
        findings.append(Finding(PROBE, "STATIC-EXTDATA-001", Severity.INFO, 0.0,
                                f"{external_tensors} tensors stored as external data (checked: inside the "
                                "model's folder, no symlinks, sizes consistent)", {"tensors": external_tensors}))
    return findings
