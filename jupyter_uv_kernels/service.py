"""The service: what the REST API does to environments, one method per route.

:class:`EnvironmentService` combines the routes, grouped by role: the reads here, the
changes (``service_changes``), package views and upgrades (``service_packages``), disk
use, export, delete and copy (``service_lifecycle``), where packages come from
(``service_sources``), batch jobs (``service_jobs``), a notebook's own dependencies
(``service_notebooks``) and uv-script kernels' environments (``service_script_envs``), all on
:class:`service_base.ServiceBase`. After every operation the index settles that environment.
This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from .errors import UvKernelsError
from .provenance import describe, resolve_notebook, target_for_kernel, validate_kernel_name
from .pythons import available_pythons
from .service_changes import ChangeRoutes
from .service_jobs import JobRoutes
from .service_lifecycle import LifecycleRoutes
from .service_notebooks import NotebookRoutes
from .service_packages import PackageRoutes
from .service_script_envs import ScriptEnvRoutes
from .service_sources import SourceRoutes


class EnvironmentService(
    NotebookRoutes,
    LifecycleRoutes,
    PackageRoutes,
    SourceRoutes,
    ChangeRoutes,
    JobRoutes,
    ScriptEnvRoutes,
):
    """The server's use cases, one method per REST route (handlers stay thin)."""

    # -- reads ---------------------------------------------------------------------------

    def environments(self) -> dict[str, Any]:
        """The list as it is now; a look, so a cheap check may start in the background."""
        self.index.looked()
        return self.index.to_json()

    def refresh(self) -> dict[str, Any]:
        """POST refresh: walk now (never another process's recent walk), and share it."""
        self.index.request_scan(fresh=True)
        return {"scanning": True, "scanned_at": self.index.scanned_at}

    async def details(self, env_id: object) -> dict[str, Any]:
        known = self.index.get(env_id)
        env = await self._current(known.path)
        env.kernel = known.kernel
        env.workspace_members = known.workspace_members
        extra = await self.catalog.details(env)
        return {**env.to_json(), **extra}

    async def provenance(self, path: object, kernel: object) -> dict[str, Any]:
        """What the panel records in a notebook at ``path`` (relative to the server root)
        running ``kernel``; ``{"provenance": None}`` for kernels that are not ours."""
        notebook = resolve_notebook(path, self.catalog.fallback_root or os.getcwd())
        name = validate_kernel_name(kernel)
        kernel_dir = str(self.catalog.reconciler.kernel_dir)
        target = await asyncio.to_thread(
            target_for_kernel, name, os.path.dirname(notebook), kernel_dir
        )
        if target is None:
            return {"provenance": None}
        if self._uv_version is None:
            with contextlib.suppress(UvKernelsError):
                self._uv_version = await self.catalog.runner.version()
        # Hashes uv.lock and reads pyvenv.cfg: in a thread, not on the event loop.
        record = await asyncio.to_thread(describe, name, target, self._uv_version)
        return {"provenance": record.to_json()}

    async def pythons(self) -> dict[str, Any]:
        found = await available_pythons(self.catalog.runner)
        return {"pythons": [p.to_json() for p in found]}

    def operations_list(self) -> dict[str, Any]:
        return {"operations": [self.operation_json(op) for op in self.operations.recent()]}

    def operation(self, op_id: str, since: int = 0) -> dict[str, Any]:
        op = self.operations.get(op_id)
        entries, following = op.log_since(since)
        return {"operation": self.operation_json(op), "log": entries, "next": following}

    async def cancel(self, op_id: str) -> dict[str, Any]:
        op = await self.operations.cancel(op_id)
        return {"operation": self.operation_json(op)}
