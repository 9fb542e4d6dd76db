"""Kernels started by a live server: sync_on_start, actionable errors, uv-project, `!uv add`.

Our kernelspecs name no provisioner; the server extension makes ``uv-provisioner`` the
server's default, so all of this must still happen when JupyterLab starts a kernel.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels.kernelspecs import PROJECT_KERNEL_NAME
from tests.conftest import in_sync, make_project, make_venv, uv

from .conftest import Api, run_in_kernel

PREFIX = "import sys; print(sys.prefix)"


@pytest.fixture
def sync_mode() -> str:
    return "check"


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], sync_mode: str) -> dict[str, Any]:
    return {**uv_kernels_config, "sync_on_start": sync_mode}


@pytest.fixture
def project(uv_root: Path) -> Path:
    return make_project(uv_root / "kproj", "ipykernel", "six")


def out_of_sync(project: Path) -> None:
    """Remove a locked package by hand: the env now lags its uv.lock."""
    uv("pip", "uninstall", "--python", str(project / ".venv/bin/python"), "six")
    assert uv("sync", "--check", "--project", str(project), check=False).returncode == 1


async def kernel_of(api: Api, path: Path) -> str:
    env = await api.env_at(path, rescan=True)
    assert env["kernel"], env
    return str(env["kernel"])


async def start_fails(api: Api, kernel: str, path: str | None = None) -> str:
    """POST /api/kernels must fail; returns the message JupyterLab shows."""
    body = {"name": kernel, **({"path": path} if path is not None else {})}
    reply = await api.fetch(
        "api", "kernels", method="POST", body=json.dumps(body), raise_error=False
    )
    assert reply.code == 409, reply.body
    message: str = json.loads(reply.body)["message"]
    assert "Traceback" not in message
    # JupyterLab shows it in a <pre>: every line fits, and the fix is a line of its own
    lines = message.splitlines()
    # (a path longer than the box is the one thing that cannot be broken)
    prose = [line for line in lines if not line.startswith(("Fix", "Or ")) and " " in line]
    assert all(len(line) <= 78 for line in prose), lines
    assert any(line.startswith(("Fix", "Or ")) for line in lines), lines
    return " ".join(message.split())  # the text, whatever the line breaks


def in_root_dir(jp_root_dir: Path, source: Path, name: str) -> Path:
    """A copy of ``source`` under the server's root_dir (a colleague's clone)."""
    copy = jp_root_dir / name
    shutil.copytree(source, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    return copy


# -- sync_on_start in a live server --------------------------------------------------------


@pytest.mark.parametrize("sync_mode", ["sync"])
async def test_given_sync_mode_when_an_out_of_sync_kernel_starts_then_it_has_the_locked_packages(
    api: Api, project: Path
) -> None:
    kernel = await kernel_of(api, project)
    out_of_sync(project)
    out = await run_in_kernel(api, kernel, "import six; print('six ok')")
    assert "six ok" in out
    assert in_sync(project)


async def test_given_check_mode_when_an_out_of_sync_kernel_starts_then_it_warns_and_starts(
    api: Api, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = await kernel_of(api, project)
    out_of_sync(project)
    with caplog.at_level(logging.WARNING):
        out = await run_in_kernel(
            api, kernel, "import importlib.util as u; print(u.find_spec('six'))"
        )
    assert "None" in out  # started, and nothing was installed
    warnings = [r.getMessage() for r in caplog.records if "out of sync" in r.getMessage()]
    assert warnings and f"uv sync --frozen --project {project}" in warnings[0]


@pytest.mark.parametrize("sync_mode", ["never"])
async def test_given_never_mode_and_no_uv_when_a_kernel_starts_then_uv_is_not_needed(
    api: Api, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = await kernel_of(api, project)
    out_of_sync(project)
    api.serverapp.config.UvKernels.uv = "/nonexistent/uv"
    with caplog.at_level(logging.WARNING):
        out = await run_in_kernel(api, kernel, PREFIX)
    assert Path(out.strip()).resolve() == (project / ".venv").resolve()
    assert not [r for r in caplog.records if "out of sync" in r.getMessage()]


@pytest.mark.parametrize("sync_mode", ["sync"])
async def test_given_sync_mode_and_no_uv_when_a_kernel_starts_then_the_error_says_what_to_set(
    api: Api, project: Path
) -> None:
    kernel = await kernel_of(api, project)
    out_of_sync(project)
    api.serverapp.config.UvKernels.uv = "/nonexistent/uv"
    message = await start_fails(api, kernel)
    assert str(project) in message and "UvKernels.uv" in message
    # and the list does not call the half-synced env "ready" (its mtimes look fresh)
    env = await api.env_at(project, rescan=True)
    assert env["status"] == "out-of-sync" and "Sync" in env["problem"]


async def test_given_a_deleted_env_when_its_kernel_starts_then_the_error_names_path_and_fix(
    api: Api, project: Path
) -> None:
    kernel = await kernel_of(api, project)
    shutil.rmtree(project / ".venv")
    message = await start_fails(api, kernel)
    assert str(project / ".venv") in message
    assert f"uv sync --frozen --project {project}" in message


# -- uv-project --------------------------------------------------------------------------


async def test_given_a_clone_when_uv_project_starts_in_its_subfolder_then_it_is_the_clones_env(
    api: Api, project: Path, jp_root_dir: Path
) -> None:
    await api.wait_for_scan()
    clone = in_root_dir(jp_root_dir, project, "clone")
    uv("sync", "--frozen", "--project", str(clone))
    (clone / "notebooks").mkdir()
    code = "import os, sys; print(sys.prefix); print(os.environ['UV_PROJECT'])"
    out = await run_in_kernel(api, PROJECT_KERNEL_NAME, code, path="clone/notebooks")
    prefix, uv_project = out.split()
    assert Path(prefix).resolve() == (clone / ".venv").resolve()
    assert uv_project == str(clone)


async def test_given_no_project_when_uv_project_starts_then_the_error_names_the_folder(
    api: Api, jp_root_dir: Path
) -> None:
    await api.wait_for_scan()
    (jp_root_dir / "loose").mkdir()
    message = await start_fails(api, PROJECT_KERNEL_NAME, path="loose")
    assert f"in {jp_root_dir / 'loose'} or any folder above it" in message
    assert "uv init" in message and "uv add --dev ipykernel" in message


@pytest.mark.parametrize("sync_mode", ["sync"])
async def test_given_sync_mode_and_a_fresh_clone_when_uv_project_starts_then_it_is_synced_first(
    api: Api, project: Path, jp_root_dir: Path
) -> None:
    await api.wait_for_scan()
    clone = in_root_dir(jp_root_dir, project, "fresh")
    out = await run_in_kernel(api, PROJECT_KERNEL_NAME, PREFIX, path="fresh")
    assert Path(out.strip()).resolve() == (clone / ".venv").resolve()
    assert in_sync(clone)


async def test_given_check_mode_and_a_fresh_clone_when_uv_project_starts_then_it_says_to_sync(
    api: Api, project: Path, jp_root_dir: Path
) -> None:
    await api.wait_for_scan()
    clone = in_root_dir(jp_root_dir, project, "fresh")
    message = await start_fails(api, PROJECT_KERNEL_NAME, path="fresh")
    assert f"uv sync --frozen --project {clone}" in message


# -- uv from inside a notebook -------------------------------------------------------------


UV_IN_KERNEL = (
    "import shutil, subprocess, sys; "
    "done = subprocess.run({argv!r}, capture_output=True, text=True); "
    "print(done.returncode, shutil.which('uv') is not None); print(done.stderr[-2000:])"
)


async def test_given_a_notebook_outside_the_project_when_it_runs_uv_add_then_the_project_changes(
    api: Api, project: Path, jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a server whose PATH has no uv (it came from the uv package), and a notebook
    # folder outside the project
    kernel = await kernel_of(api, project)
    (jp_root_dir / "elsewhere").mkdir()
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("uv", path="/usr/bin:/bin") is None
    # When the notebook runs `!uv add iniconfig`
    code = UV_IN_KERNEL.format(argv=["uv", "add", "iniconfig"])
    out = await run_in_kernel(api, kernel, code, timeout=240, path="elsewhere")
    # Then uv was found, and it changed the kernel's project, not the notebook's folder
    assert out.split("\n", 1)[0] == "0 True", out
    assert "iniconfig" in (project / "pyproject.toml").read_text()
    assert not (jp_root_dir / "elsewhere" / "pyproject.toml").exists()
    # and the panel's detail shows it after the next refresh
    env = await api.env_at(project, rescan=True)
    detail = (await api.get("environments", env["id"], expect=200)).body
    assert "iniconfig" in {p["name"] for p in detail["packages"]}


async def test_given_a_venv_kernel_when_it_runs_uv_pip_install_then_that_venv_changes(
    api: Api, uv_root: Path
) -> None:
    venv = make_venv(uv_root / "envs" / "tools", "ipykernel")
    kernel = await kernel_of(api, venv)
    code = UV_IN_KERNEL.format(argv=["uv", "pip", "install", "iniconfig"])
    out = await run_in_kernel(api, kernel, code, timeout=240)
    assert out.split("\n", 1)[0] == "0 True", out
    check = [str(venv / "bin/python"), "-c", "import iniconfig"]
    assert os.spawnv(os.P_WAIT, check[0], check) == 0
    assert sys.prefix != str(venv)  # the server's own env was not the target
