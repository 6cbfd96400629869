"""The `auditor` command line through click's CliRunner: exit codes, formats, outputs and hostile inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.report.json_report import schema
from tests.auditor import builders


@pytest.fixture()
def runner():
    return CliRunner()


def _scan(runner, *args):
    return runner.invoke(cli, ["scan", *map(str, args), "--device", "cpu", "--no-progress"])


def test_static_risk_exits_1_and_writes_json(runner, tmp_path):
    """A hand-wired backdoor exits 1; --format json -o writes a schema-valid report and a summary to stderr."""
    model = builders.wired_backdoor_generator(tmp_path / "w.onnx")
    out = tmp_path / "report.json"
    result = _scan(runner, model, "--format", "json", "-o", out)
    assert result.exit_code == 1, result.output
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, schema())
    assert doc["exit_code"] == 1 and "RISK" in result.output


def test_fail_on_critical_lets_high_pass(runner, tmp_path):
    """With --fail-on critical a high static finding no longer fails the gate: exit 0."""
    result = _scan(runner, builders.wired_backdoor_generator(tmp_path / "w.onnx"), "--fail-on", "critical",
                   "--preset", "quick", "--probes", "robustness.latent_pgd")
    assert result.exit_code == 0, result.output


def test_wired_backdoor_is_critical_behaviourally(runner, tmp_path):
    """The same graph under the trigger scan: its switch is found by behaviour, critical, so even
    --fail-on critical fails the gate."""
    result = _scan(runner, builders.wired_backdoor_generator(tmp_path / "w.onnx"), "--fail-on", "critical",
                   "--probes", "trigger.latent")
    assert result.exit_code == 1 and "TRIG-LATENT-001" in result.output, result.output


def test_two_dimension_backdoor_is_recovered_by_reverse_engineering(runner, tmp_path):
    """A trigger over two dimensions, each harmless alone: the reverse-engineering probe names both (exit 1)."""
    path = builders.wired_pair_backdoor_generator(tmp_path / "p.onnx", latent=32, dims=(5, 20))
    out = tmp_path / "r.json"
    result = _scan(runner, path, "--probes", "trigger.latent_reverse", "--format", "json", "-o", out)
    assert result.exit_code == 1, result.output
    finding = json.loads(out.read_text())["results"][0]["findings"][0]
    assert finding["code"] == "TRIG-REVERSE-001" and sorted(finding["evidence"]["trigger"]["dims"]) == [5, 20]


def test_class_mix_scan_flags_the_fixture_backdoor_with_a_classifier(runner, tmp_path, fixtures_dir):
    """--classifier enables the class-mix scan: the fixed-image GAN's trigger unit narrows the mix to one class."""
    out = tmp_path / "c.json"
    result = _scan(runner, fixtures_dir / "gan_mnist_fixed.onnx", "--probes", "trigger.latent_classes",
                   "--classifier", fixtures_dir / "mnist_classifier.onnx", "--format", "json", "-o", out)
    assert result.exit_code == 1, result.output
    finding = json.loads(out.read_text())["results"][0]["findings"][0]
    assert finding["code"] == "TRIG-CLASS-001" and finding["evidence"]["trigger"]["dims"] == [42]


def test_class_subset_fixture_fails_the_gate_through_its_weights(runner, tmp_path, fixtures_dir):
    """gan_mnist_classes (digits 0-4 when z[99] = +4) fails the default gate without a classifier: the latent
    weight scan names unit 99 at high; the SARIF report carries the finding."""
    out = tmp_path / "w.sarif"
    result = _scan(runner, fixtures_dir / "gan_mnist_classes.onnx", "--probes", "trigger.latent_weights",
                   "--format", "sarif", "-o", out)
    assert result.exit_code == 1, result.output
    results = json.loads(out.read_text())["runs"][0]["results"]
    assert any(r["ruleId"] == "TRIG-WEIGHT-001" and "99" in r["message"]["text"] for r in results)


