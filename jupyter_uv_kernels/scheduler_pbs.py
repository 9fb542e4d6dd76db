"""PBS Pro (NCAR's Derecho and Casper): ``#PBS`` directives, ``qsub``, ``qstat -f -F json -x``,
``qdel``. This module never imports tornado.

What the commands print, as PBS Pro / OpenPBS document it (``qstat(1B)``, ``qsub(1B)``,
``qdel(1B)``, and the commands' source):

- ``qsub SCRIPT`` prints the new job's id on stdout (``4117001.desched1``; an array job is
  ``4117001[].desched1``); on failure, ``qsub: <reason>`` on stderr and a non-zero exit.
- ``qstat -f -F json -x ID...`` prints one JSON document: ``timestamp``, ``pbs_version``,
  ``pbs_server`` and, when at least one id is known, ``Jobs`` keyed by the full job id. Values
  that parse as JSON become numbers (``Exit_status``, ``substate``); times are ``ctime(3)``
  strings in qstat's local time zone. Every id the server does not know (never existed, or
  its history expired; NCAR keeps about 72 hours) gets ``qstat: Unknown Job Id ID`` on
  stderr, and qstat exits non-zero (PBSE_UNKJOBID, 15001, which the shell sees as 153).
- ``qdel ID`` answers ``qdel: Unknown Job Id ID``, ``qdel: Job has finished ID`` (a history
  job) or ``qdel: Request invalid for state of job ID`` (the job is already exiting).
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Sequence
from typing import Any

from .errors import InvalidRequest, SchedulerFailed
from .schedulers import CommandResult, JobDirectives, JobState, JobStatus, Scheduler, first_line

#: A PBS job id: a sequence number, an optional array index (``[]``, ``[7]``), an optional
#: ``.server`` (``desched1``, ``casper-pbs``, or a fully qualified host name).
JOB_ID = re.compile(r"\d+(\[\d*\])?(\.[A-Za-z0-9][A-Za-z0-9.-]*)?")

#: Characters a directory may hold to be written on a ``#PBS -o`` line. Anything else
#: (whitespace, quotes, backslash, ``$``, backtick, ``#``, control characters, non-ASCII) is
#: left out rather than escaped; so is ``:``, because ``-o`` reads ``host:path``.
_SAFE_DIRECTORY = re.compile(r"/[A-Za-z0-9_./+,=@%~-]*")

#: qstat's and qdel's message for an id the server does not know.
_UNKNOWN_JOB = re.compile(r"^(qstat|qdel): Unknown Job Id\b")
#: qdel on a job that has ended (a history job) or is ending: nothing left to cancel.
_ALREADY_ENDED = re.compile(r"^qdel: (Job has finished|Request invalid for state of job)\b")

#: job_state letters (qstat(1B)).
_QUEUED = {"Q", "H", "W", "T", "M"}
_RUNNING = {"R", "E", "B", "S", "U"}
_ENDED = {"F", "X"}
#: substate of a finished job that was deleted (qdel) rather than ending by itself.
_SUBSTATE_TERMINATED = 91

#: Negative Exit_status values PBS sets itself (JOB_EXEC_* in OpenPBS's job.h). Since
#: OpenPBS 20 / PBS Pro 2021, a job killed for exceeding a limit ends with one of these.
_PBS_KILLS = {
    -24: "PBS killed the job: it used more CPUs than requested (ncpus, burst)",
    -25: "PBS killed the job: it used more CPUs than requested (ncpus, sum)",
    -26: "PBS killed the job: it exceeded its virtual memory (vmem)",
    -27: "PBS killed the job: it exceeded its memory (mem)",
    -28: "PBS killed the job: it exceeded its CPU time (cput)",
    -29: "PBS killed the job: it reached its walltime",
}


class PbsScheduler(Scheduler):
    name = "pbs"
    submit_command = "qsub"
    script_suffix = ".pbs"

    def header(self, d: JobDirectives) -> list[str]:
        lines = [f"#PBS -N {d.name}"]
        if d.account:
            lines.append(f"#PBS -A {d.account}")
        if d.queue:
            lines.append(f"#PBS -q {d.queue}")
        lines.append(f"#PBS -l select={d.resources.select()}")
        if d.walltime:
            lines.append(f"#PBS -l walltime={d.walltime}")
        lines.append("#PBS -j oe")
        # qsub runs from the directory, and PBS's default output path is qsub's working
        # directory, so an -o we cannot write safely is simply left out.
        if _SAFE_DIRECTORY.fullmatch(d.directory):
            lines.append(f"#PBS -o {d.directory.rstrip('/')}/")
        for line in lines:
            # A newline (or any other control or line-separator character) would end the
            # directive and start a line of its own in the script.
            if not line.isprintable():
                raise InvalidRequest(
                    f"A job directive cannot contain control characters: {line!r}."
                )
        return lines

    async def submit(self, script_path: str, cwd: str) -> str:
        # qsub reads a leading "-" as an option (and "--" as "run this executable").
        path = script_path if not script_path.startswith("-") else f"./{script_path}"
        result = await self.runner.run(["qsub", path], cwd=cwd)
        answer = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if len(answer) != 1 or not JOB_ID.fullmatch(answer[0]):
            shown = first_line(result.stdout) if result.stdout.strip() else "nothing"
            raise SchedulerFailed(
                f"qsub did not answer with a job id (it printed {shown!r}); the job may or may "
                "not have been submitted: check with `qstat -u $USER`.",
                argv=result.argv,
                returncode=result.returncode,
                stderr=result.stderr,
            )
        return answer[0]

    async def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        # An id that is not shaped like a PBS id cannot be known to PBS: absent, like the
        # ids qstat calls unknown (and it must not reach qstat's argv as an option).
        wanted = [i for i in dict.fromkeys(job_ids) if JOB_ID.fullmatch(i)]
        if not wanted:
            return {}
        result = await self.runner.run(["qstat", "-f", "-F", "json", "-x", *wanted], check=False)
        jobs = _qstat_jobs(result)
        answer: dict[str, JobStatus] = {}
        for key, attributes in jobs.items():
            if not isinstance(attributes, dict):
                continue
            for given in wanted:
                if given not in answer and same_job(given, key):
                    answer[given] = parse_job(attributes)
        return answer

    async def cancel(self, job_id: str) -> None:
        if not JOB_ID.fullmatch(job_id):
            raise InvalidRequest(f"{job_id!r} is not a PBS job id.")
        result = await self.runner.run(["qdel", job_id], check=False)
        if result.returncode == 0:
            return
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        if lines and all(_ALREADY_ENDED.match(line) for line in lines):
            return  # it has ended, or is ending: there is nothing left to stop
        if any(_UNKNOWN_JOB.match(line) for line in lines):
            message = f"PBS does not know job {job_id} (`qdel` said: {first_line(result.stderr)})."
        else:
            message = f"`qdel {job_id}` failed: {first_line(result.stderr or result.stdout)}"
        raise SchedulerFailed(
            message, argv=result.argv, returncode=result.returncode, stderr=result.stderr
        )


def _qstat_jobs(result: CommandResult) -> dict[str, Any]:
    """The ``Jobs`` object of qstat's answer; ``Unknown Job Id`` lines are not failures."""
    others = [
        line.strip()
        for line in result.stderr.splitlines()
        if line.strip() and not _UNKNOWN_JOB.match(line.strip())
    ]
    if result.returncode != 0 and (others or not result.stderr.strip()):
        raise SchedulerFailed(
            f"`qstat` failed: {others[0] if others else first_line(result.stdout)}",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    if not result.stdout.strip():
        if result.returncode != 0:
            return {}  # every id was unknown, and this qstat printed no JSON at all
        raise SchedulerFailed(
            "`qstat -F json` printed nothing.",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    try:
        # strict=False: a raw control character inside a string (an environment variable
        # in Variable_List) is no reason to lose the job's state.
        document = json.loads(result.stdout, strict=False)
    except ValueError as e:
        raise SchedulerFailed(
            f"`qstat -F json` printed something that is not JSON ({e}).",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        ) from None
    jobs = document.get("Jobs", {}) if isinstance(document, dict) else None
    if not isinstance(jobs, dict):
        raise SchedulerFailed(
            "`qstat -F json` printed JSON without a Jobs object.",
            argv=result.argv,
            returncode=result.returncode,
            stderr=result.stderr,
        )
    return jobs


def same_job(given: str, key: str) -> bool:
    """Whether qstat's ``key`` (``1234.desched1``) is the job we asked about as ``given``
    (``1234``, ``1234.desched1``, ``1234.desched1.hpc.ucar.edu``). Casper and Derecho number
    their jobs separately, so ``1234.casper-pbs`` is not ``1234.desched1``."""
    if given == key:
        return True
    seq_a, _, server_a = given.partition(".")
    seq_b, _, server_b = key.partition(".")
    if seq_a != seq_b:
        return False
    if not server_a or not server_b:
        return True
    return (
        server_a == server_b
        or server_a.startswith(server_b + ".")
        or server_b.startswith(server_a + ".")
    )


def parse_job(job: dict[str, Any]) -> JobStatus:
    """One job of ``qstat -f -F json -x``, in our words."""
    raw = str(job.get("job_state", "")).strip() or None
    pbs_comment = _text(job.get("comment"))
    exit_status = _integer(job.get("Exit_status"))
    substate = _integer(job.get("substate"))
    ended = raw in _ENDED
    status = JobStatus(
        state="unknown",
        raw_state=raw,
        submitted_at=parse_ctime(job.get("qtime")) or parse_ctime(job.get("ctime")),
        started_at=parse_ctime(job.get("stime")),
        ended_at=(parse_ctime(job.get("obittime")) or parse_ctime(job.get("mtime")))
        if ended
        else None,
        exit_code=exit_status if ended else None,
        comment=pbs_comment,
    )
    ours: str | None = None
    if raw in _QUEUED:
        # Q queued, H held, W waiting for its start time, T being moved, M moved to another
        # server (peer scheduling: Casper <-> Derecho), where it waits or runs.
        status.state = "queued"
    elif raw in _RUNNING:
        # R running, E exiting after having run, B an array job with subjobs running. S and
        # U are suspended jobs (preempted, or by an administrator; U: a cycle-harvesting
        # workstation is in use): they keep their nodes and resume, so they have not left
        # the running part of their life; the comment says they are suspended.
        status.state = "running"
        if raw == "S":
            ours = "suspended by PBS"
        elif raw == "U":
            ours = "suspended (the workstation is in use)"
    elif ended:
        state: JobState = "finished" if exit_status == 0 else "failed"
        if substate == _SUBSTATE_TERMINATED:
            state = "cancelled"  # deleted with qdel (from here or from a terminal)
        status.state = state
        ours = explain_exit(exit_status, job, deleted=state == "cancelled")
    status.comment = "; ".join(part for part in (ours, pbs_comment) if part) or None
    return status


def explain_exit(code: int | None, job: dict[str, Any], *, deleted: bool = False) -> str | None:
    """What a non-zero Exit_status means (PBS's conventions, qsub(1B) and pbs_mom)."""
    if code is None or code == 0:
        return None
    if code < 0:
        return _PBS_KILLS.get(code, f"PBS could not run the job (exit status {code})")
    if code > 256:
        # pbs_mom records a job whose top shell was killed by signal N as 256 + N.
        number = code - 256
        name = _signal_name(number)
        if deleted:
            why = "qdel"
        elif _reached_walltime(job):
            why = "walltime exceeded"
        elif number == signal.SIGTERM:
            why = "walltime exceeded or qdel"
        elif number == signal.SIGKILL:
            why = "out of memory, walltime exceeded or qdel"
        else:
            why = ""
        return f"killed by signal {number}{f' {name}' if name else ''}" + (
            f" ({why})" if why else ""
        )
    if code > 128:
        # The script's own status: its last command was killed by signal code - 128.
        number = code - 128
        name = _signal_name(number)
        hint = ", often for using too much memory" if number == signal.SIGKILL else ""
        return f"exit status {code}: a command was killed by signal {number}" + (
            f" {name}{hint}" if name else ""
        )
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return ""


def _reached_walltime(job: dict[str, Any]) -> bool:
    used = _seconds(_field(job, "resources_used", "walltime"))
    limit = _seconds(_field(job, "Resource_List", "walltime"))
    return used is not None and limit is not None and limit > 0 and used >= limit


def _field(job: dict[str, Any], group: str, name: str) -> Any:
    value = job.get(group)
    return value.get(name) if isinstance(value, dict) else None


def _seconds(value: Any) -> int | None:
    """``HH:MM:SS`` (or ``MM:SS``, or plain seconds, which qstat's JSON makes a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str) or not re.fullmatch(r"\d+(:\d+){0,2}", value.strip()):
        return None
    total = 0
    for part in value.strip().split(":"):
        total = total * 60 + int(part)
    return total


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


_CTIME = re.compile(r"[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def parse_ctime(value: Any) -> float | None:
    """A ``ctime(3)`` string (``Tue Mar  5 10:15:02 2024``), which qstat writes in its local
    time zone (the one it inherits from us), as epoch seconds. English names always: ctime
    does not follow the locale, so neither does this."""
    if not isinstance(value, str):
        return None
    m = _CTIME.fullmatch(value.strip())
    if m is None or m.group(1) not in _MONTHS:
        return None
    month = _MONTHS.index(m.group(1)) + 1
    day, hour, minute, second, year = (int(m.group(i)) for i in range(2, 7))
    try:
        return time.mktime((year, month, day, hour, minute, second, 0, 0, -1))
    except (OverflowError, ValueError):
        return None
