"""The routes about where packages come from: named indexes and the requirements-file
picker's view of the roots (issue 12). This module never imports tornado."""

from __future__ import annotations

from typing import Any

from .service_base import ServiceBase


class SourceRoutes(ServiceBase):
    """indexes and files."""

    def indexes(self) -> dict[str, Any]:
        """GET indexes: an IndexList."""
        raise NotImplementedError

    async def files(self, path: str | None) -> dict[str, Any]:
        """GET files?path=: a FileListing."""
        raise NotImplementedError
