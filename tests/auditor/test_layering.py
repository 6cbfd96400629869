"""The auditor's core never imports torch (it must run where torch is not installed)."""

from __future__ import annotations

import subprocess
import sys


def test_scan_does_not_import_torch(tmp_path):
    """A full scan through the CLI leaves torch out of sys.modules."""
    from tests.auditor import builders

    model = builders.generator(tmp_path / "g.onnx")
    code = ("import sys; from click.testing import CliRunner; from auditor.cli import cli; "
            f"r = CliRunner().invoke(cli, ['scan', {str(model)!r}, '--device', 'cpu', '--format', 'json']); "
            "assert r.exit_code == 0, r.output; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
