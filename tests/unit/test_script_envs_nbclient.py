"""The uv-script kernelspec is portable: nbclient in a Python that lacks jupyter_uv_kernels
(a batch job's) finds it in the Jupyter data dir our reconciler wrote, and runs a juv
notebook on exactly its locked packages."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

from jupyter_uv_kernels.kernelspecs import SCRIPT_KERNEL_NAME, KernelspecReconciler
from jupyter_uv_kernels.script_envs import NotebookScript
from tests.conftest import UV, uv
from tests.script_notebooks import SIX

#: Run inside the client venv: execute the notebook as a batch job's nbclient does.
CLIENT = """
import sys, nbformat
from nbclient import NotebookClient
path, folder = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import six, sys; print(six.__version__, sys.prefix)"))
NotebookClient(nb, kernel_name="uv-script", resources={"metadata": {"path": folder}}).execute()
print(nb.cells[-1].outputs[0]["text"].strip())
"""


def other_python() -> str:
    """A Python other than the test venv's: pyenv's 3.12 if there is one."""
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3")))
    return found[-1] if found else os.path.realpath(sys.executable)


def test_given_nbclient_without_our_package_when_it_runs_a_juv_notebook_then_locked_versions(
    juv_notebook: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    KernelspecReconciler(data / "kernels", search_dirs=[]).reconcile([])
    assert (data / "kernels" / SCRIPT_KERNEL_NAME / "kernel.json").is_file()
    client = tmp_path / "client"
    uv("venv", "--python", other_python(), str(client))
    uv("pip", "install", "--python", str(client / "bin/python"), "nbclient", "ipykernel")
    check = [str(client / "bin/python"), "-c", "import jupyter_uv_kernels"]
    assert subprocess.run(check, capture_output=True, cwd=tmp_path).returncode == 1  # not there
    tools = tmp_path / "tools"  # uv on PATH, as after `module load uv`, and nothing else
    tools.mkdir()
    (tools / "uv").symlink_to(UV)
    envs = tmp_path / "envs"
    env = {
        **os.environ,
        "JUPYTER_PATH": str(data),
        "JUPYTER_DATA_DIR": str(data),
        "UV_KERNELS_SCRIPT_ENVS": str(envs),
        "PATH": os.pathsep.join([str(tools), "/usr/bin", "/bin"]),
    }
    run = subprocess.run(
        [str(client / "bin/python"), "-c", CLIENT, str(juv_notebook), str(juv_notebook.parent)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    version, prefix = run.stdout.split()[-2:]
    script = NotebookScript.read(str(juv_notebook))
    assert script is not None
    assert version == SIX
    assert prefix == str(envs / script.key)