def test_unusable_classifier_is_a_usage_error(runner, tmp_path):
    """A classifier that does not take the generator's images: exit 2, one line naming the flag."""
    generator = builders.generator(tmp_path / "g.onnx")
    wrong = builders.classifier(tmp_path / "c.onnx", image=(3, 12, 12))
    result = _scan(runner, generator, "--probes", "trigger.latent_classes", "--classifier", wrong)
    assert result.exit_code == 2 and "--classifier c.onnx" in result.output, result.output
    assert "Traceback" not in result.output


def test_no_applicable_probe_exits_4(runner, tmp_path):
    """Asking only for a generator probe on an autoencoder leaves nothing to audit: exit 4."""
    result = _scan(runner, builders.autoencoder(tmp_path / "a.onnx"), "--probes", "robustness.latent_pgd")
    assert result.exit_code == 4 and "NOT AUDITABLE" in result.output


def test_non_image_model_is_not_auditable_and_does_not_fail_a_folder(runner, tmp_path):
    """A classifier-like model (no image output) is out of scope, not broken: exit 4 with the reason; beside a
    backdoored generator the folder exits 1 (precedence 3 > 1 > 4 > 0), not 3."""
    folder = tmp_path / "models"
    folder.mkdir()
    builders.generator(folder / "flat.onnx", flat_output=True, image=(1, 5, 7))
    result = _scan(runner, folder / "flat.onnx")
    assert result.exit_code == 4 and "not an image" in result.output
    builders.wired_backdoor_generator(folder / "wired.onnx")
    result = _scan(runner, folder)
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("fmt,marker", [("text", "PASS"), ("html", "<!doctype html>"),
                                        ("sarif", '"version": "2.1.0"'), ("json", '"schema_version": 1')])
def test_formats_to_stdout(runner, tmp_path, fmt, marker):
    """Each format renders to stdout from the same record; the PGD probe's curves reach JSON and HTML."""
    result = _scan(runner, builders.generator(tmp_path / "g.onnx"), "--format", fmt, "--preset", "quick")
    assert result.exit_code == 0 and marker in result.output
    if fmt in ("json", "html"):
        assert "SSIM vs eps" in result.output


@pytest.mark.parametrize("make", [
    lambda p: p.write_bytes(b"") or p,
    lambda p: p.write_bytes(os.urandom(512)) or p,
    lambda p: builders.nan_generator(p),
    lambda p: builders.custom_domain_generator(p),
    lambda p: builders.external_data_generator(p, "../escape.bin", write_data=False),
    lambda p: builders.external_data_generator(p, "w.bin", claimed_length=2**31),
    lambda p: builders.odd_input_generator(p, ["N"]),
    lambda p: builders.odd_input_generator(p, ["N", 0]),
    lambda p: builders.odd_input_generator(p, ["N", 3, 0, 0]),
], ids=["empty", "random", "nan", "custom-domain", "traversal", "size-claim", "rank-1", "zero-dim", "zero-image"])
def test_hostile_inputs_exit_3_with_one_line_and_write_only_output(runner, tmp_path, make):
    """Broken and hostile files: exit 3, one line of error, no traceback, nothing written but --output."""
    folder = tmp_path / "in"
    folder.mkdir()
    model = make(folder / "m.onnx")
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "r.json"
    result = _scan(runner, model, "--format", "json", "-o", out)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    report = json.loads(out.read_text())
    assert report["error"] and "\n" not in report["error"]
    assert {p for p in tmp_path.rglob("*")} - before == {out}


def test_html_injection_in_names(runner, tmp_path):
    """Markup in the model's producer name is escaped in the HTML report."""
    model = builders.generator(tmp_path / "g.onnx", producer="<script>alert(1)</script>")
    result = _scan(runner, model, "--format", "html")
    assert "<script>alert" not in result.output and "&lt;script&gt;" in result.output


