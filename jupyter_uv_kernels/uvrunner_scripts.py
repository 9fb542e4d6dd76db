"""The uv runner's commands for notebooks that carry their own dependencies: edits of a
block through a temporary script (``uv add/remove/lock/tree --script``), ``uv init --bare``
for turning one into a project, and the steps that build a uv-script kernel's environment
(their argv comes from :mod:`script_envs`, which the stdlib launcher shares).

Mixed into :class:`uvrunner.UvRunner`, still the one place that runs uv in the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import script_envs
from .config import UvKernels
from .uvprocess import LineCallback, UvResult


class ScriptCommands:
    """Mixed into :class:`uvrunner.UvRunner`, which provides ``run`` and ``config``."""

    config: UvKernels

    async def run(
        self,
        args: Sequence[str],
        *,
        cwd: str | None = None,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> UvResult:
        raise NotImplementedError

    async def add_script(
        self,
        script: str,
        requirements: Sequence[str],
        *,
        cwd: str,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv add --script SCRIPT -- REQ…``: into the block (and its lock, if there is one)."""
        args = ["add", "--script", script, "--", *requirements]
        return await self.run(args, cwd=cwd, on_line=on_line)

    async def remove_script(
        self, script: str, names: Sequence[str], *, cwd: str, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv remove --script SCRIPT -- NAME…``."""
        return await self.run(
            ["remove", "--script", script, "--", *names], cwd=cwd, on_line=on_line
        )

    async def lock_script(
        self,
        script: str,
        *,
        cwd: str,
        upgrade: Sequence[str] | bool = False,
        dry_run: bool = False,
        on_line: LineCallback | None = None,
        timeout: float | None = None,
    ) -> UvResult:
        """``uv lock --script SCRIPT``, writing ``SCRIPT.lock``; ``upgrade`` is ``True``
        (``--upgrade``) or names (``--upgrade-package NAME…``); ``dry_run`` only reports
        (``Update NAME vOLD -> vNEW`` lines on stderr)."""
        args = ["lock", "--script", script]
        if upgrade is True:
            args.append("--upgrade")
        elif upgrade:
            args += [f"--upgrade-package={name}" for name in upgrade]
        if dry_run:
            args.append("--dry-run")
        return await self.run(args, cwd=cwd, on_line=on_line, timeout=timeout)

    async def tree_script(
        self,
        script: str,
        *,
        cwd: str,
        invert_package: str | None = None,
        outdated: bool = False,
        timeout: float = 120,
    ) -> str:
        """``uv tree --script SCRIPT`` (from ``SCRIPT.lock`` when there is one), or with
        ``invert_package`` what requires that package. With ``outdated`` uv asks the index
        and marks each package with a newer release ``(latest: vX)``. Returns uv's text."""
        args = ["tree", "--script", script]
        if invert_package:
            args += ["--invert", "--package", invert_package]
        if outdated:
            args.append("--outdated")
        result = await self.run(args, cwd=cwd, timeout=timeout)
        return result.stdout

    async def init_bare(
        self, path: str, *, name: str, python: str | None, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv init --bare --no-workspace``: only a pyproject.toml in ``path`` (no README, no
        .python-version, no git); ``python`` (a specifier such as ``>=3.11``) becomes its
        requires-python."""
        args = ["init", "--bare", "--no-workspace", "--name", name]
        if python:
            args += ["--python", python]
        return await self.run([*args, "--", path], on_line=on_line)

    async def notebook_env_python(
        self, script: str, *, on_line: LineCallback | None = None
    ) -> UvResult:
        """``uv python find --script``: an interpreter meeting the block's requires-python."""
        return await self.run(script_envs.python_find_args(script), on_line=on_line, check=False)

    async def notebook_env_venv(
        self, python: str, env: str, *, on_line: LineCallback | None = None
    ) -> UvResult:
        return await self.run(script_envs.venv_args(python, env), on_line=on_line, check=False)

    async def notebook_env_requirements(
        self,
        script: str,
        *,
        locked: bool,
        cwd: str | None = None,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv export --script``: the locked versions (``--locked``), or the block resolved."""
        args = script_envs.export_args(script, locked=locked)
        return await self.run(args, cwd=cwd, on_line=on_line, check=False)

    async def notebook_env_install(
        self,
        env: str,
        requirements: str,
        *,
        cwd: str | None = None,
        on_line: LineCallback | None = None,
    ) -> UvResult:
        """``uv pip install -r REQS ipykernel`` into the env being built (in ``cwd``, where
        a requirement's relative path starts)."""
        args = script_envs.install_args(
            env, requirements, compile_bytecode=self.config.compile_bytecode
        )
        return await self.run(args, cwd=cwd, on_line=on_line, check=False)
