"""Figure (script): a cached ``uv-script`` kernel's start against a project kernel's start.

Issue 15's target: once a self-contained notebook's environment is built, starting its
kernel again costs at most 1.1x what starting a uv project's kernel costs. Both sides are
started as the server starts them (the reconciler's specs, ``uv-provisioner`` as the default
provisioner, ``UvKernels`` given as traitlets config, ``JPY_SESSION_NAME`` and the notebook's
folder as cwd, as jupyter_server passes them), timed from ``start_kernel`` to the first
``kernel_info`` reply, alternating, after a warm-up round in which the uv-script start
builds the env. The notebook holds juv's format (a PEP 723 block in its first cell, the
``uv lock --script`` text in its metadata), pinning six; its env gets ipykernel, bytecode
compiled, like the kernel project's. The project side runs with the default
``sync_on_start=check`` (one ``uv sync --check``); the uv-script side runs no uv at all.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from kernel_timing import kernel_environment, start_to_ready, take_turns
from measure import LE, Row, X, median, seconds
from traitlets.config import Config
from trees import UV, UV_CACHE

from jupyter_uv_kernels.environments import inspect_environment
from jupyter_uv_kernels.kernelspecs import SCRIPT_KERNEL_NAME, KernelspecReconciler

BLOCK = (
    '# /// script\n# requires-python = ">=3.10"\n'
    '# dependencies = [\n#     "six==1.16.0",\n# ]\n# ///'
)


def juv_notebook(folder: Path) -> Path:
    """A notebook in juv's format, locked with ``uv lock --script`` as juv locks it."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "lock.py"
    script.write_text(BLOCK + "\n")
    subprocess.run([UV, "lock", "--script", str(script)], check=True, capture_output=True)
    lock = (folder / "lock.py.lock").read_text()
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "block",
        "outputs": [],
        "metadata": {"jupyter": {"source_hidden": True}},
        "source": BLOCK,
    }
    nb = {"cells": [cell], "metadata": {"uv.lock": lock}, "nbformat": 4, "nbformat_minor": 5}
    path = folder / "analysis.ipynb"
    path.write_text(json.dumps(nb))
    script.unlink()
    (folder / "lock.py.lock").unlink()
    return path


def figure_script(project: str, runs: int, log: Callable[[str], None]) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="uvk-bench-script-"))
    try:
        with kernel_environment(work / "runtime"):
            times = _measure_script(project, work, runs, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ours, theirs = median(times["script"]), median(times["project"])
    bare = median(times["never"])
    return [
        Row(
            "script",
            "a self-contained (juv) notebook's `uv-script` kernel, env already built: start to "
            "first `kernel_info` reply (provisioner: stats only, no uv; the launcher reads the "
            "notebook and execs ipykernel in the cached env)",
            seconds(ours),
            "the uv project kernel's start (reconciler's spec, uv-provisioner, "
            "`sync_on_start=check`)",
            seconds(theirs),
            ours / theirs,
            f"{LE} 1.1{X}",
            runs,
            met=ours / theirs <= 1.1,
        ),
        Row(
            "script",
            "the same cached `uv-script` start",
            seconds(ours),
            "the project kernel's start with `sync_on_start=never` (no uv on either side)",
            seconds(bare),
            ours / bare,
            "report only",
            runs,
        ),
    ]


def _measure_script(
    project: str, work: Path, runs: int, log: Callable[[str], None]
) -> dict[str, list[float]]:
    kernels = work / "kernels"
    env = inspect_environment(project, "project")
    if env.status != "ready" or not env.venv:
        raise RuntimeError(f"the kernel project is {env.status}: {env.problem}")
    KernelspecReconciler(kernels, search_dirs=[]).reconcile([env])
    project_kernel = str(env.kernel)
    notebook = juv_notebook(work / "notebooks")
    settings = {"uv": UV, "uv_cache_dir": str(UV_CACHE), "script_env_dir": str(work / "envs")}
    config = Config({"UvKernels": settings})
    never = Config({"UvKernels": {**settings, "sync_on_start": "never"}})
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    # JupyterLab names the notebook to the kernel (JPY_SESSION_NAME); the first start of
    # uv-script builds its env, hence the long timeout.
    session = {**os.environ, "JPY_SESSION_NAME": str(notebook)}

    def start(name: str, cwd: str, config: Config) -> Callable[[], Awaitable[float]]:
        return lambda: start_to_ready(ksm, name, config, cwd=cwd, env=session, timeout=600)

    def warm_up(key: str, elapsed: float) -> None:
        if key == "script":
            log(f"   uv-script first start (builds the env): {seconds(elapsed)}")

    sides = {
        "script": start(SCRIPT_KERNEL_NAME, str(notebook.parent), config),
        "project": start(project_kernel, project, config),
        "never": start(project_kernel, project, never),
    }
    return take_turns(sides, runs, warm_up)
