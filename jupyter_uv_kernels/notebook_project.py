"""Turn a notebook with inline dependencies into a uv project (issue 15), keeping its lock.

``uv init --bare --no-workspace`` in the notebook's folder (refused when it already has a
pyproject.toml, uv.lock or .venv), then ``uv add`` of the block's dependencies with its
requires-python, and ``uv add --dev ipykernel``: pyproject.toml, uv.lock and .venv, the
notebook untouched. If a step fails, what it created is removed again.

A locked notebook keeps its versions: its lock is exported (``uv export --script --locked``
on a copy beside the notebook) and that ``uv add`` gets the pins as constraints
(``--constraints``), so the project locks the versions the notebook locked; ipykernel and
what only it needs resolve around them. A lock that no longer matches the block is refused
with the relock fix. This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .errors import Conflict, UvKernelsError
from .notebook_convert import KERNEL_PACKAGES
from .notebook_deps import script_copy
from .notebook_script import NotebookFile, load_notebook
from .script_envs import is_stale_lock
from .uvrunner import LineCallback, UvRunner

_PROJECT_FILES = ("pyproject.toml", "uv.lock", ".venv")


def check_project_target(nb: NotebookFile, folder: str) -> None:
    """The notebook has a usable block and its folder is not a project yet (409)."""
    nb.require_usable()
    if nb.block is None or nb.metadata is None:
        raise Conflict(
            f"{os.path.basename(nb.path)} has no inline dependencies to make a project "
            "from; make it self-contained first."
        )
    for name in _PROJECT_FILES:
        if os.path.lexists(os.path.join(folder, name)):
            raise Conflict(
                f"{folder} already has {name}, so it is not made a project (nothing there "
                "is overwritten); move the notebook into a folder of its own first."
            )


def project_name_for(folder: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", os.path.basename(folder)).strip("-._")
    return name or "notebook-project"


def exact_pins(exported: str) -> list[str]:
    """The ``name==version`` lines (with their markers) of ``uv export`` output; paths,
    URLs, editables and options are left out (a constraint names a version)."""
    pins = []
    for line in exported.splitlines():
        text = line.strip()
        if not text or text.startswith(("#", "-", ".", "/")):
            continue
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        if req.url is None and len(specs) == 1 and specs[0].operator == "==":
            pins.append(str(req))
    return pins


async def locked_pins(runner: UvRunner, nb: NotebookFile) -> list[str]:
    """The notebook's locked versions as pins; none when it is not locked."""
    if nb.lock is None or nb.block is None:
        return []
    async with script_copy(nb, nb.block[1]) as files:
        result = await runner.notebook_env_requirements(files.script, locked=True, cwd=files.folder)
    if result.returncode != 0:
        name = os.path.basename(nb.path)
        if is_stale_lock(result.stderr):
            raise Conflict(
                f"{name}'s lock no longer matches its '# /// script' block, so its versions "
                "cannot be carried into the project. Relock it first (Lock in the uv panel, "
                f"or `juv lock {name}`)."
            )
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip()]
        raise Conflict(f"Cannot read {name}'s lock: {lines[-1] if lines else 'uv failed'}.")
    return exact_pins(result.stdout)


async def to_project(
    runner: UvRunner, path: str, *, on_line: LineCallback | None = None
) -> dict[str, Any]:
    """Make the notebook's folder a uv project from its block (and at its locked versions);
    the notebook is untouched."""
    nb = await asyncio.to_thread(load_notebook, path)
    folder = os.path.dirname(path)
    await asyncio.to_thread(check_project_target, nb, folder)
    assert nb.metadata is not None
    pins = await locked_pins(runner, nb)
    constraints = await asyncio.to_thread(_write_constraints, pins) if pins else None
    deps = [
        d
        for d in nb.metadata.dependencies
        if canonicalize_name(Requirement(d).name) not in KERNEL_PACKAGES
    ]
    try:
        await runner.init_bare(
            folder,
            name=project_name_for(folder),
            python=nb.metadata.requires_python,
            on_line=on_line,
        )
        if deps:
            await runner.add(folder, deps, constraints=constraints, on_line=on_line)
        await runner.add(folder, ["ipykernel"], dev=True, on_line=on_line)
    except (UvKernelsError, asyncio.CancelledError):
        await asyncio.to_thread(_remove_project_files, folder)
        raise
    finally:
        if constraints is not None:
            with contextlib.suppress(OSError):
                os.remove(constraints)
    return {"project": folder, "kernel": None, "dependencies": deps, "pinned": len(pins)}


def _write_constraints(pins: list[str]) -> str:
    fd, path = tempfile.mkstemp(prefix="uv-kernels-constraints-", suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(pins) + "\n")
    return path


def _remove_project_files(folder: str) -> None:
    for name in _PROJECT_FILES:
        target = os.path.join(folder, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.lexists(target):
            os.unlink(target)
