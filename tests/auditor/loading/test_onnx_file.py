"""The hostile and broken input corpus: every file is refused with a one-line ModelLoadError."""

from __future__ import annotations

import os

import onnx
import pytest

from auditor.errors import ModelLoadError
from auditor.loading import load_model
from auditor.loading.onnx_file import read_onnx
from auditor.loading.session import make_session
from tests.auditor import builders


def _expect_refused(path, match):
    with pytest.raises(ModelLoadError, match=match) as info:
        load_model(path, device="cpu")
    assert "\n" not in str(info.value)


def test_truncated_file(tmp_path):
    """A model cut in half fails to parse."""
    good = builders.generator(tmp_path / "g.onnx")
    (tmp_path / "t.onnx").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _expect_refused(tmp_path / "t.onnx", "not a valid ONNX|not an ONNX")


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, os.urandom(2048), b"<html>not a model</html>"],
                         ids=["empty", "zeros", "random", "html"])
def test_garbage(tmp_path, content):
    """Empty and garbage files are refused."""
    (tmp_path / "x.onnx").write_bytes(content)
    _expect_refused(tmp_path / "x.onnx", "empty|not a valid ONNX|not an ONNX")


def test_missing_and_directory(tmp_path):
    """A missing path and a folder are refused."""
    _expect_refused(tmp_path / "missing.onnx", "cannot read")
    (tmp_path / "dir.onnx").mkdir()
    _expect_refused(tmp_path / "dir.onnx", "not a regular file")


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "sub/../../x.bin", "..\\win.bin"])
def test_external_data_traversal(tmp_path, location):
    """External data outside the model's folder is refused before anything is read."""
    folder = tmp_path / "m"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 10000)
    path = builders.external_data_generator(folder / "g.onnx", location, write_data=False)
    _expect_refused(path, "outside|does not exist|regular file")


def test_external_data_through_symlink(tmp_path):
    """External data reached through a symlink is refused, even when the link points inside."""
    folder = tmp_path / "m"
    path = builders.external_data_generator((folder.mkdir() or folder) / "g.onnx", "weights.bin")
    (folder / "link.bin").symlink_to(folder / "weights.bin")
    model = onnx.load(str(path), load_external_data=False)
    for e in model.graph.initializer[0].external_data:
        if e.key == "location":
            e.value = "link.bin"
    onnx.save(model, str(path))
    _expect_refused(path, "symlink")


def test_external_data_size_claims(tmp_path):
    """A byte range larger than the data file (a 2 GiB claim) is refused."""
    path = builders.external_data_generator(tmp_path / "g.onnx", "w.bin", claimed_length=2**31)
    _expect_refused(path, "claims bytes|declares")


def test_valid_external_data_is_inlined(tmp_path):
    """Checked external data inside the folder loads, and the session never needs the file again."""
    path = builders.external_data_generator(tmp_path / "g.onnx", "data/w.bin")
    loaded = read_onnx(path)
    assert loaded.external_tensors == 1
    (tmp_path / "data" / "w.bin").unlink()
    assert onnx.load_model_from_string(loaded.model_bytes).graph.initializer[0].data_location == 0
    session, _ = make_session(loaded.model_bytes, device="cpu")
    assert session.get_inputs()[0].name == "z"


def test_custom_domain_cannot_load(tmp_path):
    """A private-domain operator fails to load in onnxruntime: refused, one line."""
    _expect_refused(builders.custom_domain_generator(tmp_path / "c.onnx"), "onnxruntime could not load")


def test_non_archive_pt_is_refused(tmp_path):
    """A .pt file that is not a zip archive (a legacy pickle, or garbage) is refused; nothing is unpickled."""
    (tmp_path / "m.pt").write_bytes(b"\x80\x04\x95 pickle bytes")
    _expect_refused(tmp_path / "m.pt", "not a TorchScript archive")
