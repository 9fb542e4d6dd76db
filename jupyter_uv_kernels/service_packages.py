"""The routes about an environment's packages beyond add and remove: upgrade, outdated and
the dependency tree (issue 12). This module never imports tornado."""

from __future__ import annotations

from typing import Any

from .operation_queue import Operation
from .service_base import ServiceBase


class PackageRoutes(ServiceBase):
    """upgrade, outdated and tree."""

    async def upgrade(self, env_id: object, body: dict[str, Any]) -> Operation:
        """POST environments/{id}/upgrade (UpgradeRequest): a 202 operation, action upgrade."""
        raise NotImplementedError

    async def outdated(self, env_id: object, refresh: bool = False) -> dict[str, Any]:
        """GET environments/{id}/outdated: an OutdatedReply."""
        raise NotImplementedError

    async def tree(
        self, env_id: object, invert: bool = False, package: str | None = None
    ) -> dict[str, Any]:
        """GET environments/{id}/tree: a TreeReply."""
        raise NotImplementedError
