"""Batch jobs: plan, submit, list, inspect and cancel; the one domain layer under ``POST
jobs`` & co. and ``jupyter uvkernel submit``/``jobs``/``cancel``.

:meth:`JobManager.prepare` turns a request into a :class:`Prepared` job: the file (inside
the roots, a ``.ipynb`` or ``.py``), the environment and kernel, the settings (request,
then the project's table, then the site's), and the script text. :meth:`submit` saves the
script beside the file and hands it to the scheduler; the job is remembered in the
:class:`job_store.JobStore`. Listing asks the scheduler once for every job not yet over;
a job the scheduler has forgotten is settled from the last line of its log. This module
never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from .catalog import EnvironmentCatalog
from .environments import Environment
from .errors import (
    Conflict,
    InvalidRequest,
    JobNotFound,
    SchedulerFailed,
    SchedulerNotFound,
)
from .job_request import (
    JobSettings,
    job_name,
    project_defaults,
    resolve_settings,
    validate_args,
    validate_parameters,
)
from .job_script import (
    JobPlan,
    exit_status_from_log,
    log_path,
    log_tail,
    output_path,
    render,
    save,
    script_path,
)
from .job_store import JobStore
from .job_target import KINDS, check_kernel_installed, job_environment, job_file
from .schedulers import (
    FINAL_STATES,
    JobDirectives,
    JobStatus,
    Resources,
    Scheduler,
    SchedulerRunner,
    find_scheduler,
)

log = logging.getLogger(__name__)

#: A job the scheduler does not list this soon after submission is still taken as queued.
GRACE_SECONDS = 60.0


@dataclass
class Prepared:
    """A job ready to be saved and submitted (or shown, for a dry run)."""

    plan: JobPlan
    settings: JobSettings
    name: str
    scheduler: Scheduler
    script: str
    script_path: str
    #: Set when no scheduler was found and the preview is PBS's.
    note: str | None = None

    def preview(self) -> dict[str, Any]:
        script = os.path.basename(self.script_path)
        return {
            "script": self.script,
            "script_path": self.script_path,
            "scheduler": self.scheduler.name,
            "submit_command": f"{self.scheduler.submit_command} {script}",
            "settings": {
                **self.settings.to_json(),
                "env_path": self.plan.project or self.plan.venv,
                "kernel": self.plan.kernel,
                "name": self.name,
            },
            "note": self.note,
        }


class JobManager:
    def __init__(self, catalog: EnvironmentCatalog, *, base_dir: str) -> None:
        """``base_dir``: what relative file paths are relative to (the server's root_dir;
        the CLI's current directory), and what ``open_output`` is relative to."""
        self.catalog = catalog
        self.config = catalog.config
        self.base_dir = os.path.realpath(base_dir)
        self.store = JobStore(self.config.effective_job_state_file())
        self.runner = SchedulerRunner(timeout=self.config.effective_scheduler_timeout())

    # -- the scheduler -------------------------------------------------------------------

    def scheduler(self) -> Scheduler | None:
        return find_scheduler(self.config.scheduler, self.runner)

    def _scheduler_for(self, name: str) -> Scheduler:
        found = find_scheduler(name, self.runner)
        assert found is not None
        return found

    # -- submit --------------------------------------------------------------------------

    def prepare(self, request: dict[str, Any], env: Environment | None = None) -> Prepared:
        """Validate ``request`` (a JobRequest) and write the script text; nothing is saved.
        ``env`` is the environment the caller resolved from ``request["env"]``."""
        path = job_file(self.catalog, self.base_dir, request.get("path"))
        kind = KINDS[os.path.splitext(path)[1]]
        if env is not None and request.get("kernel"):
            raise InvalidRequest("Give env or kernel, not both.")
        target, kernel = job_environment(self.catalog, path, kind, env, request.get("kernel"))
        parameters = validate_parameters(request.get("parameters"))
        args = validate_args(request.get("args"))
        if kind == "script" and parameters:
            raise InvalidRequest(
                "parameters are for notebooks (papermill); a script takes args instead."
            )
        if kind == "notebook" and args:
            raise InvalidRequest("args are for scripts; a notebook takes parameters instead.")
        settings = resolve_settings(
            request, project_defaults(target.project), dict(self.config.job_defaults)
        )
        plan = JobPlan(
            kind=kind,
            path=path,
            venv=target.venv,
            project=target.project,
            kernel=kernel,
            parameters=parameters,
            args=args,
            jupyter_data_dir=str(self.catalog.reconciler.kernel_dir.parent),
            uv_cache_dir=(
                os.path.expanduser(self.config.uv_cache_dir) if self.config.uv_cache_dir else None
            ),
            script_env_dir=self.config.effective_script_env_dir(),
        )
        name = job_name(request.get("name"), plan.stem)
        if kernel is not None:
            check_kernel_installed(self.catalog, kernel)
        scheduler, note = self.scheduler(), None
        if scheduler is None:
            scheduler = self._scheduler_for("pbs")
            note = (
                "No batch scheduler was found here (neither qsub nor sbatch is on PATH): "
                "this is the PBS script; it cannot be submitted from this server."
            )
        directives = JobDirectives(
            name=name,
            account=settings.account,
            queue=settings.queue,
            resources=settings.select or Resources(),
            walltime=settings.walltime,
            directory=plan.directory,
            log_stem=plan.stem,
        )
        text = render(plan, directives, scheduler, self.config.job_prologue)
        try:
            where = script_path(plan, scheduler)
        except FileExistsError as e:
            raise Conflict(str(e)) from None
        return Prepared(plan, settings, name, scheduler, text, where, note)

    async def submit(self, prepared: Prepared) -> dict[str, Any]:
        """Save the script beside the file, submit it, remember the job."""
        if prepared.note is not None:
            raise SchedulerNotFound(
                "No batch scheduler was found here: neither qsub (PBS) nor sbatch (Slurm) is "
                "on PATH. Submit from a login node, or set UvKernels.scheduler."
            )
        plan = prepared.plan
        try:
            await asyncio.to_thread(save, prepared.script_path, prepared.script)
        except OSError as e:
            raise Conflict(
                f"The job script cannot be written beside the file ({e.strerror}: "
                f"{prepared.script_path}); the folder must be writable, since the job writes "
                "its log and output there too."
            ) from None
        job_id = await prepared.scheduler.submit(prepared.script_path, plan.directory)
        settings = prepared.settings.to_json()
        job = {
            "id": job_id,
            "scheduler": prepared.scheduler.name,
            "name": prepared.name,
            "path": plan.path,
            "kind": plan.kind,
            "env_path": plan.project or plan.venv,
            "kernel": plan.kernel,
            "account": settings["account"],
            "queue": settings["queue"],
            "select": settings["select"],
            "walltime": settings["walltime"],
            "parameters": plan.parameters,
            "args": plan.args,
            "script_path": prepared.script_path,
            "log_path": log_path(plan, job_id),
            "output_path": output_path(plan, job_id),
            "submitted_at": time.time(),
            "state": "queued",
            "cancelled": False,
        }
        await asyncio.to_thread(self.store.add, job)
        log.info("Submitted %s as %s job %s", plan.path, prepared.scheduler.name, job_id)
        return self._shown(job)

    # -- read ----------------------------------------------------------------------------

    async def listing(self) -> dict[str, Any]:
        jobs = await asyncio.to_thread(self.store.all)
        problem = await self._refresh(jobs)
        scheduler = await asyncio.to_thread(self.scheduler)  # `auto` looks along PATH
        return {
            "jobs": [self._shown(j) for j in jobs],
            "scheduler": scheduler.name if scheduler is not None else None,
            "problem": problem,
        }

    async def get(self, job_id: str) -> dict[str, Any]:
        job = await self._known(job_id)
        await self._refresh([job])
        shown = self._shown(job)
        output = job.get("output_path")
        return {
            **shown,
            "log_tail": await asyncio.to_thread(log_tail, job["log_path"]),
            "output_exists": output is not None and os.path.isfile(output),
        }

    async def cancel(self, job_id: str) -> dict[str, Any]:
        job = await self._known(job_id)
        await self._refresh([job])
        if job["state"] not in FINAL_STATES:
            await self._scheduler_for(job["scheduler"]).cancel(job_id)
            job["cancelled"] = True
            await asyncio.to_thread(self.store.update, {job_id: {"cancelled": True}})
            await self._refresh([job])
        return self._shown(job)

    async def _known(self, job_id: str) -> dict[str, Any]:
        job = await asyncio.to_thread(self.store.get, job_id)
        if job is None:
            raise JobNotFound(
                f"No job {job_id[:80]!r} was submitted from here; GET jobs lists those that were."
            )
        return job

    async def _refresh(self, jobs: list[dict[str, Any]]) -> str | None:
        """Ask the scheduler(s) once about every job not over yet; settle the forgotten ones
        from their logs; store what changed. Returns a problem sentence, or None."""
        open_jobs = [j for j in jobs if j.get("state") not in FINAL_STATES]
        problem = None
        by_scheduler: dict[str, list[dict[str, Any]]] = {}
        for job in open_jobs:
            by_scheduler.setdefault(job["scheduler"], []).append(job)
        updates: dict[str, dict[str, Any]] = {}
        for name, group in by_scheduler.items():
            try:
                answers = await self._scheduler_for(name).status([j["id"] for j in group])
            except (SchedulerFailed, SchedulerNotFound) as e:
                problem = f"The job states could not be refreshed: {e.message}"
                answers = None
            for job in group:
                change = await asyncio.to_thread(
                    _settle, job, None if answers is None else answers.get(job["id"]), answers
                )
                if change:
                    job.update(change)
                    updates[job["id"]] = change
        await asyncio.to_thread(self.store.update, updates)
        return problem

    def _shown(self, job: dict[str, Any]) -> dict[str, Any]:
        started, submitted = job.get("started_at"), job.get("submitted_at")
        if started and submitted:
            queued: float | None = max(0.0, started - submitted)
        elif job.get("state") == "queued" and submitted:
            queued = max(0.0, time.time() - submitted)
        else:
            queued = None
        return {
            **{k: job.get(k) for k in _JOB_FIELDS},
            "queued_seconds": queued,
            "open_output": self._relative(job.get("output_path")),
            "open_log": self._relative(job.get("log_path")),
        }

    def _relative(self, path: str | None) -> str | None:
        if not path:
            return None
        rel = os.path.relpath(path, self.base_dir)
        return None if rel == ".." or rel.startswith("../") else rel


_JOB_FIELDS = (
    "id",
    "scheduler",
    "name",
    "path",
    "kind",
    "env_path",
    "kernel",
    "account",
    "queue",
    "select",
    "walltime",
    "parameters",
    "args",
    "script_path",
    "log_path",
    "output_path",
    "submitted_at",
    "state",
    "raw_state",
    "started_at",
    "ended_at",
    "exit_code",
    "comment",
    "cancelled",
)


def _settle(
    job: dict[str, Any], answer: JobStatus | None, answers: dict[str, JobStatus] | None
) -> dict[str, Any]:
    """The fields of ``job`` that change, given the scheduler's answer about it (None: it
    does not know the job; ``answers`` None: the scheduler could not be asked)."""
    if answer is not None:
        change = answer.to_json()
        if job.get("cancelled") and answer.state in ("failed", "finished"):
            change["state"] = "cancelled"
        # A value the scheduler does not give (None) never erases one we know.
        return {k: v for k, v in change.items() if v is not None and job.get(k) != v}
    status = exit_status_from_log(job["log_path"])
    if status is not None:
        ended = None
        with contextlib.suppress(OSError):
            ended = os.path.getmtime(job["log_path"])
        if job.get("cancelled") and status != 0:
            return {
                "state": "cancelled",
                "exit_code": status,
                "ended_at": job.get("ended_at") or ended,
            }
        return {
            "state": "finished" if status == 0 else "failed",
            "exit_code": status,
            "ended_at": job.get("ended_at") or ended,
            "comment": None if status == 0 else f"The job ended with exit status {status}.",
        }
    if answers is None:
        return {} if job.get("state") == "unknown" else {"state": "unknown"}
    if time.time() - float(job.get("submitted_at") or 0) < GRACE_SECONDS:
        return {}
    if job.get("cancelled"):
        return {"state": "cancelled", "comment": "Cancelled from here."}
    return {
        "state": "failed",
        "comment": (
            "The scheduler no longer knows this job and its log has no exit line: it was "
            "killed (walltime, memory, node failure) or never started; see the log and the "
            "scheduler's output file."
        ),
    }
