"""Notebooks written by juv itself (from PyPI, ``uv tool run juv``, with the session uv
cache), and juv asked what it reads back: the other side of every round trip of issue 15."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import UV

#: The juv the round trips are checked against (the one the contract was read from).
JUV = "juv==0.5.0"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def juv(*args: str, cwd: Path | str | None = None, check: bool = True) -> str:
    """Run juv from PyPI; returns its stdout (raises with juv's stderr on failure)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_")}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        [UV, "tool", "run", "--from", JUV, "juv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"juv {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def juv_notebook(path: Path, *packages: str, lock: bool = False) -> Path:
    """``juv init`` (+ ``juv add``, + ``juv lock``): a notebook as a juv user has one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    juv("init", "--python", PY, str(path))
    if packages:
        juv("add", str(path), *packages)
    if lock:
        juv("lock", str(path))
    return path


def juv_block(path: Path) -> str:
    """The block juv reads from the notebook (``juv cat --script``), stripped."""
    text = juv("cat", "--script", str(path))
    start, end = text.index("# /// script"), text.index("# ///\n", text.index("# /// script") + 1)
    return text[start : end + len("# ///")]


def notebook_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def lock_versions(path: Path) -> dict[str, str]:
    """Package -> version in the notebook's lock (juv's metadata key)."""
    import tomllib

    lock = notebook_json(path)["metadata"]["uv.lock"]
    return {p["name"]: p["version"] for p in tomllib.loads(lock).get("package", [])}
