"""Session making: provider choice, CUDA options, thread pool settings, clear errors for bad devices."""

from __future__ import annotations

import pytest

from auditor.errors import ConfigError
from auditor.loading.session import _cuda_options, make_session
from tests.auditor import builders


@pytest.fixture()
def model_bytes(tmp_path):
    return builders.generator(tmp_path / "g.onnx").read_bytes()


def _spinning(session) -> str:
    return session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")


def test_cpu_session_threads_and_spinning(model_bytes):
    """Spinning idle threads only when the caller says the process has the CPU to itself; threads as asked."""
    quiet, provider = make_session(model_bytes, device="cpu", threads=1)
    assert provider == "CPUExecutionProvider" and _spinning(quiet) == "0"
    assert quiet.get_session_options().intra_op_num_threads == 1
    busy, _ = make_session(model_bytes, device="cpu", spinning=True)
    assert _spinning(busy) == "1"


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", "tpu"])
def test_bad_devices_are_config_errors(model_bytes, device):
    with pytest.raises(ConfigError, match="--device"):
        make_session(model_bytes, device=device)


def test_cuda_options_keep_fp32_and_pick_the_device():
    """TF32 would put GPU outputs ~1e-3 from the CPU's (measured 7e-3 on the fixture GAN): always off."""
    assert _cuda_options("cuda") == {"use_tf32": "0"}
    assert _cuda_options("cuda:1") == {"use_tf32": "0", "device_id": "1"}


def test_cuda_runs_on_cuda_or_says_why(model_bytes):
    """--device cuda never silently runs on the CPU: it gets the CUDA provider (a GPU machine) or a one-line
    config error saying CUDA was not usable (onnxruntime-gpu lists the provider on CPU-only machines too)."""
    try:
        _, provider = make_session(model_bytes, device="cuda")
    except ConfigError as exc:
        assert "CUDA" in str(exc) and "\n" not in str(exc)
    else:
        assert provider == "CUDAExecutionProvider"
