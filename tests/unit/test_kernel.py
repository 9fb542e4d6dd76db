"""Real kernels started from our kernelspecs outside a server: the batch-job world.

In a PBS job, papermill or nbclient run in a Python that does not have jupyter_uv_kernels
(``uv run`` in the project, or a conda env). These tests start kernels from exactly such a
Python, with conda and PYTHONPATH leaking in from the parent, and ask each kernel what it
is. The server-side behaviour (sync_on_start, "Error Starting Kernel") is in
``tests/server/test_kernel_start.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from jupyter_uv_kernels.catalog import EnvironmentCatalog
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.kernelspecs import PROJECT_KERNEL_NAME
from tests.conftest import PYTHON, make_project, make_venv, uv

PROBE = (
    "import os, sys, json; print(json.dumps({'prefix': sys.prefix, "
    "'conda': os.environ.get('CONDA_PREFIX'), 'pythonpath': os.environ.get('PYTHONPATH'), "
    "'venv': os.environ.get('VIRTUAL_ENV'), 'uv_project': os.environ.get('UV_PROJECT'), "
    "'path0': os.environ['PATH'].split(os.pathsep)[0]}))"
)
LEAKS = {
    "CONDA_PREFIX": "/opt/conda/envs/leaky",
    "CONDA_DEFAULT_ENV": "leaky",
    "PYTHONPATH": "/opt/conda/lib/python3.11/site-packages",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "root" / "kproj", "ipykernel", "six")


def register(project: Path) -> str:
    """Register the env's kernel (and uv-project) into the Jupyter data dir, as the CLI does."""
    catalog = EnvironmentCatalog(UvKernels(roots=[str(project.parent)]))
    catalog.refresh()
    env = catalog.inspect(str(project))
    return catalog.register(env)


@pytest.fixture(scope="session")
def foreign_python(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Path:
    """A Python with nbclient and nbformat but *not* jupyter_uv_kernels: a batch job's."""
    venv = tmp_path_factory.mktemp("batch") / "venv"
    env = {**os.environ, "UV_CACHE_DIR": str(uv_cache_dir), "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([sys.executable, "-m", "uv", "venv", "--python", PYTHON, str(venv)],
                   check=True, capture_output=True, env=env)  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "uv", "pip", "install", "--python", str(venv / "bin/python"),
         "nbclient", "nbformat"],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    python = venv / "bin" / "python"
    missing = subprocess.run(
        [str(python), "-c", "import jupyter_uv_kernels"],
        capture_output=True,
        text=True,
        cwd=venv.parent,
    )
    assert missing.returncode != 0, "the batch Python must not have jupyter_uv_kernels"
    return python


BATCH_SCRIPT = textwrap.dedent(
    """
    import json, sys, nbformat
    from nbclient import NotebookClient
    kernel, cwd, code = sys.argv[1], sys.argv[2], sys.argv[3]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    NotebookClient(nb, kernel_name=kernel, timeout=120,
                   resources={"metadata": {"path": cwd}}).execute()
    print(nb.cells[0].outputs[0]["text"])
    """
)


def run_batch(
    python: Path, kernel: str, cwd: Path, code: str = PROBE
) -> subprocess.CompletedProcess:
    """nbclient in ``python``, as a job runs it: conda and PYTHONPATH leak from the parent."""
    env = {**os.environ, **LEAKS}
    return subprocess.run(
        [str(python), "-c", BATCH_SCRIPT, kernel, str(cwd), code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=python.parent.parent.parent,  # a neutral folder: only the notebook's path counts
    )


def test_given_a_python_without_our_package_when_nbclient_runs_a_per_env_kernel_then_it_runs_clean(
    project: Path, foreign_python: Path
) -> None:
    name = register(project)
    done = run_batch(foreign_python, name, project)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["prefix"]).resolve() == (project / ".venv").resolve()
    assert report["conda"] is None and report["pythonpath"] is None
    assert report["venv"] == str(project / ".venv")
    assert report["path0"] == str(project / ".venv" / "bin")
    assert report["uv_project"] == str(project)


