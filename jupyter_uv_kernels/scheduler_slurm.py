"""Slurm (other sites, and our real tests): ``#SBATCH`` directives, ``sbatch --parsable``,
``squeue --json``, ``scancel``. This module never imports tornado."""

from __future__ import annotations

from collections.abc import Sequence

from .schedulers import JobDirectives, JobStatus, Scheduler


class SlurmScheduler(Scheduler):
    name = "slurm"
    submit_command = "sbatch"
    script_suffix = ".sbatch"

    def header(self, d: JobDirectives) -> list[str]:
        raise NotImplementedError

    async def submit(self, script_path: str, cwd: str) -> str:
        raise NotImplementedError

    async def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        raise NotImplementedError

    async def cancel(self, job_id: str) -> None:
        raise NotImplementedError
