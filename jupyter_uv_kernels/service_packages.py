"""The routes about an environment's packages beyond add and remove: upgrade, outdated and
the dependency tree (issue 12). The work is the domain's (:mod:`upgrades`,
:mod:`dependency_tree`); outdated and tree run uv as async subprocesses, so they never hold
up the event loop, and only when asked for (never in a listing). This module never
imports tornado."""

from __future__ import annotations

from typing import Any

from .dependency_tree import dependency_tree
from .operation_queue import LineCallback, Operation
from .service_base import ServiceBase
from .upgrades import check_upgrade, outdated_report, upgrade_environment
from .user_input import parse_package_names


class PackageRoutes(ServiceBase):
    """upgrade, outdated and tree."""

    async def upgrade(self, env_id: object, body: dict[str, Any]) -> Operation:
        """POST environments/{id}/upgrade (UpgradeRequest): a 202 operation, action upgrade."""
        names = parse_package_names(body.get("packages", []))
        env, real = await self._confined_env(env_id)
        self._writable(env, "upgraded")
        # Unknown names are refused up front (409 with the fix), unless earlier operations
        # on this env are still queued (an add of that very package): then at its turn.
        if not self.operations.active_for(real):
            await check_upgrade(self.catalog.runner, await self._current(real, env.path), names)

        async def work(op: Operation, on_line: LineCallback) -> str:
            fresh = await self._fresh(real)
            result = await upgrade_environment(self.catalog, fresh, names, on_line=on_line)
            return result.message

        return self._submit("upgrade", env, real, work)

    async def outdated(self, env_id: object, refresh: bool = False) -> dict[str, Any]:
        """GET environments/{id}/outdated: an OutdatedReply."""
        env, real = await self._confined_env(env_id)
        return await outdated_report(
            self.catalog.runner,
            await self._current(real, env.path),
            max_age=self.config.outdated_cache_seconds,
            refresh=refresh,
        )

    async def tree(
        self, env_id: object, invert: bool = False, package: str | None = None
    ) -> dict[str, Any]:
        """GET environments/{id}/tree: a TreeReply."""
        env, real = await self._confined_env(env_id)
        current = await self._current(real, env.path)
        return await dependency_tree(self.catalog.runner, current, invert=invert, package=package)
