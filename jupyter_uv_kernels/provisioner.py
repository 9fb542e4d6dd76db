"""``uv-provisioner``: starts kernels of uv environments, checked and cleaned.

jupyter_client instantiates it for every kernelspec whose metadata names
``"provisioner_name": "uv-provisioner"``; the ``config`` dict in that metadata sets the
traits below. It is a :class:`LocalProvisioner`, so the kernel is an ordinary local
process; what it adds happens before launch:

1. the environment must exist and its interpreter must resolve;
2. the ``sync_on_start`` policy runs (never / check / sync), through the async uv runner,
   so the server's event loop never waits on it;
3. the kernel's environment loses CONDA_*, PYTHONHOME and PYTHONPATH, gains VIRTUAL_ENV,
   and has the venv's bin first on PATH.

Any failure raises :class:`KernelStartError` with one paragraph that names the environment
and the command that fixes it; JupyterLab shows it under "Error Starting Kernel".
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from tornado.web import HTTPError
from traitlets import Unicode

from .config import SYNC_ON_START_MODES, UvKernels
from .environments import read_pyvenv_cfg, venv_interpreter
from .errors import UvFailed, UvKernelsError
from .uvrunner import UvRunner, is_leaky


class KernelStartError(UvKernelsError, HTTPError):
    """The kernel cannot start; the message says what to run.

    It is also a tornado ``HTTPError`` because jupyter_server answers any other exception
    raised while starting a kernel with just ``"Unhandled error"`` (tracebacks are no longer
    sent), so JupyterLab's "Error Starting Kernel" would lose the message. For an
    ``HTTPError`` it sends ``log_message``. Outside a server (nbclient, papermill) it is an
    ordinary exception whose ``str`` is the message.
    """

    def __init__(self, message: str) -> None:
        UvKernelsError.__init__(self, message)
        # log_message is a %-format for tornado's own logging: keep a user's '%' literal.
        HTTPError.__init__(self, 500, message.replace("%", "%%"))


class UvProvisioner(LocalProvisioner):
    """A LocalProvisioner that checks and cleans a uv environment before the kernel starts."""

    env_path = Unicode(help="The environment's venv directory (set by the kernelspec).").tag(
        config=True
    )
    project_path = Unicode(
        "", help="The uv project directory, empty for a standalone venv (set by the kernelspec)."
    ).tag(config=True)
    kind = Unicode("project", help="'project' or 'venv' (set by the kernelspec).").tag(config=True)
    sync_on_start = Unicode(
        "",
        help="Per-kernel override of UvKernels.sync_on_start; empty uses UvKernels' setting.",
    ).tag(config=True)

    def _settings(self) -> UvKernels:
        # The parent (the KernelManager) carries the server's config, so c.UvKernels.* applies.
        return UvKernels(config=self.config)

    def _policy(self, settings: UvKernels) -> str:
        mode = self.sync_on_start or settings.sync_on_start
        if mode not in SYNC_ON_START_MODES:
            raise KernelStartError(
                f"sync_on_start={mode!r} in the kernelspec of {self._label()} is not one of "
                f"{', '.join(SYNC_ON_START_MODES)}; fix it with `jupyter uvkernel refresh`."
            )
        return mode

    def _label(self) -> str:
        return self.project_path or self.env_path or "this uv environment"

    def _check_environment(self) -> None:
        """Runs in a thread: a few stat calls on a parallel filesystem can be slow."""
        where = self._label()
        if self.project_path and not os.path.isdir(self.project_path):
            raise KernelStartError(
                f"Cannot start the kernel: the uv project {self.project_path} no longer exists. "
                "If it moved, run `jupyter uvkernel refresh` to update your kernels; if it was "
                "deleted, this kernel will be removed by the next refresh."
            )
        if not self.env_path or not os.path.isdir(self.env_path):
            fix = (
                f"`uv sync --frozen --project {self.project_path}`"
                if self.project_path
                else f"`uv venv {self.env_path}` and reinstall its packages, or "
                "`jupyter uvkernel refresh` to drop this kernel"
            )
            raise KernelStartError(
                f"Cannot start the kernel for {where}: the environment {self.env_path} does not "
                f"exist. Recreate it with {fix}."
            )
        python = venv_interpreter(self.env_path)
        if not os.path.exists(python) or not os.access(python, os.X_OK):
            cfg = read_pyvenv_cfg(self.env_path) or {}
            fix = (
                f"`uv venv --clear {self.env_path}` then "
                f"`uv sync --frozen --project {self.project_path}`"
                if self.project_path
                else f"`uv venv --clear {self.env_path}` and reinstall its packages"
            )
            raise KernelStartError(
                f"Cannot start the kernel for {where}: its interpreter {python} does not resolve "
                f"(the base Python in {cfg.get('home', 'pyvenv.cfg')} is gone or not "
                f"executable). Recreate the environment with {fix}."
            )

    async def _apply_sync_policy(self) -> None:
        settings = self._settings()
        mode = self._policy(settings)
        if mode == "never" or not self.project_path:
            return
        runner = UvRunner(settings)
        project = self.project_path
        if mode == "check":
            # Advisory: a failed check (no uv, uv error) is a warning, never a failed start.
            try:
                result = await runner.sync_check(project, offline=True, timeout=30)
            except UvKernelsError as e:
                self.log.warning(
                    "uv-provisioner could not check %s (%s); starting the kernel anyway.",
                    project,
                    e.message,
                )
                return
            if result.returncode != 0:
                self.log.warning(
                    "uv environment %s is out of sync with its uv.lock; the kernel starts "
                    "anyway. Run `uv sync --frozen --project %s` (or set "
                    "c.UvKernels.sync_on_start = 'sync') to update it.",
                    project,
                    project,
                )
            return
        self.log.info("uv-provisioner: uv sync --frozen in %s", project)
        try:
            await runner.sync(project)
        except UvFailed as e:
            raise KernelStartError(
                f"Cannot start the kernel for {project}: `uv sync --frozen` failed before start "
                f"(sync_on_start='sync'): {e.stderr.strip().splitlines()[-1] if e.stderr else e}. "
                f"Fix the project, then run `uv sync --frozen --project {project}`; or set "
                "c.UvKernels.sync_on_start = 'check' to start without syncing."
            ) from e
        except UvKernelsError as e:
            raise KernelStartError(
                f"Cannot start the kernel for {project}: {e.message} "
                "Or set c.UvKernels.sync_on_start = 'check' to start without syncing."
            ) from e

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Called by the KernelManager before every (re)start, on the server's event loop."""
        await asyncio.to_thread(self._check_environment)
        await self._apply_sync_policy()
        result: dict[str, Any] = await super().pre_launch(**kwargs)
        return result

    def _finalize_env(self, env: dict[str, str]) -> None:
        """Called by ``pre_launch`` of the base class with the kernel's environment."""
        super()._finalize_env(env)
        for key in [k for k in env if is_leaky(k)]:
            del env[key]
        env["VIRTUAL_ENV"] = self.env_path
        bin_dir = os.path.join(self.env_path, "bin")
        rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != bin_dir]
        env["PATH"] = os.pathsep.join([bin_dir, *rest])
