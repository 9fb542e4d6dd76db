"""``uv-provisioner``: in the server, starts kernels of uv environments checked and synced.

Kernelspecs written by this package name no provisioner (so they stay visible to a batch
job's Python, which does not have this package); instead the server extension makes
``uv-provisioner`` jupyter_client's *default* provisioner in the server process. For every
spec without our owner marker it is exactly :class:`LocalProvisioner`. For ours it adds,
before launch:

1. the environment: the one in the owner marker, or for ``uv-project`` the nearest uv project
   at or above the kernel's working directory (the notebook's folder), or for ``uv-script``
   the env of the notebook's inline dependencies: reused with a few stats, else built first
   (through ``build_hook``: a ``build-notebook-env`` operation), and the launcher told the
   notebook, the env dir and uv, so it finds the same env;
2. the ``sync_on_start`` policy (never / check / sync), through the async uv runner, so the
   server's event loop never waits on it; with ``sync`` a project with a lock but no
   ``.venv`` (a fresh clone) gets one;
3. the launcher's checks (venv, interpreter, ipykernel), run here too so a failure reaches
   JupyterLab as "Error Starting Kernel" with the fix, instead of a kernel that dies;
4. the kernel's environment cleaned as the launcher cleans it (no CONDA_*, PYTHONHOME,
   PYTHONPATH; VIRTUAL_ENV, the venv's bin first on PATH; UV_PROJECT for projects), plus
   the server's uv appended to PATH when the kernel would otherwise have none, so
   ``!uv add`` works in a notebook.

Specs of format 1 still name ``uv-provisioner`` with a ``config``; the traits below read it
until the reconciler rewrites them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import textwrap
from collections.abc import Awaitable, Callable, Collection
from typing import Any, ClassVar

from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from tornado.web import HTTPError
from traitlets import Unicode

from .config import SYNC_ON_START_MODES, UvKernels
from .errors import UvFailed, UvKernelsError
from .kernel_launcher import (
    LaunchError,
    Target,
    check_target,
    find_project,
    kernel_environment,
    no_project_message,
)
from .kernelspec_files import spec_target
from .kernelspecs import OWNER_KEY, PROJECT_KERNEL_KIND, SCRIPT_KERNEL_KIND
from .script_block import BlockError
from .script_envs import ENVS_VARIABLE, UV_VARIABLE, NotebookScript, env_path, is_ready, touch
from .script_launcher import NOTEBOOK_VARIABLE, find_script
from .service_script_envs import build_notebook_env
from .uvrunner import UvRunner, find_uv

#: Builds a notebook's env as an operation (the server's service); None outside a server.
BuildHook = Callable[[NotebookScript, Collection[str]], Awaitable[str]]

#: The name this provisioner is registered under (entry point group
#: ``jupyter_client.kernel_provisioners``).
PROVISIONER_NAME = "uv-provisioner"


class KernelStartError(UvKernelsError, HTTPError):
    """The kernel cannot start; the message says what to run.

    It is also a tornado ``HTTPError`` because jupyter_server answers any other exception
    raised while starting a kernel with just ``"Unhandled error"`` (tracebacks are no longer
    sent), so JupyterLab's "Error Starting Kernel" would lose the message. For an
    ``HTTPError`` it sends ``log_message``. Outside a server (nbclient, papermill) it is an
    ordinary exception whose ``str`` is the message.
    """

    #: 409: the environment's state keeps the kernel from starting, and the message says
    #: what to run. A 5xx would make jupyter_server log it as a server error, headers and
    #: all, for what is an expected, user-fixable condition.
    status = 409

    def __init__(self, message: str) -> None:
        message = wrap_for_dialog(message)
        UvKernelsError.__init__(self, message)
        # log_message is a %-format for tornado's own logging: keep a user's '%' literal.
        HTTPError.__init__(self, self.status, message.replace("%", "%%"))


#: JupyterLab shows the message in a <pre>: lines longer than this would be cut off.
DIALOG_WIDTH = 78


def wrap_for_dialog(message: str) -> str:
    """Break the explanation into lines JupyterLab's "Error Starting Kernel" box can show;
    the fix (a line starting with "Fix" or "Or") stays whole, on its own line, so it can be
    copied."""
    out = []
    for line in message.splitlines():
        if line.startswith(("Fix", "Or ")) or len(line) <= DIALOG_WIDTH:
            out.append(line)
        else:
            out.append(
                textwrap.fill(line, DIALOG_WIDTH, break_long_words=False, break_on_hyphens=False)
            )
    return "\n".join(out)


class QuietKernelStartErrors(logging.Filter):
    """Drops jupyter_client's ERROR tracebacks for a :class:`KernelStartError`.

    jupyter_client logs every failed start with ``log.exception``, twice (two nested
    wrappers). For our expected, actionable errors, tornado's one WARNING line with the
    message is enough; anything else is logged as before.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, KernelStartError)