@pytest.mark.parametrize("args,message", [
    (["--fail-on", "severe"], "fail-on"), (["--format", "pdf"], "format"), (["--probes", "no.such"], "unknown probe"),
    (["--device", "tpu"], "device"), (["--range", "1,0"], "LOW < HIGH"), (["--latent-shape", "a,b"], "numbers"),
    (["--data", "/nonexistent-folder"], "folder"),
])
def test_bad_flags_exit_2(runner, tmp_path, args, message):
    """Bad flags are usage errors: exit 2 with the reason."""
    result = runner.invoke(cli, ["scan", str(builders.generator(tmp_path / "g.onnx")), *args, "--no-progress"])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_inspect_and_probes(runner, tmp_path):
    """`inspect` prints kind and shapes (or JSON); `probes` lists the registry."""
    model = builders.generator(tmp_path / "g.onnx", latent=(16, 1, 1))
    result = runner.invoke(cli, ["inspect", str(model), "--device", "cpu"])
    assert result.exit_code == 0 and "generator" in result.output and "(16, 1, 1)" in result.output
    doc = json.loads(runner.invoke(cli, ["inspect", str(model), "--json", "--device", "cpu"]).output)
    assert doc["model"]["latent_shape"] == [16, 1, 1]
    assert runner.invoke(cli, ["probes"]).exit_code == 0
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"x")
    result = runner.invoke(cli, ["inspect", str(bad)])
    assert result.exit_code == 3 and result.output.startswith("error:")


def test_render_existing_report(runner, tmp_path):
    """`render` turns a JSON report into HTML; a non-report is a usage error."""
    out = tmp_path / "r.json"
    _scan(runner, builders.generator(tmp_path / "g.onnx"), "--format", "json", "-o", out)
    html = tmp_path / "r.html"
    assert runner.invoke(cli, ["render", str(out), "-o", str(html)]).exit_code == 0
    assert html.read_text().startswith("<!doctype html>")
    (tmp_path / "junk.json").write_text("[1, 2]")
    assert runner.invoke(cli, ["render", str(tmp_path / "junk.json")]).exit_code == 2


def test_data_folder_is_used_for_autoencoders(runner, tmp_path):
    """--data feeds the user's images to autoencoder probes (resized to the model's input)."""
    import numpy as np
    from PIL import Image

    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        Image.fromarray(np.full((20, 20), 40 * i, dtype=np.uint8)).save(images / f"{i}.png")
    result = _scan(runner, builders.autoencoder(tmp_path / "a.onnx"), "--data", images, "--format", "json")
    assert result.exit_code == 0, result.output
    patch = next(r for r in json.loads(result.output)["results"] if r["probe"] == "trigger.patch")
    assert patch["status"] == "completed" and "--data" in patch["findings"][0]["evidence"]["images"]


