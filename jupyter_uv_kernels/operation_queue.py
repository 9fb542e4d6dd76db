"""The operation queue: long work that runs in the background, with a log and cancel.

Generic: it knows nothing about environments or uv. Work is a coroutine; runs with the same
key (the service uses an environment's realpath) go one after another, runs with different
keys go in parallel up to a limit. Each run has an id, a state (queued, running,
succeeded, failed, cancelled), a log readable from an offset, and cancel. A finaliser runs
after every run, whatever its outcome, and its return value is kept as the run's record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal

from .errors import OperationNotFound, UvKernelsError

log = logging.getLogger(__name__)

#: Called with (stream, line) for every line of output the work produces.
LineCallback = Callable[[str, str], None]

State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})

#: Finished operations kept for ``GET operations``; running and queued ones are always kept.
HISTORY_LIMIT = 200
#: Log lines kept per operation; uv is terse, so only a runaway build reaches this.
LOG_LIMIT = 20000
#: How long ``cancel`` waits for uv's process group to be gone before it answers.
CANCEL_WAIT = 30.0


class ServerStopping(UvKernelsError):
    """The extension is shutting down and takes no new work."""

    status = 503


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclasses.dataclass
class Operation:
    """One run of work on one target."""

    id: str
    #: What the work does ("create", "sync", …); the queue only shows it.
    action: str
    #: The id of what the work acts on, when it has one (for the caller's answers).
    subject_id: str | None
    #: The path the work acts on, shown in the log.
    path: str
    #: Serialisation key: runs with the same key go one after another.
    key: str
    state: State = "queued"
    message: str | None = None
    created_at: str = dataclasses.field(default_factory=utcnow)
    started_at: str | None = None
    finished_at: str | None = None
    #: What the finaliser returned (the caller's record of the target after the work).
    record: dict[str, Any] | None = None
    log: list[dict[str, str]] = dataclasses.field(default_factory=list)
    #: Set by the work, read by the finaliser (e.g. the kernel name a register wrote).
    result: dict[str, Any] = dataclasses.field(default_factory=dict)
    cancel_requested: bool = False
    finalizing: bool = False
    #: How the work ended, set before the finaliser runs (``state`` changes last).
    outcome: State | None = None
    dropped_lines: int = 0
    task: asyncio.Task[None] | None = dataclasses.field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def append(self, stream: str, line: str) -> None:
        """The ``on_line`` callback given to the uv runner."""
        if len(self.log) >= LOG_LIMIT:
            self.dropped_lines += 1
            return
        self.log.append({"stream": stream, "line": line})

    def info(self, line: str) -> None:
        self.append("info", line)

    def log_since(self, since: int) -> tuple[list[dict[str, str]], int]:
        """Entries after index ``since`` and the offset to ask for next time."""
        since = min(max(since, 0), len(self.log))
        return self.log[since:], len(self.log)

    def to_json(self) -> dict[str, Any]:
        """The queue's own fields; callers add how they name the subject and the record."""
        return {
            "id": self.id,
            "action": self.action,
            "path": self.path,
            "state": self.state,
            "message": self.message,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "log_length": len(self.log),
        }


#: The work of one operation: gets the line callback, returns a success message.
Work = Callable[[Operation, LineCallback], Awaitable[str]]
#: Runs after the work, whatever its outcome; returns the target's new record.
Finalizer = Callable[[Operation], Awaitable[dict[str, Any] | None]]


