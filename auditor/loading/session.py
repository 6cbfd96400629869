"""The one place onnxruntime sessions are made: provider choice, quiet CUDA fallback, thread settings."""

from __future__ import annotations

import importlib.util
import os

from auditor.errors import ConfigError, ModelLoadError, map_runtime_errors

DEVICES = ("auto", "cpu", "cuda")


def _ort():
    import onnxruntime as ort

    # onnxruntime-gpu prints CUDA loader errors on machines without a GPU before falling back; they are noise
    # to our users (the report says which provider ran).
    ort.set_default_logger_severity(4)
    return ort


def _preload_cuda_libraries(ort) -> None:
    """onnxruntime-gpu's `cuda`/`cudnn` extras (the `genaudit[cuda]` extra, the Docker cuda target) install the
    CUDA runtime and cuDNN as wheels under site-packages/nvidia, which the dynamic loader does not search; ORT's
    preload_dlls loads them. Without those wheels (system CUDA, or a CPU machine) there is nothing to do."""
    if importlib.util.find_spec("nvidia") is None or not hasattr(ort, "preload_dlls"):
        return
    try:
        ort.preload_dlls(directory="")
    except Exception:  # a missing or mismatched library: the CUDA provider then fails, and --device cuda says so
        return


def cuda_available() -> bool:
    return "CUDAExecutionProvider" in _ort().get_available_providers()


def _providers(device: str) -> list[str]:
    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)} or cuda:N, got {device!r}")
    if device == "cpu":
        return ["CPUExecutionProvider"]
    _preload_cuda_libraries(_ort())
    if device.startswith("cuda"):
        if not cuda_available():
            raise ConfigError(f"--device {device}: this onnxruntime build has no CUDA execution provider")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return (["CUDAExecutionProvider"] if cuda_available() else []) + ["CPUExecutionProvider"]


def _cuda_options(device: str) -> dict[str, str]:
    # TF32 (on by default in the CUDA provider) rounds convolution and matmul inputs to 10-bit mantissas: outputs
    # then differ from the CPU's by ~1e-3, which swamps the finite differences of query-only gradients and fails
    # the exact oracle's parity check against onnxruntime. An audit wants the model's fp32 behaviour.
    options = {"use_tf32": "0"}
    if ":" in device:
        options["device_id"] = device.split(":")[1]
    return options


def make_session(model_bytes: bytes, *, device: str = "auto", threads: int | None = None,
                 spinning: bool = False):
    """Builds an InferenceSession from already-checked, self-contained model bytes; returns (session, provider).

    Sessions are always made from bytes with every external tensor already inlined by the loader, so
    onnxruntime itself never opens a path named inside the model file.
    """
    ort = _ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 16))
    options.inter_op_num_threads = 1
    # Idle worker threads that spin instead of sleeping made the CPU provider ~25% faster per row (2 cores,
    # fixture GAN and CIFAR AE, median of 40 calls), but they burn the cores that torch or a sibling scan worker
    # need: the caller allows it only when this process has the CPU to itself.
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    providers = _providers(device)
    provider_options = [_cuda_options(device) if p == "CUDAExecutionProvider" else {} for p in providers]
    with map_runtime_errors("onnxruntime could not load the model", ModelLoadError):
        session = ort.InferenceSession(model_bytes, options, providers=providers, provider_options=provider_options)
    used = session.get_providers()[0]
    if device.startswith("cuda") and used != "CUDAExecutionProvider":
        raise ConfigError(f"--device {device}: CUDA was requested but onnxruntime fell back to {used} "
                          "(no usable GPU or CUDA runtime libraries)")
    return session, used
