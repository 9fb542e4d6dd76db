"""Start an IPython kernel in a uv environment, cleaned: the launcher inside every kernelspec.

The reconciler copies this file into each kernelspec directory it writes, and kernel.json
runs it as ``{resource_dir}/uvkernel_launch.py``. So a kernel starts the same way in
JupyterLab and in a PBS job whose papermill or nbclient runs in a Python that does not have
jupyter_uv_kernels (``uv run papermill`` inside the project, or a conda env). That is why
this module uses the standard library only and runs under any Python >= 3.8: it must not
import anything from this package.

What it does, in order:

1. finds the environment, from the kernel.json beside it: for a per-environment kernel, the
   venv whose interpreter runs it (argv[0]) and the project in the owner marker's ``path``;
   for ``uv-project`` (marker kind ``uv-project``), the nearest uv project or ``.venv`` at
   or above the working directory, which is the notebook's folder in JupyterLab,
   nbconvert and nbclient, and ``--cwd`` in papermill;
2. checks that it can run a kernel (the venv exists, its interpreter resolves, ipykernel is
   installed); if not, it prints one paragraph to stderr that names the folder and the
   command that fixes it, and exits with status 1;
3. cleans the kernel's environment: no ``CONDA_*``, ``PYTHONHOME``, ``PYTHONPATH`` or
   ``UV_PROJECT_ENVIRONMENT``; ``VIRTUAL_ENV`` set and the venv's ``bin`` first on ``PATH``;
   ``UV_PROJECT`` set to the project, so ``!uv add xarray`` in a notebook changes the
   kernel's own project wherever the notebook lives;
4. replaces itself (``exec``: same process id, so interrupts and shutdowns from Jupyter reach
   the kernel) with ``<venv>/bin/python -m ipykernel_launcher`` and the remaining arguments.

Usage (as kernel.json writes it; every argument is passed on to ipykernel)::

    VENV/bin/python -IS {resource_dir}/uvkernel_launch_v1.py -f {connection_file}
    python3 -IS {resource_dir}/uvkernel_launch_v1.py -f {connection_file}

Reading the kernelspec's own kernel.json instead of taking flags keeps argv as short as a
stock spec's: every argv item is parsed and re-sent on each ``GET /api/kernelspecs``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

#: Bumped whenever this file changes (a test holds the digest of each version). The version
#: is part of the copy's name, so kernel.json changes with it and the reconciler rewrites
#: every spec dir, at no cost in kernel.json's size.
LAUNCHER_VERSION = 1
#: The name of the copy inside each kernelspec directory.
LAUNCHER_FILE = f"uvkernel_launch_v{LAUNCHER_VERSION}.py"

#: Variables never passed to kernels or to uv (the uv runner uses this list too): an active
#: conda env or a stray PYTHONPATH would make either use the wrong interpreter or packages.
LEAKY_VARIABLES = (
    "PYTHONHOME",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "UV_PROJECT",
    "UV_PROJECT_ENVIRONMENT",
)


def is_leaky(key: str) -> bool:
    """True for conda's variables and the ones in ``LEAKY_VARIABLES``."""
    return key.startswith("CONDA_") or key in LEAKY_VARIABLES or key in ("_CE_CONDA", "_CE_M")


class LaunchError(Exception):
    """The kernel cannot start; the message names the folder and the fix."""


class Target:
    """The environment a kernel runs in: its venv and, for a uv project, the project dir."""

    def __init__(self, venv: str, project: str | None) -> None:
        self.venv = venv
        self.project = project

    @property
    def python(self) -> str:
        return os.path.join(self.venv, "bin", "python")

    def __repr__(self) -> str:
        return f"Target(venv={self.venv!r}, project={self.project!r})"


def _made_by_uv(venv: str) -> bool:
    try:
        with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8", errors="replace") as f:
            return any(line.split("=")[0].strip() == "uv" for line in f.read(16384).splitlines())
    except OSError:
        return False


def find_project(start: str) -> Target | None:
    """The nearest uv project or ``.venv`` at or above ``start``, or None.

    A folder is a uv project when it holds ``pyproject.toml`` and ``uv.lock``, or
    ``pyproject.toml`` and a uv-made ``.venv``. A workspace member (a pyproject.toml with
    neither) is passed over, so the workspace root is found, as uv does. A folder with only
    a ``.venv`` gives that venv without a project.
    """
    here = os.path.abspath(start)
    while True:
        venv = os.path.join(here, ".venv")
        has_venv = os.path.isfile(os.path.join(venv, "pyvenv.cfg"))
        if os.path.isfile(os.path.join(here, "pyproject.toml")) and (
            os.path.isfile(os.path.join(here, "uv.lock")) or (has_venv and _made_by_uv(venv))
        ):
            return Target(venv, here)
        if has_venv:
            return Target(venv, None)
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def no_project_message(start: str) -> str:
    folder = os.path.abspath(start)
    return (
        f"Cannot start the uv-project kernel: no uv project (pyproject.toml with uv.lock) and "
        f"no .venv in {folder} or any folder above it.\n"
        f"Fix: make one there with `uv init` then `uv add --dev ipykernel` (in {folder}), "
        "or choose the kernel of a specific uv environment for this notebook."
    )