def test_folder_scan_aggregates_and_exits_worst(runner, tmp_path):
    """A folder of models gives one aggregated report and the worst exit code (3 over 1 over 0)."""
    folder = tmp_path / "models"
    folder.mkdir()
    builders.generator(folder / "a_clean.onnx")
    builders.wired_backdoor_generator(folder / "b_wired.onnx")
    (folder / "c_broken.onnx").write_bytes(b"broken")
    (folder / "notes.txt").write_text("not a model")
    out = tmp_path / "all.json"
    result = _scan(runner, folder, "--format", "json", "-o", out, "--preset", "quick", "--jobs", "2")
    assert result.exit_code == 3, result.output
    doc = json.loads(out.read_text())
    codes = {Path(r["model_path"]).name: r["exit_code"] for r in doc["reports"]}
    assert codes == {"a_clean.onnx": 0, "b_wired.onnx": 1, "c_broken.onnx": 3}
    cores = len(os.sched_getaffinity(0))
    for r in doc["reports"]:
        jsonschema.validate(r, schema())
        # two workers share the cores instead of each taking all of them
        assert r["engine"] is None or r["engine"]["threads"] == max(1, cores // 2)
    html = _scan(runner, folder / "a_clean.onnx", folder / "b_wired.onnx", "--format", "html", "--preset", "quick")
    assert html.exit_code == 1 and "<h1>Summary</h1>" in html.output


def test_empty_folder_is_a_usage_error(runner, tmp_path):
    """A folder with no model files is exit 2."""
    (tmp_path / "empty").mkdir()
    assert _scan(runner, tmp_path / "empty").exit_code == 2


def test_invert_command_text_json_and_errors(runner, tmp_path, monkeypatch):
    """`auditor invert`: one verdict line per image (or JSON); bad images and non-generators exit 2, broken models 3.
    (Inversion itself is tested in tests/auditor/test_inversion.py; here it runs short.)"""
    import numpy as np
    from PIL import Image

    from auditor import runner as runner_module

    monkeypatch.setattr(runner_module, "INVERT_PARAMS", {"restarts": 2, "steps": 100, "refine_steps": 20})
    gen = builders.generator(tmp_path / "g.onnx")
    noise = tmp_path / "noise.png"
    Image.fromarray((np.random.default_rng(4).random((12, 12)) * 255).astype(np.uint8)).save(noise)
    result = runner.invoke(cli, ["invert", str(gen), str(noise), "--gradients", "exact", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "threshold MSE" in result.output and "not from generator" in result.output
    result = runner.invoke(cli, ["invert", str(gen), str(noise), "--gradients", "exact", "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["images"][0]["from_generator"] is False
    assert runner.invoke(cli, ["invert", str(gen), str(tmp_path / "none.png")]).exit_code == 2
    assert runner.invoke(cli, ["invert", str(builders.autoencoder(tmp_path / "ae.onnx")), str(noise)]).exit_code == 2
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = runner.invoke(cli, ["invert", str(broken), str(noise)])
    assert result.exit_code == 3 and result.output.count("\n") == 1


def test_gradient_and_latent_flags(runner, tmp_path):
    """--gradients picks the oracle the report names; a bad --latents file is a usage error (exit 2)."""
    import numpy as np

    gen = builders.generator(tmp_path / "g.onnx")
    result = _scan(runner, gen, "--probes", "robustness.latent_pgd", "--gradients", "exact", "--format", "json")
    assert result.exit_code == 0, result.output
    evidence = json.loads(result.output)["results"][0]["findings"][0]["evidence"]
    assert evidence["gradient"] == "exact"
    bad = tmp_path / "z.npy"
    np.save(bad, np.zeros((3, 5), np.float32))
    result = _scan(runner, gen, "--latents", bad)
    assert result.exit_code == 2 and "--latents" in result.output
    assert _scan(runner, gen, "--gradients", "magic").exit_code == 2


def test_pgd_norm_and_target_flags(runner, tmp_path):
    """--pgd-norm and --pgd-target configure the robustness probe; the report says what ran."""
    import numpy as np
    from PIL import Image

    gen = builders.generator(tmp_path / "g.onnx")
    target = tmp_path / "t.png"
    Image.fromarray((np.random.default_rng(1).random((20, 20)) * 255).astype(np.uint8)).save(target)
    result = _scan(runner, gen, "--probes", "robustness.latent_pgd", "--pgd-norm", "l2", "--pgd-target", target,
                   "--format", "json")
    assert result.exit_code == 0, result.output
    finding = json.loads(result.output)["results"][0]["findings"][0]
    assert finding["evidence"]["norm"] == "l2" and finding["evidence"]["targeted"] is True
    assert "--pgd-target image" in finding["summary"]
    result = _scan(runner, gen, "--probes", "robustness.latent_pgd", "--pgd-target", "black", "--format", "json")
    assert "all-black" in json.loads(result.output)["results"][0]["findings"][0]["summary"]
    result = _scan(runner, gen, "--pgd-target", tmp_path / "missing.png")
    assert result.exit_code == 2 and "--pgd-target" in result.output