def test_given_a_copy_at_another_path_when_uv_project_starts_in_a_subfolder_then_it_uses_the_copy(
    project: Path, foreign_python: Path, tmp_path: Path
) -> None:
    # Given the kernels registered for the original, and a colleague's copy elsewhere
    register(project)
    copy = tmp_path / "colleague" / "clone"
    shutil.copytree(project, copy, symlinks=True)
    shutil.rmtree(copy / ".venv")
    uv("sync", "--frozen", "--project", str(copy))
    (copy / "notebooks" / "2025").mkdir(parents=True)
    # When a notebook in a subfolder of the copy runs on uv-project
    done = run_batch(foreign_python, PROJECT_KERNEL_NAME, copy / "notebooks" / "2025")
    # Then the kernel is the copy's env, cleaned
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(report["prefix"]).resolve() == (copy / ".venv").resolve()
    assert report["conda"] is None and report["pythonpath"] is None
    assert report["uv_project"] == str(copy)


def test_given_no_project_above_the_folder_when_uv_project_starts_then_the_run_names_the_folder(
    project: Path, foreign_python: Path, tmp_path: Path
) -> None:
    register(project)
    lonely = tmp_path / "scratch" / "notebooks"
    lonely.mkdir(parents=True)
    done = run_batch(foreign_python, PROJECT_KERNEL_NAME, lonely)
    assert done.returncode != 0
    assert f"in {lonely} or any folder above it" in done.stderr
    assert "uv init" in done.stderr and "uv add --dev ipykernel" in done.stderr


def test_given_a_clone_without_a_venv_when_uv_project_starts_in_a_job_then_it_says_to_sync(
    project: Path, foreign_python: Path, tmp_path: Path
) -> None:
    register(project)
    clone = tmp_path / "clone"
    shutil.copytree(project, clone, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    done = run_batch(foreign_python, PROJECT_KERNEL_NAME, clone)
    assert done.returncode != 0
    assert f"uv sync --frozen --project {clone}" in done.stderr


def test_given_conda_in_the_parent_when_a_venv_kernel_starts_in_process_then_it_runs_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same Python as the server, but outside one: jupyter_client's own provisioner.
    venv = make_venv(tmp_path / "root" / "env", "ipykernel")
    for key, value in LEAKS.items():
        monkeypatch.setenv(key, value)
    catalog = EnvironmentCatalog(UvKernels(roots=[str(tmp_path / "root")]))
    name = catalog.register(catalog.inspect(str(venv)))

    async def run() -> str:
        km = AsyncKernelManager(kernel_name=name)
        await km.start_kernel()
        try:
            kc = km.client()
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            out: list[str] = []
            await kc.execute_interactive(
                PROBE,
                output_hook=lambda m: out.append(m["content"].get("text", "")),
                timeout=60,
            )
            kc.stop_channels()
            return "".join(out)
        finally:
            await km.shutdown_kernel(now=True)

    report = json.loads(asyncio.run(run()))
    assert Path(report["prefix"]).resolve() == venv.resolve()
    assert report["conda"] is None and report["pythonpath"] is None
    assert report["uv_project"] is None  # a venv has no project


def test_given_the_batch_job_in_process_when_nbclient_runs_then_the_notebook_sees_the_env(
    project: Path,
) -> None:
    name = register(project)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, six; print(sys.prefix)")]
    NotebookClient(nb, kernel_name=name, timeout=120).execute()
    printed = nb.cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == (project / ".venv").resolve()


def test_given_a_uv_failure_then_the_message_carries_uvs_reason(tmp_path: Path) -> None:
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


def test_given_the_readme_job_script_when_papermill_runs_under_uv_run_then_it_ran_in_the_project(
    project: Path, tmp_path: Path
) -> None:
    # Given the kernels in the user's data dir, and a notebook inside the project
    register(project)
    notebooks = project / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, notebooks / "fig3.ipynb")
    # When the README's job line runs, with conda and PYTHONPATH leaking in from the job
    argv = ["uv", "run", "--frozen", "--with", "papermill", "papermill",
            "notebooks/fig3.ipynb", "notebooks/fig3-123.out.ipynb",
            "-k", "uv-project", "--cwd", "notebooks"]  # fmt: skip
    env = {**os.environ, **LEAKS}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])  # module load uv
    done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    # Then papermill (from uv's cache, not in the project) ran it on the project's own env
    assert done.returncode == 0, done.stderr[-3000:]
    out = nbformat.read(notebooks / "fig3-123.out.ipynb", as_version=4)
    report = json.loads(out.cells[0].outputs[0]["text"])
    assert Path(report["prefix"]).resolve() == (project / ".venv").resolve()
    assert report["conda"] is None and report["pythonpath"] is None
    assert "papermill" not in (project / "pyproject.toml").read_text()
