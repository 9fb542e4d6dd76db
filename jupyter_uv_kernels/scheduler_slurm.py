"""Slurm (other sites, and our real tests): ``#SBATCH`` directives, ``sbatch --parsable``,
``squeue --json``, ``scancel``. This module never imports tornado.

- The header speaks PBS's vocabulary (a ``select`` statement, ``16GB``) because the job
  request does; it is translated here, and what Slurm has no word for (``mpiprocs``) is
  refused rather than dropped.
- ``squeue --json`` changed shape over the years, and all shapes are read:

  - 22.05 (openapi v0.0.38): ``job_state`` a string, times plain integers, ``exit_code``
    the raw wait status (``768`` for ``exit 3``);
  - 23.02 (data_parser v0.0.39): the same, but ``exit_code`` is ``{"set", "infinite",
    "number"}`` around the raw wait status;
  - 23.11 and later (v0.0.40+): ``job_state`` a list (``["RUNNING"]``, ``["CANCELLED",
    "COMPLETING"]``), times ``{"set", "infinite", "number"}``, ``exit_code`` an object
    whose ``return_code`` is the exit status and ``signal.id`` the signal.

- Before 24.05.1, ``squeue --json`` ignores every filter (``--jobs``, ``--states``) and
  dumps all jobs; from 24.05.1 it applies them, default state filter included, which
  hides finished jobs. So we pass ``--states=all --jobs=…`` and filter again here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidRequest, SchedulerFailed
from .schedulers import (
    FINAL_STATES,
    CommandResult,
    JobDirectives,
    JobState,
    JobStatus,
    Scheduler,
    first_line,
)

#: Slurm's job states (base states and the flags squeue reports), in our words.
STATES: dict[str, JobState] = {
    "PENDING": "queued",
    "CONFIGURING": "queued",
    "REQUEUED": "queued",
    "REQUEUE_FED": "queued",
    "REQUEUE_HOLD": "queued",
    "RESV_DEL_HOLD": "queued",
    # A suspended job holds its nodes but does not run, and resumes where it stopped:
    # to the person waiting for it, it is waiting again, not failed and not running.
    "SUSPENDED": "queued",
    "RUNNING": "running",
    "COMPLETING": "running",
    "STAGE_OUT": "running",
    "SIGNALING": "running",
    "RESIZING": "running",
    "COMPLETED": "finished",
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "NODE_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "PREEMPTED": "failed",
}
#: Flags that say more than the base state they come with (``["PENDING", "REQUEUED"]``,
#: ``["CANCELLED", "COMPLETING"]``: the job is still cleaning up its node).
_OVERRIDING_FLAGS = (
    "COMPLETING",
    "STAGE_OUT",
    "CONFIGURING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESV_DEL_HOLD",
)

#: PBS's memory units -> Slurm's (``--mem`` takes K, M, G, T).
_MEM_UNITS = {"kb": "K", "mb": "M", "gb": "G", "tb": "T"}
_PBS_MEM = re.compile(r"(\d+)(b|kb|mb|gb|tb|pb)?", re.IGNORECASE)
#: A path that can stand on a ``#SBATCH --output=`` line as it is: sbatch reads the
#: line without a shell, so blanks, quotes, backslashes and ``%`` (its own patterns) would
#: change its meaning; ``$`` and backticks are refused so nothing looks expandable.
_UNSAFE_IN_DIRECTIVE = re.compile(r"[\s\"'%\\$`\x00-\x1f\x7f]")
_PARSABLE_ID = re.compile(r"(\d+)(?:;[\w.-]+)?")
_NUMERIC_ID = re.compile(r"\d+")
#: What squeue says when none of the ids it was given exists (any more).
_INVALID_ID = "Invalid job id specified"
_NO_VAL32 = 0xFFFFFFFE


def slurm_memory(pbs: str) -> str:
    """PBS's ``mem=`` value in ``--mem``'s form: ``16GB`` -> ``16G``, ``500mb`` -> ``500M``;
    a bare number (or ``b``) is bytes, rounded up to whole ``K``."""
    match = _PBS_MEM.fullmatch(pbs.strip())
    if match is None:
        raise InvalidRequest(
            f"mem={pbs} is not a size Slurm understands; write it like 16GB or 500mb."
        )
    number, unit = int(match.group(1)), (match.group(2) or "b").lower()
    if number == 0:
        raise InvalidRequest(
            "mem=0 would ask Slurm for all of each node's memory; give a size such as 4GB."
        )
    if unit == "b":
        return f"{math.ceil(number / 1024)}K"
    if unit == "pb":
        return f"{number * 1024}T"
    return f"{number}{_MEM_UNITS[unit]}"


def safe_in_directive(path: str) -> bool:
    """Whether ``path`` can be written on an ``#SBATCH`` line unquoted."""
    return bool(path) and not _UNSAFE_IN_DIRECTIVE.search(path)