class UvProvisioner(LocalProvisioner):
    """LocalProvisioner, plus checks, sync and a clean environment for our kernelspecs."""

    # Format-1 specs set these through ``kernel_provisioner.config``.
    env_path = Unicode(help="The environment's venv directory (format-1 specs).").tag(config=True)
    project_path = Unicode(
        "", help="The uv project directory, empty for a standalone venv (format-1 specs)."
    ).tag(config=True)
    kind = Unicode("project", help="'project' or 'venv' (format-1 specs).").tag(config=True)
    sync_on_start = Unicode(
        "",
        help="Per-kernel override of UvKernels.sync_on_start; empty uses UvKernels' setting.",
    ).tag(config=True)

    #: The environment of the kernel being started; None for specs that are not ours.
    target: Target | None = None
    #: Set by the server extension: told ``(project, problem)`` when a kernel-start sync
    #: fails (the env may be half-synced, whatever the mtimes say) and ``(project, None)``
    #: when one succeeds, so the panel's status stays true.
    drift_hook: ClassVar[Callable[[str, str | None], None] | None] = None
    #: Set by the server extension: builds a uv-script kernel's env as an operation (given
    #: the notebook's script and the env keys running kernels use); else built here.
    build_hook: ClassVar[BuildHook | None] = None
    #: kernel id -> env key of every running uv-script kernel (pruning spares them).
    script_keys: ClassVar[dict[str, str]] = {}
    #: What the uv-script launcher is told (the notebook, the env dir, uv), so it agrees.
    script_variables: dict[str, str] | None = None

    def _owner(self) -> dict[str, Any] | None:
        metadata = getattr(self.kernel_spec, "metadata", None) or {}
        owner = metadata.get(OWNER_KEY)
        return owner if isinstance(owner, dict) else None

    def _settings(self) -> UvKernels:
        # The parent (the KernelManager) carries the server's config, so c.UvKernels.* applies.
        return UvKernels(config=self.config)

    def _policy(self, settings: UvKernels) -> str:
        mode = self.sync_on_start or settings.sync_on_start
        if mode not in SYNC_ON_START_MODES:
            raise KernelStartError(
                f"sync_on_start={mode!r} for {self._label()} is not one of "
                f"{', '.join(SYNC_ON_START_MODES)}; fix it with `jupyter uvkernel refresh`."
            )
        return mode

    def _label(self) -> str:
        target = self.target
        return (target.project or target.venv) if target else "this uv environment"

    def _resolve_target(self, cwd: str) -> Target | None:
        """Runs in a thread: a few stat calls on a parallel filesystem can be slow."""
        owner = self._owner()
        if owner is None:
            if not self.env_path:
                return None  # not our kernelspec: plain LocalProvisioner
            return Target(self.env_path, self.project_path or None)
        if owner.get("kind") == PROJECT_KERNEL_KIND:
            target = find_project(cwd)
            if target is None:
                raise KernelStartError(no_project_message(cwd))
            return target
        target = spec_target(self.kernel_spec.argv, owner)
        if target is None:
            raise KernelStartError(
                f"The kernelspec {self.kernel_spec.display_name!r} lacks its environment's "
                "path; rewrite it with `jupyter uvkernel refresh`."
            )
        if target.project and not os.path.isdir(target.project):
            raise KernelStartError(
                f"Cannot start the kernel: the uv project {target.project} no longer exists.\n"
                "Fix: if it moved, run `jupyter uvkernel refresh` to update your kernels; if it "
                "was deleted, the next refresh removes this kernel."
            )
        return target

    async def _apply_sync_policy(self, target: Target) -> None:
        settings = self._settings()
        mode = self._policy(settings)
        project = target.project
        if mode == "never" or not project:
            return
        runner = UvRunner(settings)
        if mode == "check":
            if not os.path.isdir(target.venv):
                return  # nothing to check; the launcher's check below names the fix
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
        except UvKernelsError as e:
            self._report_drift(
                project,
                "A kernel-start `uv sync --frozen` failed, so the environment may not match "
                f"uv.lock; run Sync (`uv sync --frozen --project {project}`).",
            )
            self._raise_sync_failure(project, e)
        self._report_drift(project, None)

    @classmethod
    def _report_drift(cls, project: str, problem: str | None) -> None:
        hook = cls.drift_hook
        if hook is not None:
            hook(project, problem)

    def _raise_sync_failure(self, project: str, error: UvKernelsError) -> None:
        if isinstance(error, UvFailed):
            stderr = error.stderr.strip()
            reason = stderr.splitlines()[-1] if stderr else str(error)
            raise KernelStartError(
                f"Cannot start the kernel for {project}: `uv sync --frozen` failed before start "
                f"(sync_on_start='sync'): {reason}\n"
                f"Fix the project, then run `uv sync --frozen --project {project}`; or set "
                "c.UvKernels.sync_on_start = 'check' to start without syncing."
            ) from error
        raise KernelStartError(
            f"Cannot start the kernel for {project}: {error.message}\n"
            "Or set c.UvKernels.sync_on_start = 'check' to start without syncing."
        ) from error

    async def _prepare_script_env(self, environ: dict[str, str], cwd: str) -> Target:
        """uv-script: the notebook's env, reused (stats only, no uv) or built first."""
        settings = self._settings()
        try:
            script = await asyncio.to_thread(find_script, {**os.environ, **environ}, cwd)
        except (LaunchError, BlockError) as e:
            raise KernelStartError(str(e)) from None
        envs = settings.effective_script_env_dir()
        venv = env_path(envs, script.key)
        if await asyncio.to_thread(is_ready, venv):
            await asyncio.to_thread(touch, venv)
        else:
            in_use = set(self.script_keys.values())
            hook = type(self).build_hook
            try:
                if hook is not None:
                    venv = await hook(script, in_use)
                else:
                    self.log.info("uv-provisioner: building %s for %s", venv, script.path)
                    venv = await build_notebook_env(
                        UvRunner(settings),
                        script,
                        envs,
                        keep_max=settings.script_env_cache_max,
                        keep=in_use,
                    )
            except UvKernelsError as e:
                raise KernelStartError(e.message) from None
        self.script_keys[self.kernel_id] = script.key
        uv = await asyncio.to_thread(find_uv, settings.uv)
        self.script_variables = {
            NOTEBOOK_VARIABLE: script.path,
            ENVS_VARIABLE: envs,
            UV_VARIABLE: uv,
        }
        return Target(venv, None)

    async def cleanup(self, restart: bool = False) -> None:
        """Called by the KernelManager after the kernel stops."""
        if not restart:
            self.script_keys.pop(self.kernel_id, None)
        await super().cleanup(restart=restart)

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Called by the KernelManager before every (re)start, on the server's event loop."""
        cwd = kwargs.get("cwd") or os.getcwd()
        owner = self._owner()
        if owner is not None and owner.get("kind") == SCRIPT_KERNEL_KIND:
            self.target = await self._prepare_script_env(kwargs.get("env") or {}, str(cwd))
        else:
            self.target = await asyncio.to_thread(self._resolve_target, str(cwd))
        if self.target is not None:
            await self._apply_sync_policy(self.target)
            try:
                await asyncio.to_thread(check_target, self.target)
            except LaunchError as e:
                raise KernelStartError(str(e)) from None
        result: dict[str, Any] = await super().pre_launch(**kwargs)
        return result

    def _finalize_env(self, env: dict[str, str]) -> None:
        """Called by ``pre_launch`` of the base class with the kernel's environment."""
        super()._finalize_env(env)
        if self.target is None:
            return
        cleaned = kernel_environment(self.target, env)
        if shutil.which("uv", path=cleaned["PATH"]) is None:
            # `!uv add` in a notebook needs a uv; the server's may come from the uv package.
            try:
                uv_dir = os.path.dirname(find_uv(self._settings().uv))
            except UvKernelsError:
                uv_dir = ""
            if uv_dir:
                cleaned["PATH"] = os.pathsep.join([cleaned["PATH"], uv_dir])
        env.clear()
        env.update(cleaned)
        env.update(self.script_variables or {})
