"""The batch-job routes (issue 13): POST/GET jobs, GET/DELETE jobs/{id}, on
:class:`jobs.JobManager`. This module never imports tornado."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from .jobs import JobManager
from .service_base import ServiceBase


class JobRoutes(ServiceBase):
    """jobs and jobs/{id}."""

    _jobs: JobManager | None = None

    @property
    def jobs(self) -> JobManager:
        if self._jobs is None:
            base = self.catalog.fallback_root or os.getcwd()
            self._jobs = JobManager(self.catalog, base_dir=base)
        return self._jobs

    async def submit_job(self, body: dict[str, Any], dry_run: bool) -> dict[str, Any]:
        """POST jobs: the script (dry run), or the submitted job."""
        env = self.index.get(body["env"]) if body.get("env") else None
        # Reads the notebook and pyproject.toml, and looks for a free script name: GLADE
        # metadata calls, so in a thread.
        prepared = await asyncio.to_thread(self.jobs.prepare, body, env)
        if dry_run:
            return prepared.preview()
        return await self.jobs.submit(prepared)

    async def jobs_list(self) -> dict[str, Any]:
        return await self.jobs.listing()

    async def job(self, job_id: str) -> dict[str, Any]:
        return await self.jobs.get(job_id)

    async def cancel_job(self, job_id: str) -> dict[str, Any]:
        return await self.jobs.cancel(job_id)
