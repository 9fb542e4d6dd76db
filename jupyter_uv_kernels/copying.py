"""Copy an environment into a new folder: how a user forks a group's shared env (say, one
in /glade/campaign, read-only for them) into their own work directory.

A project: its pyproject.toml, uv.lock and .python-version are copied, ``.venv`` is made
from the source's interpreter (the same Python, as create honours a chosen one), then
``uv sync --frozen --no-install-project`` installs exactly the lock. The project's own
package (its source) is not copied. A venv: ``uv pip freeze`` of the source, a new venv of
the same interpreter, then ``uv pip install -r`` of that list.

The target passes the same checks as a create (new or empty, inside the roots; the caller
confines it) and a copy that fails removes only what it made.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
from typing import Any

from .catalog import EnvironmentCatalog
from .create_target import check_create_target, make_parent_folders, undo_create
from .environments import Environment
from .errors import InvalidRequest
from .uvrunner import LineCallback

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

#: What a project copy takes from the source folder (when present).
PROJECT_FILES = ("pyproject.toml", "uv.lock", ".python-version")


def check_copy(source: Environment, target: str) -> None:
    """Whether ``source`` can be copied to ``target`` (InvalidRequest naming why not)."""
    if source.kind == "project":
        if not os.path.isfile(os.path.join(source.path, "uv.lock")):
            raise InvalidRequest(
                f"{source.path} has no uv.lock, so there is nothing exact to copy; run "
                f"`uv lock --project {source.path}` there first."
            )
        if _is_workspace(source.path):
            raise InvalidRequest(
                f"{source.path} is a uv workspace: its members live in subfolders that a copy "
                "of pyproject.toml and uv.lock would not have. Copy the whole folder instead "
                "(cp -r), then Sync it."
            )
    elif source.status == "broken" or not source.venv:
        raise InvalidRequest(f"{source.path} cannot be copied: {source.problem}")
    real_source = os.path.realpath(source.path)
    if target == real_source or (
        source.venv and target.startswith(os.path.realpath(source.venv) + os.sep)
    ):
        raise InvalidRequest(
            f"{target} is inside the environment being copied; choose a folder of its own."
        )


def source_interpreter(source: Environment) -> str | None:
    """The base interpreter behind the source's venv, or None (uv then picks one)."""
    if source.interpreter and os.path.exists(source.interpreter):
        return os.path.realpath(source.interpreter)
    return None


async def copy_environment(
    catalog: EnvironmentCatalog,
    source: Environment,
    target: str,
    *,
    on_line: LineCallback | None = None,
    register: bool = True,
) -> Environment:
    """Copy ``source`` to ``target`` (confined by the caller) and sync it; returns the new
    environment's record (its kernel registered unless ``register`` is false)."""
    await asyncio.to_thread(check_copy, source, target)
    existed = await asyncio.to_thread(check_create_target, target)
    python = source_interpreter(source)
    made_parent = await asyncio.to_thread(make_parent_folders, target)
    try:
        if source.kind == "project":
            await asyncio.to_thread(_copy_project_files, source.path, target)
            if python:
                await catalog.runner.create_venv(
                    os.path.join(target, ".venv"), python=python, on_line=on_line
                )
            await catalog.runner.sync_copy(target, on_line=on_line)
            if on_line is not None and _uv_table(source.path)[1]:
                on_line(
                    "info",
                    "The project's own package is not installed in the copy: its source was "
                    "not copied (only pyproject.toml and uv.lock). Copy its source folder "
                    f"from {source.path} into {target} and Sync to install it too.",
                )
        else:
            assert source.venv is not None
            frozen = await catalog.runner.pip_freeze(source.venv)
            await catalog.runner.create_venv(target, python=python, on_line=on_line)
            if frozen.strip():
                await _install_list(catalog, target, frozen, on_line)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(undo_create, target, existed, made_parent))
        raise
    return await catalog.created(target, register=register)


async def _install_list(
    catalog: EnvironmentCatalog, venv: str, frozen: str, on_line: LineCallback | None
) -> None:
    fd, listing = tempfile.mkstemp(prefix="uv-kernels-copy-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(frozen)
        await catalog.runner.pip_install_requirements(venv, listing, on_line=on_line)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(listing)


def _copy_project_files(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    for name in PROJECT_FILES:
        path = os.path.join(source, name)
        if os.path.isfile(path):
            # Contents only: a read-only source must not make the copy read-only.
            shutil.copyfile(path, os.path.join(target, name))


def _uv_table(project: str) -> tuple[dict[str, Any], bool]:
    """pyproject.toml's ``[tool.uv]``, and whether the project is a package of its own
    (a build system, unless ``tool.uv.package = false``)."""
    try:
        with open(os.path.join(project, "pyproject.toml"), "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}, False
    uv = data.get("tool", {}).get("uv", {})
    uv = uv if isinstance(uv, dict) else {}
    return uv, bool(uv.get("package", "build-system" in data))


def _is_workspace(project: str) -> bool:
    return "workspace" in _uv_table(project)[0]
