"""Writing the clusters: the whole folder is built under a temporary name beside ``DIR`` and
renamed into place, so a killed run leaves no ``DIR/domains.json`` at all, never half of one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mixopt.io import write_json_atomic, write_text_atomic

__all__ = [
    "CLUSTERS_FILE",
    "DOMAINS_FILE",
    "domain_entries",
    "write_domains",
    "write_folder",
    "write_jsonl",
]

DOMAINS_FILE = "domains.json"
CLUSTERS_FILE = "clusters.json"


def write_folder(out: Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(tmp)`` on a fresh folder beside ``out``, then rename it to ``out`` (which
    must not exist, or be empty). Anything that fails or interrupts ``fill`` removes it."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the result is an ordinary folder
        os.replace(tmp, out)  # rename(2) replaces a missing or empty folder in one step
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def domain_entries(names: list[str], sizes: list[int], fmt: str) -> list[dict[str, Any]]:
    """The domains file's entries: one domain per cluster, its records in ``NAME.jsonl``."""
    return [
        {"domain": name, "path": f"{name}.jsonl", "format": fmt, "num": size}
        for name, size in zip(names, sizes, strict=True)
    ]


def write_domains(folder: Path, entries: list[dict[str, Any]]) -> None:
    write_json_atomic(folder / DOMAINS_FILE, entries)
