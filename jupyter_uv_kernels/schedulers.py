"""The scheduler layer: one interface over PBS Pro and Slurm, and the one runner of their CLIs.

A :class:`Scheduler` knows four things about its batch system: the header of a job script
(``#PBS``/``#SBATCH`` lines, from values :mod:`job_request` has already validated), how to
submit a script (``qsub`` / ``sbatch --parsable``), how to ask for the state of jobs
(``qstat -f -F json -x`` / ``squeue --json``) and how to cancel one (``qdel`` / ``scancel``).
The backends live in ``scheduler_pbs`` and ``scheduler_slurm``; :func:`find_scheduler`
picks one from ``UvKernels.scheduler``.

Every scheduler command goes through :class:`SchedulerRunner`: an argv list (never a
shell), a timeout, a clean environment, and a typed error that carries the command's
stderr. This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from .errors import SchedulerFailed, SchedulerNotFound

JobState = Literal["queued", "running", "finished", "failed", "cancelled", "unknown"]
#: States after which a job never changes again (the store stops asking the scheduler).
FINAL_STATES: tuple[JobState, ...] = ("finished", "failed", "cancelled")


@dataclass(frozen=True)
class Resources:
    """A parsed PBS ``select`` statement (``2:ncpus=4:mem=16GB:ngpus=1``)."""

    nodes: int = 1
    ncpus: int | None = None
    #: PBS's form, as the user typed it: ``16GB``, ``500mb``.
    mem: str | None = None
    ngpus: int | None = None
    #: Other ``key=value`` pairs (``mpiprocs=4``), PBS only, in the order given.
    extra: tuple[tuple[str, str], ...] = ()

    def select(self) -> str:
        """Back to PBS's text."""
        parts = [str(self.nodes)]
        if self.ncpus is not None:
            parts.append(f"ncpus={self.ncpus}")
        if self.mem is not None:
            parts.append(f"mem={self.mem}")
        if self.ngpus is not None:
            parts.append(f"ngpus={self.ngpus}")
        parts.extend(f"{k}={v}" for k, v in self.extra)
        return ":".join(parts)


@dataclass(frozen=True)
class JobDirectives:
    """What a job script's header says, every value already validated (job_request)."""

    #: Job name (``-N`` / ``--job-name``): letters, digits, ``_.-``, starts with a letter.
    name: str
    account: str | None
    queue: str | None
    resources: Resources
    #: ``HH:MM:SS``.
    walltime: str | None
    #: Absolute directory of the notebook or script: the job's output lands there.
    directory: str
    #: The log is ``{directory}/{log_stem}-{short job id}.log``.
    log_stem: str


@dataclass
class JobStatus:
    """What the scheduler says of one job, in our words."""

    state: JobState
    #: The scheduler's own word for it (``Q``, ``R``, ``F``; ``PENDING``, ``COMPLETED``).
    raw_state: str | None = None
    #: Epoch seconds.
    submitted_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    #: The scheduler's comment or reason (``Not Running: Insufficient amount of resource``).
    comment: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "raw_state": self.raw_state,
            "submitted_at": self.submitted_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exit_code": self.exit_code,
            "comment": self.comment,
        }


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass
class SchedulerRunner:
    """Runs ``qsub``/``qstat``/``qdel``/``sbatch``/``squeue``/``scancel``: argv lists, never a
    shell; a timeout that stops the command; :class:`SchedulerFailed` with its stderr."""

    timeout: float = 60.0
    #: The environment of the commands (default: ours, minus conda and Python paths).
    env: dict[str, str] | None = None
    #: Every argv run, newest last (tests read it; the CLI's --verbose may print it).
    history: list[list[str]] = field(default_factory=list)

    @staticmethod
    def available(command: str) -> bool:
        return shutil.which(command) is not None

    async def run(
        self, argv: Sequence[str], *, cwd: str | None = None, check: bool = True
    ) -> CommandResult:
        argv = list(argv)
        # Off the loop: the lookup stats every PATH entry, each a metadata call on GLADE.
        program = await asyncio.to_thread(shutil.which, argv[0])
        if program is None:
            raise SchedulerNotFound(
                f"`{argv[0]}` is not on PATH, so the job cannot be sent to the scheduler; "
                "run this where the batch system's commands are (a login node), or set "
                "UvKernels.scheduler."
            )
        self.history.append(argv)
        proc = await asyncio.create_subprocess_exec(
            program,
            *argv[1:],
            cwd=cwd,
            env=self._environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError) as e:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                await proc.wait()
            if isinstance(e, asyncio.CancelledError):
                raise
            raise SchedulerFailed(
                f"`{argv[0]}` did not answer within {self.timeout:g} s "
                "(UvKernels.scheduler_timeout); the scheduler may be busy, try again.",
                argv=argv,
                returncode=None,
                stderr="",
            ) from None
        result = CommandResult(
            argv,
            proc.returncode if proc.returncode is not None else -1,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )
        if check and result.returncode != 0:
            raise SchedulerFailed(
                f"`{' '.join(argv[:2])}` failed: {first_line(result.stderr or result.stdout)}",
                argv=argv,
                returncode=result.returncode,
                stderr=result.stderr,
            )
        return result

    def _environment(self) -> dict[str, str]:
        from .uvprocess import clean_environment

        return clean_environment(self.env)


def first_line(text: str) -> str:
    """The first non-empty line of a command's message (or a placeholder), shortened."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:500]
    return "no message"


class Scheduler(ABC):
    """One batch system. Subclasses: ``scheduler_pbs.PbsScheduler``,
    ``scheduler_slurm.SlurmScheduler``."""

    #: ``pbs`` or ``slurm``.
    name: ClassVar[str]
    #: The command a user types to submit (README, the script's resubmit hint).
    submit_command: ClassVar[str]
    #: The suffix of the saved job script (``.pbs``, ``.sbatch``).
    script_suffix: ClassVar[str]

    def __init__(self, runner: SchedulerRunner) -> None:
        self.runner = runner

    @abstractmethod
    def header(self, d: JobDirectives) -> list[str]:
        """The directive lines (``#PBS …`` / ``#SBATCH …``), without the ``#!`` line.
        Raises :class:`errors.InvalidRequest` for what this scheduler cannot express
        (a PBS-only ``select`` key on Slurm, say)."""

    @abstractmethod
    async def submit(self, script_path: str, cwd: str) -> str:
        """Submit the saved script from ``cwd``; the scheduler's job id (``1234.desched1``,
        ``5678``)."""

    @abstractmethod
    async def status(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """The state of each job the scheduler still knows; ids it has forgotten (finished
        long ago, or never existed) are absent from the answer, not an error."""

    @abstractmethod
    async def cancel(self, job_id: str) -> None:
        """Ask the scheduler to stop the job (queued or running)."""


SCHEDULER_CHOICES = ("auto", "pbs", "slurm")


def find_scheduler(setting: str, runner: SchedulerRunner) -> Scheduler | None:
    """The backend for ``UvKernels.scheduler``: ``pbs``, ``slurm``, or ``auto`` (``qsub`` on
    PATH means PBS, else ``sbatch`` means Slurm, else None)."""
    from .scheduler_pbs import PbsScheduler
    from .scheduler_slurm import SlurmScheduler

    if setting == "pbs":
        return PbsScheduler(runner)
    if setting == "slurm":
        return SlurmScheduler(runner)
    if runner.available("qsub"):
        return PbsScheduler(runner)
    if runner.available("sbatch"):
        return SlurmScheduler(runner)
    return None
