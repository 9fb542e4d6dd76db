"""The routes about where packages come from: named indexes and the requirements-file
picker's view of the roots (issue 12). This module never imports tornado."""

from __future__ import annotations

import asyncio
from typing import Any

from .indexes import configured_indexes
from .requirement_files import list_directory
from .service_base import ServiceBase


class SourceRoutes(ServiceBase):
    """indexes and files."""

    def indexes(self) -> dict[str, Any]:
        """GET indexes: an IndexList (UvKernels.indexes; a project's own are in its details)."""
        return {"indexes": [i.to_json() for i in configured_indexes(self.config.indexes)]}

    async def files(self, path: str | None) -> dict[str, Any]:
        """GET files?path=: a FileListing of one directory inside the roots (the roots
        themselves without a path). In a thread: every entry is a stat, slow on GLADE."""
        return await asyncio.to_thread(self._list_files, path or None)

    def _list_files(self, path: str | None) -> dict[str, Any]:
        catalog = self.catalog
        real = catalog.confine(path, "path") if path is not None else None
        return list_directory(
            real, [str(r) for r in catalog.roots], inside=lambda p: catalog.root_of(p) is not None
        )
