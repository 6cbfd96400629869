"""The ground-truth manifest written beside exported models: what each file is, what was planted, how it scored.

The manifest is for tests, benchmarks and people. The auditor never reads it (third-party files come without
one), and nothing in it is needed to load a model.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def schema() -> dict:
    """The JSON schema of manifest.json, shipped with the package."""
    return json.loads(resources.files("trainer").joinpath("manifest.schema.json").read_text())


def write_manifest(directory: str | Path, header: dict, entries: list[dict]) -> Path:
    path = Path(directory) / MANIFEST_NAME
    doc = {"schema_version": SCHEMA_VERSION, **header, "models": sorted(entries, key=lambda e: e["file"])}
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


def read_manifest(directory: str | Path) -> dict:
    path = Path(directory) / MANIFEST_NAME
    doc = json.loads(path.read_text())
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: schema_version {doc.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    return doc
