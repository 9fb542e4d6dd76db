"""The Python a user picks for a new project is the one its environment gets."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

import pytest

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.environments import read_pyvenv_cfg
from jupyter_uv_kernels.pythons import available_pythons
from jupyter_uv_kernels.uvrunner import UvRunner, summarize_uv_error
from tests.conftest import in_sync

from .conftest import run_cli


def another_python() -> tuple[str, str]:
    """(version, path) of an interpreter here whose minor version is not the test's own."""
    found = _another_python()
    if found is None:
        pytest.skip("only one Python minor version is installed here")
    return found


@functools.cache
def _another_python() -> tuple[str, str] | None:
    """The machine's interpreters are looked up once for both parameters (each run of
    every interpreter takes a while on a busy machine; test_pythons tests the lookup)."""
    own = sys.version_info[:2]
    for p in asyncio.run(available_pythons(UvRunner(UvKernels()), max_age=0)):
        if tuple(int(x) for x in p.version.split(".")[:2]) != own:
            return p.version, p.path
    return None


@pytest.mark.parametrize("by", ["version", "path"])
def test_given_a_chosen_python_when_a_project_is_created_then_its_env_runs_exactly_that(
    tmp_path: Path, by: str
) -> None:
    version, path = another_python()
    minor = ".".join(version.split(".")[:2])
    root = tmp_path / "root"
    root.mkdir()
    project = root / "proj"
    # When `create --python 3.12` (or the interpreter's path, as the panel sends it) runs,
    # from a folder where no .python-version selects that version for pyenv's shims
    done = run_cli(
        "create", str(project), "--python", minor if by == "version" else path, "six",
        "--root", str(root),
    )  # fmt: skip
    # Then it succeeds without downloading, the env is that interpreter, and it is in sync
    assert done.returncode == 0, done.stderr
    assert "Downloading cpython" not in done.stderr
    cfg = read_pyvenv_cfg(str(project / ".venv")) or {}
    assert cfg.get("version_info", "").startswith(version)
    assert in_sync(project)
    # and the pin stays portable: a version, not this machine's path
    assert (project / ".python-version").read_text().strip() == minor


def test_given_a_failed_python_download_then_the_error_says_uv_tried_to_download() -> None:
    stderr = (
        "error: Failed to install cpython-3.12.16-linux-x86_64-gnu\n"
        "  cause: Failed to download https://github.com/astral-sh/python-build-standalone/"
        "releases/download/20261110/cpython-3.12.16%2B20261110-x86_64-unknown-linux-gnu-"
        "install_only_stripped.tar.gz\n"
        "  cause: failed to lookup address information: Name or service not known\n"
    )
    message = summarize_uv_error(stderr)
    assert message.startswith("uv tried to download CPython 3.12.16 because")
    assert "allow_python_downloads" in message


def test_given_a_pyenv_shim_then_the_error_names_it_and_the_fix(tmp_path: Path) -> None:
    # The real uv against a project pinned to a version only a failing shim offers.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.99"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    project = tmp_path / "p"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\nrequires-python = ">=3.8"\n'
    )
    (project / ".python-version").write_text("3.99\n")
    import os
    import subprocess

    env = {**os.environ, "PATH": f"{shims}:/usr/bin:/bin", "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(
        [sys.executable, "-m", "uv", "sync", "--project", str(project)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode != 0
    message = summarize_uv_error(done.stderr)
    assert "python3.99" in message and ("shim" in message or "No interpreter" in message)
    assert "--python /path/to/python" in message
