"""TorchScript files, through torch (the optional `train` extra): checked, converted to ONNX, verified.

A TorchScript archive is code: ``torch.jit.load`` runs TorchScript's own restricted loader (it rebuilds tensors
and TorchScript classes, and calls no arbitrary Python), and the model's forward is TorchScript code that runs
when we convert it. Plain ``torch.save`` pickles are refused: loading them would unpickle. The converted graph
goes through the same ONNX path as any other model, so static checks and probes see exactly what ran, and it
is checked against the TorchScript module on a random batch before use.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np

from auditor.errors import ModelLoadError, map_runtime_errors

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript")
IMAGE_SIDES = (28, 32, 64, 16, 128)
PARITY_RTOL = 1e-3


def _check_archive(path: Path) -> None:
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path.name} is not a TorchScript archive (not a zip; legacy pickles are refused)")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not any("/code/" in n for n in names):
        raise ModelLoadError(f"{path.name} is a pickled torch checkpoint, not TorchScript: refused (it would need "
                             "unpickling); export the model with torch.jit.save or to ONNX")


def _candidate_shapes(module, latent_shape: tuple[int, ...] | None) -> list[tuple[int, ...]]:
    if latent_shape:
        return [tuple(latent_shape)]
    first = next((p for _, p in module.named_parameters() if p.dim() in (2, 4)), None)
    if first is None:
        return []
    if first.dim() == 2:
        return [(int(first.shape[1]),)]
    channels_in, channels_t = int(first.shape[1]), int(first.shape[0])  # Conv: [out, in, k, k]; ConvT: [in, out, ..]
    shapes = [(channels_in, s, s) for s in IMAGE_SIDES]
    shapes += [(channels_t, 1, 1)] + [(channels_t, s, s) for s in (2, 4, 7, 8)]
    return shapes


def torchscript_to_onnx(path: str | Path, latent_shape: tuple[int, ...] | None = None) -> tuple[bytes, str]:
    """Returns (ONNX bytes, what was done) for a TorchScript file; raises ModelLoadError."""
    path = Path(path)
    _check_archive(path)
    try:
        import torch
    except ImportError:
        raise ModelLoadError(f"{path.name}: TorchScript needs torch (pip install torch==2.13.0, then "
                             "pip install 'genaudit[train]'); or export the model to ONNX") from None
    with warnings.catch_warnings(), map_runtime_errors(f"torch could not load {path.name} as TorchScript",
                                                       ModelLoadError):
        warnings.simplefilter("ignore")  # torch.jit is deprecated in 2.13 but is still the way to read these files
        module = torch.jit.load(str(path), map_location="cpu").eval()
    arguments = [a.name for a in module.forward.schema.arguments][1:]
    if len(arguments) != 1:
        raise ModelLoadError(f"{path.name}: TorchScript forward takes {len(arguments)} inputs; only single-input "
                             "models are supported (export to ONNX instead)")
    example = None
    for shape in _candidate_shapes(module, latent_shape):
        x = torch.from_numpy(np.random.default_rng(0).random((2, *shape), dtype=np.float32))
        try:
            with torch.no_grad():
                reference = module(x)
        except Exception:
            continue
        if isinstance(reference, torch.Tensor):
            example = x
            break
    if example is None:
        raise ModelLoadError(f"{path.name}: could not find an input shape TorchScript accepts; pass --latent-shape")
    buffer = io.BytesIO()
    with warnings.catch_warnings(), map_runtime_errors(f"{path.name}: TorchScript to ONNX conversion failed",
                                                       ModelLoadError):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buffer, dynamo=False, opset_version=17, input_names=["input"],
                          output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    onnx_bytes = buffer.getvalue()
    _check_parity(onnx_bytes, module, example, path)
    shape = tuple(example.shape[1:])
    return onnx_bytes, (f"TorchScript file: it carries code, which torch ran to convert it to ONNX (input shape "
                        f"{shape} found by trial); the audit ran the converted graph, checked against torch")


def _check_parity(onnx_bytes: bytes, module, example, path: Path) -> None:
    import torch

    from auditor.loading.session import make_session

    session, _ = make_session(onnx_bytes, device="cpu")
    x = np.random.default_rng(1).random((3, *example.shape[1:]), dtype=np.float32)
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=PARITY_RTOL, atol=1e-4):
        raise ModelLoadError(f"{path.name}: the ONNX conversion does not reproduce the TorchScript outputs")
