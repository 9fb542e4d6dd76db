"""A ``uv-script`` kernel's environment, built by the server before the kernel starts.

When JupyterLab starts the uv-script kernel on a notebook whose environment is not in the
cache yet, the provisioner asks the service (through ``UvProvisioner.build_hook``, set by
the extension) to build it. The build runs as an operation with action
``build-notebook-env``, so it shows in ``GET /uv-kernels/operations`` with uv's output as
its log, instead of a silent wait; the same steps the stdlib launcher runs in a batch job
(:mod:`script_envs`), each uv command through the uv runner, never on the event loop.
Two starts of the same notebook at once share one build (same key: one after the other, and
the second finds the env ready). This module never imports tornado.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from .errors import UvKernelsError
from .operation_queue import LineCallback, Operation
from .script_envs import (
    BlockError,
    Build,
    BuildError,
    NotebookScript,
    env_path,
    failure_message,
    is_ready,
    prune,
    touch,
)
from .service_base import ServiceBase
from .uvrunner import UvResult, UvRunner

#: The operation's action.
BUILD_ACTION = "build-notebook-env"


class NotebookEnvFailed(UvKernelsError):
    """A notebook's environment could not be built; the message says why and what to do."""

    status = 409


async def build_notebook_env(
    runner: UvRunner,
    script: NotebookScript,
    envs: str,
    *,
    on_line: LineCallback | None = None,
    keep_max: int = 0,
    keep: Collection[str] = (),
) -> str:
    """Build ``script``'s env in ``envs`` with ``runner`` (or find it built meanwhile);
    returns the env. Then prune the cache to ``keep_max``, sparing ``keep`` and this one."""
    final = env_path(envs, script.key)
    if await asyncio.to_thread(is_ready, final):
        await asyncio.to_thread(touch, final)
        return final
    try:
        job = await asyncio.to_thread(Build, envs, script)  # validates, then writes files
    except (BuildError, BlockError) as e:
        raise NotebookEnvFailed(str(e)) from None
    try:

        async def step(name: str, result: UvResult) -> str:
            if result.returncode != 0:
                raise NotebookEnvFailed(failure_message(name, result.stderr, script))
            return result.stdout

        found = await runner.notebook_env_python(job.script_file, on_line=on_line)
        python = (await step("python", found)).strip()
        await step("venv", await runner.notebook_env_venv(python, job.env, on_line=on_line))
        exported = await runner.notebook_env_requirements(
            job.export_file, locked=job.locked, cwd=job.cwd, on_line=on_line
        )
        requirements = await step("export", exported)
        await asyncio.to_thread(job.write_requirements, requirements)
        installed = await runner.notebook_env_install(
            job.env, job.requirements, cwd=job.cwd, on_line=on_line
        )
        await step("install", installed)
        try:
            final = await asyncio.to_thread(job.finish)
        except (BuildError, OSError) as e:
            raise NotebookEnvFailed(str(e)) from None
    finally:
        await asyncio.to_thread(job.discard)
    await asyncio.to_thread(prune, envs, keep_max, {*keep, script.key})
    return final


class ScriptEnvRoutes(ServiceBase):
    """Builds uv-script kernels' environments as operations."""

    async def build_notebook_env(self, script: NotebookScript, in_use: Collection[str]) -> str:
        """Called by the provisioner (on the loop) for a notebook whose env is not built:
        the env's path once built; :class:`NotebookEnvFailed` with the reason otherwise."""
        envs = self.config.effective_script_env_dir()

        async def work(op: Operation, on_line: LineCallback) -> str:
            op.info(f"Building the environment of {script.path} in {env_path(envs, script.key)}.")
            env = await build_notebook_env(
                self.catalog.runner,
                script,
                envs,
                on_line=on_line,
                keep_max=self.config.script_env_cache_max,
                keep=in_use,
            )
            op.result["env"] = env
            return f"The environment of {script.path} is ready: {env}."

        op = self.operations.submit(
            BUILD_ACTION,
            path=script.path,
            key=f"{BUILD_ACTION}:{script.key}",
            subject_id=None,
            work=work,
        )
        assert op.task is not None
        # The build goes on if the start is abandoned: the next start uses it.
        await asyncio.wait({op.task})
        if op.state != "succeeded":
            raise NotebookEnvFailed(op.message or "The notebook's environment was not built.")
        return str(op.result["env"])

    async def _finalize(self, op: Operation) -> dict[str, Any] | None:
        """A notebook env is no environment of the list: nothing to re-inspect."""
        if op.action == BUILD_ACTION:
            return None
        return await super()._finalize(op)
