"""The routes about an environment as a whole: disk use, export, delete and copy (issue 12).
This module never imports tornado."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .copying import check_copy, copy_environment
from .create_target import check_create_target
from .deletion import delete_environment, plan_delete
from .disk_usage import measure
from .errors import Conflict, EnvironmentNotFound, InvalidRequest
from .export import check_save, export_environment, export_folder, save_export
from .operation_queue import LineCallback, Operation
from .service_base import ServiceBase

#: CreateRequest fields that describe a new environment, so make no sense with ``from``.
NOT_WITH_FROM = ("kind", "packages", "requirements_file", "python", "index")


class LifecycleRoutes(ServiceBase):
    """size, export, delete and copy."""

    async def size(self, env_id: object) -> dict[str, Any]:
        """GET environments/{id}/size: a SizeReply."""
        env, real = await self._confined_env(env_id)
        venv = env.venv or os.path.join(real, ".venv")
        usage = await asyncio.to_thread(measure, venv, self.config.size_time_budget)
        return usage.to_json()

    async def export(self, env_id: object, fmt: str) -> dict[str, Any]:
        """GET environments/{id}/export?format=: an ExportReply."""
        _, real = await self._confined_env(env_id)
        fresh = await self._current(real)
        return (await export_environment(self.catalog.runner, fresh, fmt)).to_json()

    async def export_save(self, env_id: object, body: dict[str, Any]) -> dict[str, Any]:
        """POST environments/{id}/export (ExportRequest): an ExportSaved."""
        _, real = await self._confined_env(env_id)
        fresh = await self._current(real)
        folder = await asyncio.to_thread(
            self.catalog.confine, export_folder(fresh), "export folder"
        )
        overwrite = bool(body.get("overwrite", False))
        # Refused before uv runs: the file exists, or the folder is read-only.
        await asyncio.to_thread(check_save, folder, body["format"], overwrite=overwrite)
        export = await export_environment(self.catalog.runner, fresh, body["format"])
        path, size = await asyncio.to_thread(save_export, folder, export, overwrite=overwrite)
        return {"path": path, "bytes": size}

    async def delete(self, env_id: object, force: bool = False) -> Operation:
        """DELETE environments/{id}: a 202 operation, action delete."""
        env, real = await self._confined_env(env_id)
        self._writable(env, "deleted")
        plan = await asyncio.to_thread(plan_delete, self.catalog, real)
        running = self.running_kernel_names()
        if env.kernel and env.kernel in running and not force:
            raise Conflict(
                f"The kernel {env.kernel} of {env.path} is running; shut it down first, or "
                "delete anyway with force=true (the running kernel then loses its files)."
            )

        async def work(op: Operation, on_line: LineCallback) -> str:
            done, kernels = await asyncio.to_thread(delete_environment, self.catalog, real)
            for name in kernels:
                on_line("info", f"Removed the kernel {name}.")
            return f"Deleted {done.describe()}."

        return self._submit("delete", plan.env, real, work)

    async def copy(self, body: dict[str, Any]) -> Operation:
        """POST environments with ``from`` (CreateRequest): a 202 operation, action copy."""
        given = [k for k in NOT_WITH_FROM if body.get(k) not in (None, [], "")]
        if given:
            raise InvalidRequest(
                f"A copy takes everything from its source, so {', '.join(given)} cannot be "
                'given with "from"; send only path and from, then change the copy.'
            )
        try:
            known = self.index.get(body["from"])
        except EnvironmentNotFound as e:
            raise InvalidRequest(f'"from" names no listed environment: {e.message}') from None
        source = await self._current(os.path.realpath(known.path))
        real = await asyncio.to_thread(self.catalog.confine, body["path"])
        await asyncio.to_thread(check_copy, source, real)
        await asyncio.to_thread(check_create_target, real)
        if self.operations.active_for(real):
            raise Conflict(f"An operation on {real} is already queued or running; wait for it.")

        async def work(op: Operation, on_line: LineCallback) -> str:
            env = await copy_environment(
                self.catalog, source, real, on_line=on_line, register=False
            )
            return f"Copied {source.kind} {source.path} to {env.path}."

        return self._submit("copy", None, real, work)
