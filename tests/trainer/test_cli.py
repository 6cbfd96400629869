"""The `trainer` command line through click's CliRunner: one real quick build, and clear usage errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from trainer.cli import cli


@pytest.fixture()
def runner():
    return CliRunner()


def test_ae_command_builds_and_records_ground_truth(runner, tmp_path):
    """`trainer ae` trains, exports and merges its ground truth into OUT/manifest.json."""
    result = runner.invoke(cli, ["ae", "--dataset", "digits", "--target", "inverse", "--epochs", "1",
                                 "--width", "8", "--trigger-x", "20", "--trigger-y", "2", "--trigger-size", "3",
                                 "--trigger-color", "1,0,0", "--no-progress", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "manifest.json").read_text())
    (entry,) = doc["models"]
    assert entry["file"] == "ae_digits_inverse.onnx" and (tmp_path / entry["file"]).exists()
    assert entry["trigger"] == {"type": "patch", "x": 20, "y": 2, "size": 3, "color": [1.0, 0.0, 0.0]}
    assert entry["target"] == {"type": "inverse"}


@pytest.mark.parametrize("args,message", [
    (["ae", "--trigger-color", "purple-ish"], "colour"),
    (["ae", "--trigger-x", "27", "--trigger-size", "4"], "leaves"),
    (["ae", "--poison-share", "1.5"], "poison-share"),
    (["gan", "--trigger-dims", "1,2", "--trigger-values", "3"], "one value per"),
    (["gan", "--trigger-dims", "x"], "integers"),
    (["gan", "--classifier-weight", "-1"], "classifier-weight"),
    (["vae", "--regularizer", "tc", "--deterministic"], "stochastic"),
    (["ae", "--dataset", "mnist"], "--data-dir"),
])
def test_bad_flags_are_usage_errors(runner, tmp_path, args, message):
    """Bad flags exit 2 with a one-line reason and no traceback."""
    result = runner.invoke(cli, [*args, "--out", str(tmp_path), "--no-progress", "--epochs", "1"]
                           if args[0] == "ae" else [*args, "--out", str(tmp_path), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_verify_without_manifest_exits_3(runner, tmp_path):
    """`trainer verify` on a folder with no manifest is exit 3 with a one-line error."""
    result = runner.invoke(cli, ["verify", str(tmp_path)])
    assert result.exit_code == 3
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1


def test_verify_committed_fixtures(runner, fixtures_dir):
    """`trainer verify fixtures` lists every model and exits 1 exactly when a known miss remains."""
    from tests.trainer.test_verify import KNOWN_MISSES

    result = runner.invoke(cli, ["verify", str(fixtures_dir)])
    assert result.exit_code == (1 if KNOWN_MISSES else 0), result.output
    assert f" {len(KNOWN_MISSES)} failed" in result.output
    for name in KNOWN_MISSES:
        assert f"FAIL {name}" in result.output
