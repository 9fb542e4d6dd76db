"""``jupyter uvkernel size|delete|copy|export``: the real console script on real uv envs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_project, make_venv, uv

from .conftest import run_cli


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Path:
    """A root with a project and a venv, built once for the module."""
    root = Path(os.path.realpath(tmp_path_factory.mktemp("cli-lifecycle")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        make_project(root / "shared", "six==1.15.0")
        make_venv(root / "tools", "iniconfig==2.0.0")
    return root


def freeze(venv: Path) -> list[str]:
    python = str(venv / "bin" / "python")
    return uv("pip", "freeze", "--exclude-editable", "--python", python).stdout.splitlines()


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def test_given_an_env_when_sized_then_the_cli_says_what_du_says(group: Path) -> None:
    done = run_cli("size", str(group / "tools"), "--json", "--root", str(group))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["complete"] and answer["bytes"] == du_bytes(group / "tools")
    tiny = run_cli(
        "size", str(group / "tools"), "--UvKernels.size_time_budget=0.00001", "--root", str(group)
    )
    assert tiny.stdout.startswith("at least ") and "size_time_budget" in tiny.stderr
    assert f" files: {group / 'tools'}" in tiny.stdout


def test_given_a_project_when_exported_then_stdout_or_a_file_has_the_lock(
    group: Path, tmp_path: Path
) -> None:
    printed = run_cli("export", str(group / "shared"), "--root", str(group))
    assert printed.returncode == 0, printed.stderr
    assert "six==1.15.0" in printed.stdout and "--hash=sha256:" in printed.stdout
    out = tmp_path / "pylock.toml"
    written = run_cli(
        "export", str(group / "shared"), "--format", "pylock.toml", "-o", str(out),
        "--root", str(group),
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert 'name = "six"' in out.read_text() and 'version = "1.15.0"' in out.read_text()
    frozen = run_cli("export", str(group / "tools"), "--root", str(group))
    assert frozen.stdout.splitlines() == freeze(group / "tools")


def test_given_a_venv_when_deleted_then_it_asks_for_yes_and_refuses_outside_roots(
    group: Path, tmp_path: Path
) -> None:
    doomed = make_venv(group / "doomed")
    asked = run_cli("delete", str(doomed), "--root", str(group))
    assert asked.returncode == 2 and "--yes" in asked.stderr and doomed.is_dir()
    outside = make_venv(tmp_path / "elsewhere")
    refused = run_cli("delete", str(outside), "--yes", "--root", str(group))
    assert refused.returncode == 2 and "--root" in refused.stderr and outside.is_dir()
    done = run_cli("delete", str(doomed), "--yes", "--root", str(group))
    assert done.returncode == 0, done.stderr
    assert "Deleted the venv" in done.stdout and not doomed.exists()


def test_given_a_venv_when_copied_then_the_copy_has_its_packages(group: Path) -> None:
    target = group / "mine" / "tools-copy"
    done = run_cli("copy", str(group / "tools"), str(target), "--root", str(group))
    assert done.returncode == 0, done.stderr
    assert freeze(target) == freeze(group / "tools")


def test_given_a_read_only_project_then_it_is_listed_so_cannot_be_deleted_but_can_be_copied(
    group: Path,
) -> None:
    # Root ignores permission bits: the CLI runs in a user namespace (unshare -U).
    source = group / "shared"
    lock = (source / "uv.lock").read_bytes()
    source.chmod(0o555)
    try:
        listed = run_cli("list", "--json", "--root", str(group), unprivileged=True)
        records = {e["path"]: e for e in json.loads(listed.stdout)["environments"]}
        assert records[str(source)]["read_only"] is True
        assert records[str(group / "tools")]["read_only"] is False
        refused = run_cli("delete", str(source), "--yes", "--root", str(group), unprivileged=True)
        assert refused.returncode == 2 and "read-only" in refused.stderr
        assert (source / ".venv").is_dir()
        fork = group / "mine" / "fork"
        copied = run_cli("copy", str(source), str(fork), "--root", str(group), unprivileged=True)
        assert copied.returncode == 0, copied.stderr
    finally:
        source.chmod(0o755)
    assert (fork / "uv.lock").read_bytes() == lock
    assert freeze(fork / ".venv") == freeze(source / ".venv")
    assert os.access(fork / "pyproject.toml", os.W_OK), "the copy is the user's own"