class OperationManager:
    """Queues, runs, logs and cancels operations (ARCHITECTURE §1, "Operations")."""

    def __init__(
        self,
        *,
        max_concurrent: int,
        finalize: Finalizer | None = None,
        history: int = HISTORY_LIMIT,
        logger: logging.Logger | logging.LoggerAdapter[Any] = log,
    ) -> None:
        self.log = logger
        self.max_concurrent = max(1, max_concurrent)
        self.history = history
        self._finalize = finalize
        self._ops: dict[str, Operation] = {}
        self._slots: asyncio.Semaphore | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = {}
        self._closed = False

    # -- queries ---------------------------------------------------------------------------

    def get(self, op_id: str) -> Operation:
        op = self._ops.get(op_id)
        if op is None:
            raise OperationNotFound(
                f"No operation {op_id!r}; it may have finished long ago and left the history "
                f"(the last {self.history} are kept)."
            )
        return op

    def recent(self) -> list[Operation]:
        """Every kept operation, oldest first."""
        return list(self._ops.values())

    def active_for(self, key: str) -> list[Operation]:
        return [op for op in self._ops.values() if op.key == key and op.active]

    # -- running ---------------------------------------------------------------------------

    def submit(
        self, action: str, *, path: str, key: str, subject_id: str | None, work: Work
    ) -> Operation:
        """Queue ``work``; returns at once with the operation in state ``queued``.

        Must be called on the event loop.
        """
        if self._closed:
            raise ServerStopping("The server is shutting down; try again after it restarts.")
        op = Operation(
            id=uuid.uuid4().hex, action=action, subject_id=subject_id, path=path, key=key
        )
        self._ops[op.id] = op
        op.task = asyncio.get_running_loop().create_task(self._run(op, work))
        op.task.add_done_callback(lambda _: self._done(op))
        self._trim()
        return op

    def _done(self, op: Operation) -> None:
        _settle_state(op)
        self._trim()

    def _trim(self) -> None:
        finished = [op for op in self._ops.values() if not op.active]
        for op in finished[: max(0, len(finished) - self.history)]:
            del self._ops[op.id]

    def _lock_for(self, key: str) -> asyncio.Lock:
        if key not in self._locks:
            self._locks[key] = asyncio.Lock()
            self._lock_users[key] = 0
        self._lock_users[key] += 1
        return self._locks[key]

    def _release_lock_ref(self, key: str) -> None:
        self._lock_users[key] -= 1
        if self._lock_users[key] == 0:
            del self._locks[key], self._lock_users[key]

    async def _run(self, op: Operation, work: Work) -> None:
        if self._slots is None:  # created on the loop, at first use
            self._slots = asyncio.Semaphore(self.max_concurrent)
        slots = self._slots
        lock = self._lock_for(op.key)
        try:
            if lock.locked():
                op.info(f"Waiting for the operation already running on {op.path}.")
            # The per-key lock is taken first, so operations queued behind another on the
            # same key do not hold one of the global slots while they wait.
            async with lock, slots:
                await self._execute(op, work)
        except asyncio.CancelledError:
            # Cancelled while queued: nothing ran, nothing to re-inspect.
            _uncancel()
            op.state = "cancelled"
            op.message = "Cancelled before it started."
            op.finished_at = utcnow()
        finally:
            self._release_lock_ref(op.key)

    async def _execute(self, op: Operation, work: Work) -> None:
        op.state = "running"
        op.started_at = utcnow()
        op.info(f"Started {op.action} on {op.path}.")
        state: State
        try:
            message = await work(op, op.append)
            state = "succeeded"
        except asyncio.CancelledError:
            # The work's runner has already stopped its process group (the uv runner does).
            _uncancel()
            state, message = "cancelled", "Cancelled; uv and its child processes were stopped."
        except UvKernelsError as e:
            state, message = "failed", e.message
        except Exception as e:  # a bug, not bad input: keep the server up, log the traceback
            self.log.exception("uv-kernels: operation %s (%s) crashed", op.id, op.action)
            state, message = "failed", f"Unexpected error: {type(e).__name__}: {e}"
        op.finalizing = True
        op.outcome = state
        if self._finalize is not None:
            try:
                op.record = await self._finalize(op)
            except Exception:
                self.log.exception("uv-kernels: finalising %s after %s failed", op.path, op.id)
        if op.dropped_lines:
            op.info(f"({op.dropped_lines} more log lines were not kept.)")
        op.info(f"{state}: {message}")
        # The state changes last, so whoever sees a final state also sees the updated record.
        op.message = message
        op.finished_at = utcnow()
        op.state = state

    async def cancel(self, op_id: str) -> Operation:
        """Cancel a queued or running operation and wait (bounded) until it has stopped."""
        op = self.get(op_id)
        if not op.active or op.task is None:
            return op
        if not op.cancel_requested and not op.finalizing:
            op.cancel_requested = True
            op.info("Cancel requested.")
            op.task.cancel()
        await asyncio.wait({op.task}, timeout=CANCEL_WAIT)
        return op

    async def shutdown(self) -> None:
        """Cancel everything still queued or running and wait for uv to be gone."""
        self._closed = True
        tasks = []
        for op in self._ops.values():
            if op.active and op.task is not None:
                if not op.cancel_requested and not op.finalizing:
                    op.cancel_requested = True
                    op.task.cancel()
                tasks.append(op.task)
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_WAIT)


def _settle_state(op: Operation) -> None:
    """A task cancelled before its first step never ran a line of ``_run``: mark it here."""
    if op.active:
        op.state = "cancelled"
        op.message = op.message or "Cancelled before it started."
        op.finished_at = op.finished_at or utcnow()


def _uncancel() -> None:
    """We handled the cancellation ourselves: clear it so later awaits in the task behave."""
    task = asyncio.current_task()
    if task is not None and hasattr(task, "uncancel"):  # Python 3.11+
        task.uncancel()