class SlurmScheduler(Scheduler):
    name = "slurm"
    submit_command = "sbatch"
    script_suffix = ".sbatch"

    def header(self, d: JobDirectives) -> list[str]:
        r = d.resources
        if r.extra:
            keys = ", ".join(k for k, _ in r.extra)
            raise InvalidRequest(
                f"select option {keys} is PBS-only: Slurm has no equivalent. Remove it from "
                "select, or ask for nodes, ncpus, mem and ngpus only."
            )
        options = [f"--job-name={d.name}"]
        if d.account:
            options.append(f"--account={d.account}")
        if d.queue:
            options.append(f"--partition={d.queue}")
        options += [f"--nodes={r.nodes}", "--ntasks-per-node=1"]
        if r.ncpus is not None:
            options.append(f"--cpus-per-task={r.ncpus}")
        if r.mem is not None:
            options.append(f"--mem={slurm_memory(r.mem)}")
        if r.ngpus is not None:
            options.append(f"--gpus-per-node={r.ngpus}")
        if d.walltime:
            options.append(f"--time={d.walltime}")
        # Without --output, Slurm writes slurm-%j.out in the submit directory (the
        # notebook's): the log is not lost, only named differently.
        log = f"{d.directory.rstrip('/')}/{d.log_stem}"
        if safe_in_directive(log):
            options.append(f"--output={log}-%j.log")
            options.append("--open-mode=append")
        lines = [f"#SBATCH {option}" for option in options]
        for line in lines:
            if "\n" in line or "\r" in line:
                raise InvalidRequest(f"a job directive cannot span lines: {line!r}")
        return lines

    async def submit(self, script_path: str, cwd: str) -> str:
        result = await self.runner.run(["sbatch", "--parsable", script_path], cwd=cwd)
        return read_job_id(result)

    async def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        # Slurm's ids are numbers; anything else cannot be one of its jobs (and would make
        # squeue fail for the others).
        wanted = {i for i in job_ids if _NUMERIC_ID.fullmatch(i)}
        if not wanted:
            return {}
        argv = ["squeue", "--json", "--states=all", f"--jobs={','.join(sorted(wanted))}"]
        return read_squeue(await self.runner.run(argv, check=False), wanted)

    async def cancel(self, job_id: str) -> None:
        if not _NUMERIC_ID.fullmatch(job_id):
            raise InvalidRequest(f"{job_id!r} is not a Slurm job id (they are numbers).")
        # scancel answers 0 for a job that already ended (or never existed): nothing to stop.
        await self.runner.run(["scancel", job_id])


def read_job_id(result: CommandResult) -> str:
    """The job id in ``sbatch --parsable``'s answer: ``5678``, or ``5678;cluster``."""
    answer = result.stdout.strip()
    match = _PARSABLE_ID.fullmatch(answer)
    if match is None:
        raise SchedulerFailed(
            "sbatch did not answer with a job id "
            f"(it said {answer[:200]!r}); check the job with squeue --me.",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    return match.group(1)


def read_squeue(result: CommandResult, wanted: set[str]) -> dict[str, JobStatus]:
    """The jobs of a finished ``squeue --json`` run. When every id asked for is unknown,
    squeue fails with "Invalid job id specified": that is an empty answer, not an error."""
    if result.returncode != 0:
        if _INVALID_ID in result.stderr or _INVALID_ID in result.stdout:
            return {}
        raise SchedulerFailed(
            f"`squeue --json` failed: {first_line(result.stderr or result.stdout)}",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    try:
        data = json.loads(result.stdout)
    except ValueError:
        raise SchedulerFailed(
            "`squeue --json` did not print JSON; is this Slurm 21.08 or newer?",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        ) from None
    return parse_squeue(data, wanted)


def parse_squeue(data: Any, wanted: set[str] | None = None) -> dict[str, JobStatus]:
    """``squeue --json``'s answer, any shape, as {job id: JobStatus} (only ``wanted`` ids)."""
    jobs = data.get("jobs") if isinstance(data, Mapping) else None
    found: dict[str, JobStatus] = {}
    for job in jobs if isinstance(jobs, list) else []:
        if not isinstance(job, Mapping) or _number(job.get("job_id")) is None:
            continue
        job_id = str(_number(job.get("job_id")))
        if wanted is None or job_id in wanted:
            found[job_id] = job_status(job)
    return found


def job_status(job: Mapping[str, Any]) -> JobStatus:
    """One job of ``squeue --json`` in our words."""
    raw, state = _state(job.get("job_state"))
    final = state in FINAL_STATES
    reason = job.get("state_reason")
    return JobStatus(
        state=state,
        raw_state=raw,
        submitted_at=_epoch(job.get("submit_time")),
        started_at=_epoch(job.get("start_time")),
        # While the job runs, end_time is when its time limit will end it, not an end.
        ended_at=_epoch(job.get("end_time")) if final else None,
        exit_code=_exit_code(job.get("exit_code")) if final else None,
        comment=reason if isinstance(reason, str) and reason not in ("", "None") else None,
    )


def _state(value: Any) -> tuple[str | None, JobState]:
    words = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    words = [w for w in words if isinstance(w, str)]
    if not words:
        return None, "unknown"
    for flag in _OVERRIDING_FLAGS:
        if flag in words[1:]:
            return ",".join(words), STATES[flag]
    return ",".join(words), STATES.get(words[0], "unknown")


def _number(value: Any) -> int | None:
    """A plain integer, or the v0.0.39+ ``{"set", "infinite", "number"}`` wrapper."""
    if isinstance(value, Mapping):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _epoch(value: Any) -> float | None:
    seconds = _number(value)
    return float(seconds) if seconds else None


def _exit_code(value: Any) -> int | None:
    """The exit status, from a raw wait status (<= 23.02) or the v0.0.40+ object; a job
    killed by signal N gets 128 + N, as a shell would say."""
    if isinstance(value, Mapping) and "return_code" in value:
        signal = value.get("signal")
        signal_id = _number(signal.get("id")) if isinstance(signal, Mapping) else None
        status = value.get("status")
        statuses = [status] if isinstance(status, str) else status or []
        if signal_id and "SIGNALED" in statuses:
            return 128 + signal_id
        return _number(value.get("return_code"))
    raw = _number(value)
    if raw is None or raw >= _NO_VAL32:
        return None
    if raw & 0x7F:  # killed by a signal
        return 128 + (raw & 0x7F)
    return (raw >> 8) & 0xFF