def _has_ipykernel(venv: str) -> bool:
    lib = os.path.join(venv, "lib")
    try:
        names = os.listdir(lib)
    except OSError:
        return False
    return any(
        os.path.isfile(os.path.join(lib, name, "site-packages", "ipykernel_launcher.py"))
        for name in names
        if name.startswith("python")
    )


def check_target(target: Target) -> None:
    """Raise :class:`LaunchError` unless ``target`` can run a kernel."""
    where = target.project or target.venv
    if not os.path.isfile(os.path.join(target.venv, "pyvenv.cfg")):
        if target.project:
            raise LaunchError(
                f"Cannot start the kernel for the uv project {target.project}: it has no "
                f"environment yet ({target.venv} does not exist).\n"
                f"Fix: `uv sync --frozen --project {target.project}`"
            )
        raise LaunchError(
            f"Cannot start the kernel: the environment {target.venv} does not exist.\n"
            f"Fix: recreate it with `uv venv {target.venv}` and reinstall its packages, or run "
            "`jupyter uvkernel refresh` to drop this kernel."
        )
    python = target.python
    if not (os.path.exists(python) and os.access(python, os.X_OK)):
        fix = (
            f"`uv venv --clear {target.venv}` then `uv sync --frozen --project {target.project}`"
            if target.project
            else f"`uv venv --clear {target.venv}` and reinstall its packages"
        )
        raise LaunchError(
            f"Cannot start the kernel for {where}: its interpreter {python} does not resolve "
            "(the base Python it was made from is gone or not executable).\n"
            f"Fix: recreate the environment with {fix}"
        )
    if not _has_ipykernel(target.venv):
        fix = (
            f"`uv add --dev ipykernel --project {target.project}`"
            if target.project
            else f"`uv pip install --python {python} ipykernel`"
        )
        raise LaunchError(
            f"Cannot start the kernel for {where}: ipykernel is not installed in "
            f"{target.venv}.\nFix: {fix}"
        )


def kernel_environment(target: Target, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) cleaned for a kernel running in ``target``."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not is_leaky(k)}
    env["VIRTUAL_ENV"] = target.venv
    bin_dir = os.path.join(target.venv, "bin")
    rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *rest])
    if target.project:
        env["UV_PROJECT"] = target.project
    return env


#: The owner marker's key in kernel.json (kernelspec_files.OWNER_KEY; not imported: stdlib only).
OWNER_KEY = "jupyter_uv_kernels"
#: The marker's kind for the uv-project kernel.
PROJECT_KIND = "uv-project"


def read_marker(spec_dir: str) -> dict[str, Any]:
    """The owner marker of the kernel.json in ``spec_dir`` ({} when unreadable)."""
    try:
        with open(os.path.join(spec_dir, "kernel.json"), encoding="utf-8") as f:
            marker = json.load(f).get("metadata", {}).get(OWNER_KEY)
    except (OSError, ValueError, AttributeError):
        return {}
    return marker if isinstance(marker, dict) else {}


def target_for(marker: dict[str, Any], interpreter: str, cwd: str) -> Target:
    """The checked environment a kernel with this marker runs, started by ``interpreter``
    from ``cwd``; :class:`LaunchError` when there is none."""
    if marker.get("kind") == PROJECT_KIND:
        target = find_project(cwd)
        if target is None:
            raise LaunchError(no_project_message(cwd))
    else:
        target = environment_of(marker, interpreter)
    check_target(target)
    return target


def environment_of(marker: dict[str, Any], interpreter: str) -> Target:
    """A per-environment kernel's env: the venv ``interpreter`` (its argv[0]) belongs to,
    and the marker's path when that is a project rather than the venv itself."""
    venv = os.path.dirname(os.path.dirname(os.path.abspath(interpreter)))
    path = marker.get("path")
    project = path if isinstance(path, str) and os.path.abspath(path) != venv else None
    return Target(venv, project)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    marker = read_marker(os.path.dirname(os.path.abspath(__file__)))
    try:
        target = target_for(marker, sys.executable, os.getcwd())
    except LaunchError as e:
        sys.stderr.write(f"\n{e}\n\n")
        sys.stderr.flush()
        return 1
    python = target.python
    os.execve(python, [python, "-m", "ipykernel_launcher", *args], kernel_environment(target))
    return 0  # not reached: execve replaces this process


if __name__ == "__main__":
    sys.exit(main())
