#!/usr/bin/env bash
# Replays the Dockerfile's CPU install steps without a Docker engine: a clean venv, `pip install .` (no torch),
# then the image's entry point on a shipped fixture, run as the Dockerfile runs it (from a reports folder, with
# the models folder read-only). Exits non-zero on any failure. Used by CI (.ci/run) and docs/ci.md.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Steps that must match the Dockerfile (checked here so the two cannot drift apart silently).
grep -q "^RUN pip install \. " "$repo/Dockerfile"
grep -q "^RUN pip install '\.\[cuda\]' " "$repo/Dockerfile"
grep -q '^USER auditor' "$repo/Dockerfile"
grep -q '^ENTRYPOINT \["auditor"\]' "$repo/Dockerfile"

python3 -m venv "$work/venv"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/auditor" "$repo/trainer" "$work/"
mkdir -p "$work/src" && mv "$work/pyproject.toml" "$work/README.md" "$work/auditor" "$work/trainer" "$work/src/"
(cd "$work/src" && PIP_NO_CACHE_DIR=1 "$work/venv/bin/pip" install -q .)

mkdir -p "$work/models" "$work/reports"
cp "$repo/fixtures/gan_mnist_fixed.onnx" "$repo/fixtures/vae_mnist_kld_vae.onnx" "$work/models/"
chmod -R a-w "$work/models"
cd "$work/reports"
export XDG_CACHE_HOME="$work/cache"
"$work/venv/bin/auditor" --version
set +e
"$work/venv/bin/auditor" scan "$work/models" --fail-on high --format sarif -o "$work/reports/auditor.sarif" \
    --no-progress
code=$?
set -e
"$work/venv/bin/python" - "$work/reports/auditor.sarif" <<'PY'
import json, sys
sarif = json.load(open(sys.argv[1]))
assert sarif["version"] == "2.1.0" and sarif["runs"], "not a SARIF 2.1.0 log"
PY
if "$work/venv/bin/python" -c "import torch" 2>/dev/null; then
  echo "check-install: torch is installed in the image's environment (it must not be)" >&2
  exit 1
fi
if [ "$code" -ne 1 ]; then
  echo "check-install: expected exit 1 (the backdoored fixture), got $code" >&2
  exit 1
fi
echo "check-install: CPU image steps OK (clean venv, no torch, folder scan exit 1, SARIF written)"
