"""PBS Pro (NCAR's Derecho and Casper): ``#PBS`` directives, ``qsub``, ``qstat -f -F json -x``,
``qdel``. This module never imports tornado."""

from __future__ import annotations

from collections.abc import Sequence

from .schedulers import JobDirectives, JobStatus, Scheduler


class PbsScheduler(Scheduler):
    name = "pbs"
    submit_command = "qsub"
    script_suffix = ".pbs"

    def header(self, d: JobDirectives) -> list[str]:
        raise NotImplementedError

    async def submit(self, script_path: str, cwd: str) -> str:
        raise NotImplementedError

    async def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        raise NotImplementedError

    async def cancel(self, job_id: str) -> None:
        raise NotImplementedError
