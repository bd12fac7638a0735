"""Dataset manifests: one JSON object per line with at least ``path`` and ``caption``.

Paths are relative to the manifest's folder, so a dataset folder can be moved or copied.
Optional keys: ``num_frames``, ``height``, ``width``, ``fps`` (used for bucketing without
opening every file) and ``scene`` (a Shapes World scene graph, for scoring).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kinema.errors import ManifestError

MANIFEST_NAME = "manifest.jsonl"


def resolve_manifest(path: str | Path) -> Path:
    """Accept a manifest file or a folder holding ``manifest.jsonl``."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(
            f"{path}: no manifest here; create one with `kinema data synth --out DIR`"
        )
    return path


def read_manifest(path: str | Path) -> list[dict[str, Any]]:
    """Entries of a manifest, each with ``path`` made absolute. Raises ``ManifestError``."""
    path = resolve_manifest(path)
    root = path.parent
    entries = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise ManifestError(f"{path}:{n}: not valid JSON ({e.msg})") from e
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise ManifestError(f'{path}:{n}: each line needs a "path" string')
        if not isinstance(entry.get("caption", ""), str):
            raise ManifestError(f'{path}:{n}: "caption" must be a string')
        entry["path"] = str((root / entry["path"]).resolve())
        entries.append(entry)
    if not entries:
        raise ManifestError(f"{path}: the manifest has no entries")
    return entries


def write_manifest(entries: Iterable[dict[str, Any]], path: str | Path) -> Path:
    """Write entries atomically (temp file, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with tmp.open("w") as f:
            for e in entries:
                f.write(json.dumps(e, separators=(",", ":")) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
