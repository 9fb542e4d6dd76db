"""The uv runner: the one module that builds uv command lines; every public coroutine of
:class:`UvRunner` maps to one uv command. The process plumbing (no shell, a clean
environment, streaming, timeouts, process-group kills, error summaries) is
:mod:`uvprocess`.

Tests may swap :class:`UvRunner` (the seam), but prefer the real uv.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from .config import UvKernels
from .uvprocess import (
    LineCallback,
    UvResult,
    clean_environment,
    explain_python_lookup,
    find_uv,
    run_process,
    summarize_uv_error,
)
from .uvrunner_scripts import ScriptCommands

__all__ = [
    "LineCallback",
    "UvResult",
    "UvRunner",
    "clean_environment",
    "explain_python_lookup",
    "find_uv",
    "summarize_uv_error",
]


class UvRunner(ScriptCommands):
    """Runs uv for one configuration. Every public coroutine maps to one uv command."""

    def __init__(self, config: UvKernels) -> None:
        self.config = config

    # -- plumbing -------------------------------------------------------------------------

    @property
    def uv(self) -> str:
        return find_uv(self.config.uv)

    def environment(self) -> dict[str, str]:
        env = clean_environment()
        if self.config.uv_cache_dir:
            env["UV_CACHE_DIR"] = os.path.expanduser(self.config.uv_cache_dir)
        env["NO_COLOR"] = "1"
        env.pop("FORCE_COLOR", None)
        if not self.config.allow_python_downloads:
            env["UV_PYTHON_DOWNLOADS"] = "never"
        return env

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: str | None = None,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> UvResult:
        """Run ``uv *args``. Raises UvFailed on a non-zero exit when ``check`` is true."""
        if timeout is None:
            timeout = self.config.operation_timeout or None
        # Finding uv stats every PATH entry (or the configured file): on a parallel
        # filesystem each is a metadata call, so not on the event loop.
        uv = await asyncio.to_thread(find_uv, self.config.uv)
        return await run_process(
            [uv, *args],
            env=self.environment(),
            cwd=cwd,
            on_line=on_line,
            timeout=timeout,
            check=check,
            nice=self.config.uv_nice,
        )

    def _compile(self) -> list[str]:
        return ["--compile-bytecode"] if self.config.compile_bytecode else []

    # -- commands -------------------------------------------------------------------------

    async def version(self) -> str:
        result = await self.run(["--version"], timeout=30)
        return result.stdout.strip()

    async def init_project(
        self,
        path: str,
        *,
        name: str | None = None,
        python: str | None = None,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        # --no-workspace: never edit an enclosing project's pyproject.toml behind the user's back.
        args = ["init", "--no-workspace"]
        if name:
            args += ["--name", name]
        if python:
            args += ["--python", python]
        return await self.run([*args, "--", path], on_line=on_line)

    async def add(
        self,
        project: str,
        requirements: Iterable[str],
        *,
        dev: bool = False,
        requirements_file: str | None = None,
        index: tuple[str, str] | None = None,
        constraints: str | None = None,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv add``; with ``requirements_file``, ``-r FILE`` too; with ``index`` (name,
        URL), ``--index NAME=URL``: uv records it in ``[[tool.uv.index]]`` and pins every
        package of this add to it in ``[tool.uv.sources]``; with ``constraints``,
        ``--constraints FILE`` (versions this resolution must take; not recorded)."""
        args = ["add", "--project", project, *self._compile()]
        if dev:
            args.append("--dev")
        if constraints is not None:
            args.append(f"--constraints={constraints}")
        if index is not None:
            args.append(f"--index={index[0]}={index[1]}")
        if requirements_file is not None:
            args.append(f"--requirements={requirements_file}")
        return await self.run([*args, "--", *requirements], on_line=on_line)

    async def remove(
        self,
        project: str,
        names: Iterable[str],
        *,
        options: Sequence[str] = (),
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv remove``; ``options`` select the group (``--group dev``, ``--optional x``)."""
        args = ["remove", "--project", project, *options]
        return await self.run([*args, "--", *names], on_line=on_line)

    async def sync(
        self,
        project: str,
        *,
        relock: bool = False,
        reinstall: Iterable[str] = (),
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv sync --frozen`` (reproduce the lock exactly), or ``uv sync`` when relocking;
        ``reinstall`` names packages to install afresh even though uv thinks they are there."""
        args = ["sync", "--project", project, *self._compile()]
        if not relock:
            args.append("--frozen")
        args += [f"--reinstall-package={name}" for name in reinstall]
        return await self.run(args, on_line=on_line)

    async def sync_check(
        self,
        project: str,
        *,
        offline: bool = False,
        timeout: float = 120,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv sync --check``: exit 0 when the env matches the lock (and the lock is current).

        ``offline`` keeps a kernel start from waiting on the network when a stale lock would
        make uv resolve: uv then fails fast, which is reported as out of sync.
        """
        args = ["sync", "--check", "--project", project]
        if offline:
            args.append("--offline")
        return await self.run(args, on_line=on_line, check=False, timeout=timeout)

    async def lock_upgrade(
        self, project: str, packages: Sequence[str] = (), *, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv lock --upgrade-package NAME…`` (``--upgrade`` when none are named): the newest
        versions pyproject.toml's constraints allow, written to uv.lock (the env is not
        touched; a ``uv sync --frozen`` follows)."""
        args = ["lock", "--project", project]
        args += [f"--upgrade-package={name}" for name in packages] or ["--upgrade"]
        return await self.run(args, on_line=on_line)

    async def lock_upgrade_dry_run(self, project: str, *, timeout: float = 120) -> UvResult:
        """``uv lock --upgrade --dry-run``: what the constraints allow, as lines like
        ``Update packaging v23.2 -> v24.2`` (on stderr); uv.lock is not written."""
        return await self.run(
            ["lock", "--upgrade", "--dry-run", "--project", project], cwd=project, timeout=timeout
        )

    async def pip_install_upgrade(
        self, venv: str, names: Sequence[str], *, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv pip install --upgrade-package NAME… -- NAME…``: each named package (and what it
        needs) to its newest release; the rest of the venv stays as it is."""
        args = ["pip", "install", "--python", _python(venv), *self._compile()]
        args += [f"--upgrade-package={name}" for name in names]
        return await self.run([*args, "--", *names], on_line=on_line)

    async def pip_list_outdated(
        self, venv: str, *, cwd: str | None = None, timeout: float = 120
    ) -> list[dict[str, Any]]:
        """``uv pip list --outdated --exclude-editable --format json``: installed packages with
        a newer release (name, version, latest_version). Editable installs are left out: uv
        would compare a project with an unrelated package of the same name on the index."""
        args = ["pip", "list", "--outdated", "--exclude-editable", "--format", "json"]
        result = await self.run([*args, "--python", _python(venv)], cwd=cwd, timeout=timeout)
        found: list[dict[str, Any]] = json.loads(result.stdout or "[]")
        return [p for p in found if not p.get("editable_project_location")]

    async def tree(
        self, project: str, *, invert_package: str | None = None, timeout: float = 120
    ) -> str:
        """``uv tree --frozen --all-groups`` (every dependency group, each marked ``(group:
        NAME)``), or with ``invert_package`` the packages that require it
        (``--invert --package NAME``). Returns uv's text."""
        args = ["tree", "--frozen", "--all-groups", "--project", project]
        if invert_package:
            args += ["--invert", "--package", invert_package]
        result = await self.run(args, cwd=project, timeout=timeout)
        return result.stdout

    async def pip_tree(
        self, venv: str, *, invert_package: str | None = None, timeout: float = 120
    ) -> str:
        """``uv pip tree`` of a venv (top level: what nothing else requires), or with
        ``invert_package`` what requires that package. Returns uv's text."""
        args = ["pip", "tree", "--python", _python(venv)]
        if invert_package:
            args += ["--invert", "--package", invert_package]
        result = await self.run(args, timeout=timeout)
        return result.stdout

    async def create_venv(
        self, path: str, *, python: str | None = None, on_line: LineCallback | None = None
    ) -> UvResult:
        args = ["venv"]
        if python:
            args += ["--python", python]
        return await self.run([*args, "--", path], on_line=on_line)

    async def pip_install(
        self,
        venv: str,
        requirements: Iterable[str],
        *,
        requirements_file: str | None = None,
        index_url: str | None = None,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv pip install``; ``-r FILE`` with ``requirements_file``. ``index_url`` is
        ``--index URL``: searched before PyPI, which stays the default index, so a package
        the extra index has comes from it (uv's first-index strategy, the safe one; torch from
        PyTorch's index) and every other package from PyPI."""
        args = ["pip", "install", "--python", _python(venv), *self._compile()]
        if index_url is not None:
            args.append(f"--index={index_url}")
        if requirements_file is not None:
            args.append(f"--requirements={requirements_file}")
        return await self.run([*args, "--", *requirements], on_line=on_line)

    async def pip_uninstall(
        self, venv: str, names: Iterable[str], *, on_line: LineCallback | None = None
    ) -> UvResult:
        args = ["pip", "uninstall", "--python", _python(venv)]
        return await self.run([*args, "--", *names], on_line=on_line)

    async def pip_list(self, venv: str) -> list[dict[str, Any]]:
        result = await self.run(
            ["pip", "list", "--python", _python(venv), "--format", "json"], timeout=120
        )
        packages: list[dict[str, Any]] = json.loads(result.stdout or "[]")
        return packages

    async def pip_required_by(self, venv: str, name: str) -> list[str]:
        """Installed packages that require ``name`` (``uv pip show``'s Required-by)."""
        result = await self.run(
            ["pip", "show", "--python", _python(venv), "--", name], timeout=60, check=False
        )
        for line in result.stdout.splitlines():
            key, _, value = line.partition(":")
            if key.strip().lower() == "required-by":
                return sorted(v.strip() for v in value.split(",") if v.strip())
        return []

    async def pip_check(self, venv: str) -> UvResult:
        return await self.run(["pip", "check", "--python", _python(venv)], check=False, timeout=120)

    async def export(self, project: str, fmt: str) -> str:
        """``uv export --frozen --format F``: the lock as requirements.txt or pylock.toml.

        Hashes are kept (``uv pip install -r`` then checks every download). The project's
        own package is left out (``--no-emit-project``): it is the folder itself, which a
        colleague installing the export does not have; its dependencies are all there."""
        args = ["export", "--frozen", "--no-emit-project", "--format", fmt, "--project", project]
        result = await self.run(args, timeout=120)
        return result.stdout

    async def pip_freeze(self, venv: str) -> str:
        """``uv pip freeze``: the installed packages of a venv, pinned."""
        result = await self.run(["pip", "freeze", "--python", _python(venv)], timeout=120)
        return result.stdout

    async def pip_install_requirements(
        self, venv: str, requirements_file: str, *, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv pip install -r FILE`` into a venv."""
        args = ["pip", "install", "--python", _python(venv), *self._compile()]
        return await self.run([*args, "-r", requirements_file], on_line=on_line)

    async def sync_copy(self, project: str, *, on_line: LineCallback | None = None) -> UvResult:
        """``uv sync --frozen --no-install-project``: a copied project's lock, installed.

        The copy has pyproject.toml and uv.lock but not the source of the project's own
        package (if it has one), so that package is not installed."""
        args = ["sync", "--frozen", "--no-install-project", "--project", project]
        return await self.run([*args, *self._compile()], on_line=on_line)

    # -- a notebook's script block, in a temporary script (issue 15) -----------------------
    # Each runs on a temporary ``.py`` holding the notebook's block (its lock beside it as
    # ``<script>.lock``), in the notebook's folder (``cwd``), so relative paths resolve.

    async def python_list(self) -> list[dict[str, Any]]:
        result = await self.run(
            ["python", "list", "--only-installed", "--output-format", "json"], timeout=120
        )
        found: list[dict[str, Any]] = json.loads(result.stdout or "[]")
        return found

    # -- a uv-script kernel's environment: the argv comes from script_envs, which the -------
    # -- stdlib launcher shares; check=False, the caller explains the failure. -------------


def _python(venv: str) -> str:
    return os.path.join(venv, "bin", "python")
