"""``jupyter uvkernel size|delete|copy|export``: the CLI on real uv envs (in process, or the
real console script in a user namespace where permission bits must apply)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


#: Runs the service (no HTTP) on a scan of ``root`` and tries every change on ``path``.
SERVICE_SCRIPT = """
import asyncio, json, sys
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.errors import UvKernelsError
from jupyter_uv_kernels.service import EnvironmentService

async def main(root, path):
    service = EnvironmentService(UvKernels(roots=[root], rescan_interval=0.0))
    service.start()
    await service.index.wait_for_scan()
    env = next(e for e in service.index.environments.values() if e.path == path)
    out = {"read_only": env.read_only}
    calls = {
        "sync": lambda: service.sync(env.id, {}),
        "add": lambda: service.add_packages(env.id, {"packages": ["idna"]}),
        "remove": lambda: service.remove_package(env.id, "six"),
        "delete": lambda: service.delete(env.id),
        "copy": lambda: service.create({"path": root + "/mine/svc-copy", "from": env.id}),
    }
    for name, call in calls.items():
        try:
            op = await call()
            out[name] = op.action
        except UvKernelsError as e:
            out[name] = [e.status, e.message]
    await service.stop()
    print(json.dumps(out))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_given_a_read_only_project_then_the_service_refuses_every_change_but_copy(
    group: Path,
) -> None:
    source = group / "shared"
    source.chmod(0o555)
    argv = [sys.executable, "-c", SERVICE_SCRIPT, str(group), str(source)]
    try:
        done = subprocess.run(
            ["unshare", "-U", *argv] if os.geteuid() == 0 else argv,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        source.chmod(0o755)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["read_only"] is True
    for change in ("sync", "add", "remove", "delete"):
        status, message = out[change]
        assert status == 409 and "read-only" in message and "copy" in message.lower(), change
    assert out["copy"] == "copy"


def test_given_a_project_whose_venv_is_a_symlink_when_deleted_then_only_the_link_goes(
    group: Path, tmp_path: Path
) -> None:
    project = group / "linked-proj"
    project.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        (project / name).write_bytes((group / "shared" / name).read_bytes())
    elsewhere = make_venv(tmp_path / "shared-venvs" / "env")
    (project / ".venv").symlink_to(elsewhere)
    done = run_cli("delete", str(project), "--yes", "--root", str(group))
    assert done.returncode == 0, done.stderr
    assert "Deleted the link" in done.stdout
    assert not os.path.lexists(project / ".venv")
    assert (elsewhere / "pyvenv.cfg").is_file() and (project / "uv.lock").is_file()
