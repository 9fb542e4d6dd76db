"""The routes about an environment as a whole: disk use, export, delete and copy (issue 12).
This module never imports tornado."""

from __future__ import annotations

from typing import Any

from .operation_queue import Operation
from .service_base import ServiceBase


class LifecycleRoutes(ServiceBase):
    """size, export, delete and copy."""

    async def size(self, env_id: object) -> dict[str, Any]:
        """GET environments/{id}/size: a SizeReply."""
        raise NotImplementedError

    async def export(self, env_id: object, fmt: str) -> dict[str, Any]:
        """GET environments/{id}/export?format=: an ExportReply."""
        raise NotImplementedError

    async def export_save(self, env_id: object, body: dict[str, Any]) -> dict[str, Any]:
        """POST environments/{id}/export (ExportRequest): an ExportSaved."""
        raise NotImplementedError

    async def delete(self, env_id: object, force: bool = False) -> Operation:
        """DELETE environments/{id}: a 202 operation, action delete."""
        raise NotImplementedError

    async def copy(self, body: dict[str, Any]) -> Operation:
        """POST environments with ``from`` (CreateRequest): a 202 operation, action copy."""
        raise NotImplementedError
