"""Real kernels started from registered uv kernelspecs: clean env, batch jobs, provisioner."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets.config import Config

from jupyter_uv_kernels.catalog import EnvironmentCatalog
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.provisioner import KernelStartError
from tests.conftest import make_project, uv

PROBE = (
    "import os, sys, json; print(json.dumps({'prefix': sys.prefix, "
    "'conda': os.environ.get('CONDA_PREFIX'), 'venv': os.environ.get('VIRTUAL_ENV'), "
    "'path0': os.environ['PATH'].split(os.pathsep)[0]}))"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "root" / "kproj", "ipykernel", "six")


def register(project: Path) -> str:
    catalog = EnvironmentCatalog(UvKernels(roots=[str(project.parent)]))
    env = catalog.inspect(str(project))
    return catalog.register(env)


async def run_code(kernel_name: str, code: str, config: Config | None = None) -> str:
    km = AsyncKernelManager(kernel_name=kernel_name, config=config or Config())
    await km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        await kc.execute_interactive(code, output_hook=hook, timeout=60)
        kc.stop_channels()
        return "".join(out)
    finally:
        await km.shutdown_kernel(now=True)


def out_of_sync(project: Path) -> None:
    """Remove a locked package by hand: the env now lags its uv.lock."""
    uv("pip", "uninstall", "--python", str(project / ".venv/bin/python"), "six")
    assert uv("sync", "--check", "--project", str(project), check=False).returncode == 1


def test_kernel_runs_in_the_env_without_conda_leakage(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a conda env active in the server's environment
    monkeypatch.setenv("CONDA_PREFIX", "/opt/conda/envs/leaky")
    monkeypatch.setenv("CONDA_DEFAULT_ENV", "leaky")
    monkeypatch.setenv("PYTHONPATH", "/opt/conda/lib/python3.11/site-packages")
    name = register(project)
    # when the uv kernel starts, it reports its own venv and no conda
    report = json.loads(asyncio.run(run_code(name, PROBE)))
    assert Path(report["prefix"]).resolve() == (project / ".venv").resolve()
    assert report["conda"] is None
    assert report["venv"] == str(project / ".venv")
    assert report["path0"] == str(project / ".venv" / "bin")


def test_batch_job_executes_notebook_with_uv_kernel_and_no_server(project: Path) -> None:
    # The PBS case: nbclient with kernel_name, no Jupyter server running.
    name = register(project)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, six; print(sys.prefix)")]
    NotebookClient(nb, kernel_name=name, timeout=120).execute()
    printed = nb.cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == (project / ".venv").resolve()


def test_deleted_env_gives_an_error_naming_path_and_fix(project: Path) -> None:
    name = register(project)
    shutil.rmtree(project / ".venv")
    with pytest.raises(KernelStartError) as info:
        asyncio.run(run_code(name, "1"))
    message = str(info.value)
    assert str(project / ".venv") in message
    assert f"uv sync --frozen --project {project}" in message


def test_sync_on_start_sync_installs_the_locked_packages(project: Path) -> None:
    name = register(project)
    out_of_sync(project)
    config = Config({"UvKernels": {"sync_on_start": "sync"}})
    assert "ok" in asyncio.run(run_code(name, "import six; print('ok')", config))
    assert uv("sync", "--check", "--project", str(project), check=False).returncode == 0


def test_sync_on_start_check_warns_and_still_starts(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = register(project)
    out_of_sync(project)
    config = Config({"UvKernels": {"sync_on_start": "check"}})
    with caplog.at_level(logging.WARNING):
        out = asyncio.run(run_code(name, "import six", config))
    assert "ModuleNotFoundError" in out  # started, and nothing was installed
    warnings = [r.getMessage() for r in caplog.records if "out of sync" in r.getMessage()]
    assert warnings and f"uv sync --frozen --project {project}" in warnings[0]


def test_sync_on_start_never_starts_without_running_uv(
    project: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = register(project)
    out_of_sync(project)
    # uv is unavailable: with 'never' the kernel must not need it
    config = Config({"UvKernels": {"sync_on_start": "never", "uv": "/nonexistent/uv"}})
    with caplog.at_level(logging.WARNING):
        out = asyncio.run(run_code(name, "import six", config))
    assert "ModuleNotFoundError" in out
    assert not [r for r in caplog.records if "out of sync" in r.getMessage()]


def test_sync_failure_is_actionable(project: Path) -> None:
    name = register(project)
    out_of_sync(project)
    config = Config({"UvKernels": {"sync_on_start": "sync", "uv": "/nonexistent/uv"}})
    with pytest.raises(KernelStartError) as info:
        asyncio.run(run_code(name, "1", config))
    assert str(project) in str(info.value)
    assert "UvKernels.uv" in str(info.value)


def test_sync_on_start_check_without_uv_warns_and_starts(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 'check' is advisory: a missing uv must not keep the kernel from starting.
    name = register(project)
    config = Config({"UvKernels": {"sync_on_start": "check", "uv": "/nonexistent/uv"}})
    with caplog.at_level(logging.WARNING):
        out = asyncio.run(run_code(name, "import six; print('started')", config))
    assert "started" in out
    assert [r for r in caplog.records if "could not check" in r.getMessage()]


def test_uv_failure_message_carries_uvs_reason(tmp_path: Path) -> None:
    # A real failed `uv add`: the message must say *why* (uv's cause lines), not just
    # "No solution found".
    from jupyter_uv_kernels.errors import UvFailed

    project = make_project(tmp_path / "p")
    catalog = EnvironmentCatalog(UvKernels(roots=[str(tmp_path)]))
    env = catalog.inspect(str(project))
    with pytest.raises(UvFailed) as info:
        asyncio.run(catalog.add_packages(env, ["nonexistent-pkg-zzz-42==1.0"]))
    assert "nonexistent-pkg-zzz-42 was not found in the package registry" in info.value.message
    assert info.value.message.startswith("`uv add")
