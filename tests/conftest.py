"""Shared fixtures: hermetic HOME/Jupyter dirs, a session-wide uv cache, real uv envs.

Every test runs with HOME, JUPYTER_DATA_DIR, JUPYTER_CONFIG_DIR and JUPYTER_RUNTIME_DIR in
tmp dirs (pytest-jupyter's ``jp_environ`` does the same for server tests), so nothing reads
or writes the real ``~``. The uv cache is shared by the whole session so each package is
downloaded once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)

REPO = Path(__file__).resolve().parent.parent
_VENV_UV = Path(sys.executable).parent / "uv"
UV = str(_VENV_UV) if _VENV_UV.exists() else (shutil.which("uv") or "uv")

#: The base interpreter behind the test venv: environments are made from it, like a
#: researcher's `uv venv --python 3.11` would.
PYTHON = os.path.realpath(sys.executable)


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uv cache for the whole test session (each package downloads once)."""
    preset = os.environ.get("UV_KERNELS_TEST_UV_CACHE")
    if preset:
        return Path(preset)
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(autouse=True)
def hermetic_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, uv_cache_dir: Path
) -> Iterator[Path]:
    """HOME and the Jupyter dirs in tmp; uv pointed at the session cache; no conda leakage."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(home / ".local/share/jupyter"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home / ".jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(home / ".local/share/jupyter/runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache_dir))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    monkeypatch.setenv("UV_NO_PROGRESS", "1")
    for key in list(os.environ):
        if key.startswith("CONDA_") or key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
            monkeypatch.delenv(key, raising=False)
    yield home


def uv(
    *args: str, cwd: Path | str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real uv (for building fixtures; the code under test has its own runner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONDA_")}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [UV, *args], cwd=cwd, env=env, check=check, capture_output=True, text=True
    )


def make_project(path: Path, *packages: str, sync: bool = True) -> Path:
    """A real uv project (``uv init`` + ``uv add``), like a researcher makes one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", path.name.lower()).strip("-") or "project"
    uv("init", "--no-workspace", "--vcs", "none", "--name", name, "--python", PYTHON, str(path))
    if packages:
        uv("add", "--project", str(path), *([] if sync else ["--no-sync"]), "--", *packages)
    elif sync:
        uv("sync", "--project", str(path))
    return path


def make_venv(path: Path, *packages: str, plain: bool = False) -> Path:
    """A real ``uv venv`` (or, with ``plain``, a stdlib ``python -m venv``) with packages."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if plain:
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(path)], check=True)
    else:
        uv("venv", "--python", PYTHON, str(path))
    if packages:
        uv("pip", "install", "--python", str(path / "bin" / "python"), "--", *packages)
    return path
