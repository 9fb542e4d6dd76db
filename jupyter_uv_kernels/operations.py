"""What the server does to environments, without HTTP: the index, the operations, the service.

- :class:`EnvironmentIndex` holds the records the last scan found. Scans and reconciles run in
  a thread, in the background; a request never waits for one.
- :class:`OperationManager` runs uv work. Runs on one environment (keyed by realpath) go one
  after another; runs on different environments go in parallel up to a limit. Each run has a
  state, a log readable from an offset, and cancel. After every run the environment is
  re-inspected and its kernelspec reconciled, so lists and ``/api/kernelspecs`` follow.
- :class:`EnvironmentService` is what the REST handlers call: it validates a request before
  anything is queued (so bad input is a 4xx, never a failed operation) and confines every
  path to the roots through :meth:`EnvironmentCatalog.confine`.

This module never imports tornado; handlers.py maps the typed errors raised here to HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from packaging.utils import canonicalize_name

from .catalog import (
    EnvironmentCatalog,
    check_create_target,
    parse_package_names,
    parse_requirements,
)
from .config import UvKernels
from .dependencies import removal_options
from .discovery import ScanResult
from .environments import Environment, environment_id
from .errors import (
    Conflict,
    EnvironmentNotFound,
    InvalidPath,
    InvalidRequest,
    NotAnEnvironment,
    OperationNotFound,
    UvKernelsError,
)
from .kernelspecs import read_specs
from .provenance import describe, resolve_notebook, target_for_kernel, validate_kernel_name
from .pythons import available_pythons, resolve_python
from .uvrunner import LineCallback

log = logging.getLogger(__name__)

Action = Literal["create", "sync", "add", "remove", "register"]
State = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE_STATES: frozenset[str] = frozenset({"queued", "running"})

#: Finished operations kept for ``GET operations``; running and queued ones are always kept.
HISTORY_LIMIT = 200
#: Log lines kept per operation; uv is terse, so only a runaway build reaches this.
LOG_LIMIT = 20000
#: How long ``cancel`` waits for uv's process group to be gone before it answers.
CANCEL_WAIT = 30.0

#: Kernel names jupyter_client accepts (``kernelspec._kernel_name_pat``), bounded in length.
_KERNEL_NAME = re.compile(r"^[a-z0-9._-]{1,128}$", re.IGNORECASE)
_MAX_DISPLAY_NAME = 200


class ServerStopping(UvKernelsError):
    """The extension is shutting down and takes no new work."""

    status = 503


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclasses.dataclass
class Operation:
    """One run of uv work on one environment."""

    id: str
    action: Action
    env_id: str | None
    path: str
    #: Serialisation key: the realpath of the environment.
    key: str
    state: State = "queued"
    message: str | None = None
    created_at: str = dataclasses.field(default_factory=utcnow)
    started_at: str | None = None
    finished_at: str | None = None
    environment: dict[str, Any] | None = None
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
        return {
            "id": self.id,
            "action": self.action,
            "env_id": self.env_id,
            "path": self.path,
            "state": self.state,
            "message": self.message,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "log_length": len(self.log),
            "environment": self.environment,
        }


#: The uv work of one operation: gets the line callback, returns a success message.
Work = Callable[[Operation, LineCallback], Awaitable[str]]
#: Runs after the work, whatever its outcome; returns the environment's new record.
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
        self, action: Action, *, path: str, key: str, env_id: str | None, work: Work
    ) -> Operation:
        """Queue ``work``; returns at once with the operation in state ``queued``.

        Must be called on the event loop.
        """
        if self._closed:
            raise ServerStopping("The server is shutting down; try again after it restarts.")
        op = Operation(id=uuid.uuid4().hex, action=action, env_id=env_id, path=path, key=key)
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
                op.info("Waiting for the operation already running on this environment.")
            # The per-environment lock is taken first, so operations queued behind another
            # on the same environment do not hold one of the global slots while they wait.
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
            # The uv runner has already stopped uv's whole process group.
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
                op.environment = await self._finalize(op)
            except Exception:
                self.log.exception("uv-kernels: re-inspecting %s after %s failed", op.path, op.id)
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


class EnvironmentIndex:
    """The environments the server knows, kept current by background scans and operations."""

    def __init__(
        self,
        catalog: EnvironmentCatalog,
        logger: logging.Logger | logging.LoggerAdapter[Any] = log,
    ) -> None:
        self.catalog = catalog
        self.log = logger
        self.environments: dict[str, Environment] = {}
        self.scanned_at: str | None = None
        self.partial = False
        self.scanning = False
        self.last_error: str | None = None
        self._scan_task: asyncio.Task[None] | None = None
        self._again = False
        # Serialises reconcile + update, so a scan and an operation never interleave them.
        self._update_lock: asyncio.Lock | None = None
        # realpath -> monotonic time an operation last finished on it (see _merge).
        self._touched: dict[str, float] = {}
        # realpath -> why the env is known to lag its lock although the cheap estimate says
        # "ready" (a change or a kernel-start sync did not complete and could not be undone).
        # Kept across scans until an operation on the env succeeds.
        self.known_drift: dict[str, str] = {}

    def _lock(self) -> asyncio.Lock:
        if self._update_lock is None:
            self._update_lock = asyncio.Lock()
        return self._update_lock

    def get(self, env_id: object) -> Environment:
        env = self.environments.get(env_id) if isinstance(env_id, str) else None
        if env is None:
            state = " (the first scan is still running)" if self.scanned_at is None else ""
            raise EnvironmentNotFound(
                f"No environment with id {str(env_id)[:80]!r}{state}; list them with "
                "GET uv-kernels/environments, or POST uv-kernels/refresh to rescan."
            )
        return env

    def to_json(self) -> dict[str, Any]:
        return {
            "environments": [e.to_json() for e in self.environments.values()],
            "scanned_at": self.scanned_at,
            "scanning": self.scanning,
            "partial": self.partial,
            "roots": [str(r) for r in self.catalog.roots],
        }

    # -- scanning --------------------------------------------------------------------------

    def request_scan(self, *, coalesce: bool = False) -> None:
        """Start a background scan, or ask for another one after the running one.

        With ``coalesce`` a scan already running is enough (the periodic rescan uses that).
        """
        if self._scan_task is not None and not self._scan_task.done():
            if not coalesce:
                self._again = True
            return
        self.scanning = True
        self._scan_task = asyncio.get_running_loop().create_task(self._scan_loop())

    async def wait_for_scan(self, timeout: float | None = None) -> None:
        if self._scan_task is not None and not self._scan_task.done():
            await asyncio.wait({self._scan_task}, timeout=timeout)

    async def stop(self, timeout: float = 10.0) -> None:
        task = self._scan_task
        if task is not None and not task.done():
            task.cancel()
            # A scan thread cannot be interrupted; give it a bounded time to notice.
            await asyncio.wait({task}, timeout=timeout)

    async def _scan_loop(self) -> None:
        try:
            while True:
                self._again = False
                started = time.monotonic()
                try:
                    result = await asyncio.to_thread(self.catalog.scan)
                    async with self._lock():
                        envs = await asyncio.to_thread(self._merge_and_reconcile, result, started)
                        self.environments = {e.id: e for e in envs}
                        self.scanned_at = utcnow()
                        self.partial = result.partial
                        self.last_error = None
                    self.log.info(
                        "uv-kernels: scanned %d directories in %.2f s, %d environments%s",
                        result.directories,
                        result.duration,
                        len(envs),
                        " (partial: scan_time_budget reached)" if result.partial else "",
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # keep serving the last good list
                    self.last_error = f"{type(e).__name__}: {e}"
                    self.log.exception("uv-kernels: scan failed")
                if not self._again:
                    return
        finally:
            self.scanning = False

    def _merge_and_reconcile(self, result: ScanResult, started: float) -> list[Environment]:
        """Runs in a thread. Environments an operation changed while the scan walked are
        re-inspected, so a scan that started before a create finished cannot drop it (and
        its kernel) until the next rescan."""
        by_real = {os.path.realpath(e.path): e for e in result.environments}
        for real, finished in list(self._touched.items()):
            if finished < started:
                del self._touched[real]
                continue
            fresh = self._inspect_or_none(real, by_real.get(real))
            if fresh is None:
                by_real.pop(real, None)
            else:
                by_real[real] = fresh
        envs = sorted(by_real.values(), key=lambda e: (e.root or "", e.path))
        for env in envs:
            self._apply_known_drift(env)
        self.catalog.reconciler.reconcile(
            envs, scanned_roots=result.roots, complete=not result.partial
        )
        return envs

    def _inspect_or_none(self, path: str, previous: Environment | None) -> Environment | None:
        try:
            env = self.catalog.inspect(path)
        except NotAnEnvironment:
            return None
        if previous is not None and not env.workspace_members:
            env.workspace_members = list(previous.workspace_members)
        self._apply_known_drift(env)
        return env

    def _apply_known_drift(self, env: Environment) -> None:
        problem = self.known_drift.get(os.path.realpath(env.path))
        if problem is not None and env.status == "ready":
            env.status = "out-of-sync"
            env.problem = problem

    def note_drift(self, path: str, problem: str | None) -> None:
        """Record (or, with None, forget) that the env at ``path`` lags its lock."""
        real = os.path.realpath(path)
        if problem is None:
            self.known_drift.pop(real, None)
        else:
            self.known_drift[real] = problem

    # -- after an operation -----------------------------------------------------------------

    async def settle(
        self, path: str, *, reconcile: bool = True, kernel: str | None = None
    ) -> Environment | None:
        """Re-inspect one environment, reconcile kernelspecs, update the list.

        ``reconcile=False`` keeps the kernelspecs as they are (after an explicit register
        with a chosen name) and records ``kernel`` as the environment's kernel.
        """
        real = os.path.realpath(path)
        self._touched[real] = time.monotonic()
        async with self._lock():
            current = {k: dataclasses.replace(e) for k, e in self.environments.items()}
            env, envs = await asyncio.to_thread(
                self._settle_in_thread, real, current, reconcile, kernel
            )
            self.environments = envs
        return env

    def _settle_in_thread(
        self,
        real: str,
        current: dict[str, Environment],
        reconcile: bool,
        kernel: str | None,
    ) -> tuple[Environment | None, dict[str, Environment]]:
        previous = next(
            (e for e in current.values() if os.path.realpath(e.path) == real),
            None,
        )
        env = self._inspect_or_none(real, previous)
        if previous is not None:
            del current[previous.id]
        if env is not None:
            current[env.id] = env
        envs = sorted(current.values(), key=lambda e: (e.root or "", e.path))
        if reconcile:
            # Reconciling the whole list keeps display names (and their collision suffixes)
            # the same as a full scan would make them; nothing outside this env is removed
            # because the scan is not "complete" for any root.
            self.catalog.reconciler.reconcile(envs, scanned_roots=(), complete=False)
        elif env is not None:
            env.kernel = kernel
        return env, {e.id: e for e in envs}

    def forget_kernel(self, env: Environment) -> Environment:
        """Record that ``env`` no longer has a kernel (after an unregister)."""
        updated = dataclasses.replace(env, kernel=None)
        self.environments = {
            k: (updated if k == env.id else e) for k, e in self.environments.items()
        }
        return updated


def _body_keys(body: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {', '.join(map(repr, unknown))} in the {what} request; "
            f"allowed: {', '.join(sorted(allowed))}."
        )


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{key} must be true or false, not {value!r}.")
    return value


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{key} must be a string or null, not {type(value).__name__}.")
    return value or None


class EnvironmentService:
    """The server's use cases, one method per REST route (handlers stay thin)."""

    def __init__(
        self,
        config: UvKernels,
        *,
        fallback_root: str | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] = log,
    ) -> None:
        self.config = config
        self.catalog = EnvironmentCatalog(config, fallback_root=fallback_root)
        self.index = EnvironmentIndex(self.catalog, logger)
        self.operations = OperationManager(
            max_concurrent=config.max_concurrent_operations,
            finalize=self._finalize,
            logger=logger,
        )
        self._periodic: asyncio.Task[None] | None = None
        self._started = False
        self._uv_version: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the first scan and the periodic rescans; returns at once (on the loop)."""
        if self._started:
            return
        self._started = True
        self.index.request_scan()
        if self.config.rescan_interval > 0:
            self._periodic = asyncio.get_running_loop().create_task(self._rescan_periodically())

    async def _rescan_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.rescan_interval)
            self.index.request_scan(coalesce=True)

    async def stop(self) -> None:
        if self._periodic is not None:
            self._periodic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._periodic
        await self.operations.shutdown()
        await self.index.stop()

    # -- reads ---------------------------------------------------------------------------

    def environments(self) -> dict[str, Any]:
        return self.index.to_json()

    def refresh(self) -> dict[str, Any]:
        self.index.request_scan()
        return {"scanning": True, "scanned_at": self.index.scanned_at}

    async def details(self, env_id: object) -> dict[str, Any]:
        known = self.index.get(env_id)
        try:
            env = await asyncio.to_thread(self.catalog.inspect, known.path)
        except NotAnEnvironment as e:
            raise EnvironmentNotFound(
                f"{known.path} is no longer an environment ({e.message}); POST "
                "uv-kernels/refresh to update the list."
            ) from None
        env.kernel = known.kernel
        env.workspace_members = known.workspace_members
        extra = await self.catalog.details(env)
        return {**env.to_json(), **extra}

    async def provenance(self, path: object, kernel: object) -> dict[str, Any]:
        """What the panel records in a notebook at ``path`` (relative to the server root)
        running ``kernel``; ``{"provenance": None}`` for kernels that are not ours."""
        notebook = resolve_notebook(path, self.catalog.fallback_root or os.getcwd())
        name = validate_kernel_name(kernel)
        kernel_dir = str(self.catalog.reconciler.kernel_dir)
        target = await asyncio.to_thread(
            target_for_kernel, name, os.path.dirname(notebook), kernel_dir
        )
        if target is None:
            return {"provenance": None}
        if self._uv_version is None:
            with contextlib.suppress(UvKernelsError):
                self._uv_version = await self.catalog.runner.version()
        return {"provenance": describe(name, target, self._uv_version).to_json()}

    async def pythons(self) -> dict[str, Any]:
        found = await available_pythons(self.catalog.runner)
        return {"pythons": [p.to_json() for p in found]}

    def operations_list(self) -> dict[str, Any]:
        return {"operations": [op.to_json() for op in self.operations.recent()]}

    def operation(self, op_id: str, since: int = 0) -> dict[str, Any]:
        op = self.operations.get(op_id)
        entries, following = op.log_since(since)
        return {"operation": op.to_json(), "log": entries, "next": following}

    async def cancel(self, op_id: str) -> dict[str, Any]:
        op = await self.operations.cancel(op_id)
        return {"operation": op.to_json()}

    # -- writes: validated here, run by the operation manager ---------------------------

    async def _confined_env(self, env_id: object) -> tuple[Environment, str]:
        """The indexed environment and its realpath, re-checked against the roots."""
        env = self.index.get(env_id)
        real = await asyncio.to_thread(self.catalog.confine, env.path, "environment path")
        return env, real

    def _submit(self, action: Action, env: Environment | None, real: str, work: Work) -> Operation:
        op = self.operations.submit(
            action,
            path=real,
            key=real,
            env_id=env.id if env is not None else environment_id(real),
            work=work,
        )
        if env is not None:
            op.environment = env.to_json()
        return op

    async def _fresh(self, real: str) -> Environment:
        return await asyncio.to_thread(self.catalog.inspect, real)

    async def create(self, body: dict[str, Any]) -> Operation:
        _body_keys(body, {"path", "kind", "python", "packages"}, "create")
        if "path" not in body:
            raise InvalidPath("path is required: the directory to create, inside a root.")
        real = await asyncio.to_thread(self.catalog.confine, body["path"])
        kind = body.get("kind", "project")
        if kind not in ("project", "venv"):
            raise InvalidRequest(f"kind must be 'project' or 'venv', not {kind!r}.")
        packages = parse_requirements(body.get("packages", []))
        python = _optional_str(body, "python")
        await asyncio.to_thread(check_create_target, real)
        if self.operations.active_for(real):
            raise Conflict(f"An operation on {real} is already queued or running; wait for it.")
        interpreter = await resolve_python(self.catalog.runner, python)

        async def work(op: Operation, on_line: LineCallback) -> str:
            env = await self.catalog.create(
                real,
                kind=kind,
                python=interpreter,
                packages=packages,
                on_line=on_line,
                register=False,  # the finaliser reconciles, off the event loop
            )
            return f"Created {env.kind} {env.path}."

        return self._submit("create", None, real, work)

    async def sync(self, env_id: object, body: dict[str, Any]) -> Operation:
        _body_keys(body, {"relock"}, "sync")
        relock = _bool(body, "relock", False)
        env, real = await self._confined_env(env_id)
        if env.kind != "project":
            raise InvalidRequest(
                f"{env.path} is a venv without a lock file; there is nothing to sync. Use "
                "package add/remove (uv pip) instead."
            )

        async def work(op: Operation, on_line: LineCallback) -> str:
            await self.catalog.sync(await self._fresh(real), relock=relock, on_line=on_line)
            return f"Synced {real}" + (" (relocked)." if relock else " to its uv.lock.")

        return self._submit("sync", env, real, work)

    async def add_packages(self, env_id: object, body: dict[str, Any]) -> Operation:
        _body_keys(body, {"packages"}, "add packages")
        packages = parse_requirements(body.get("packages"))
        if not packages:
            raise InvalidRequest("packages is empty; name at least one requirement.")
        env, real = await self._confined_env(env_id)

        async def work(op: Operation, on_line: LineCallback) -> str:
            await self.catalog.add_packages(await self._fresh(real), packages, on_line=on_line)
            return f"Added {', '.join(packages)}."

        return self._submit("add", env, real, work)

    async def remove_package(self, env_id: object, name: str, force: bool = False) -> Operation:
        names = parse_package_names([name])
        if not names:
            raise InvalidRequest("Give the name of the package to remove.")
        env, real = await self._confined_env(env_id)
        if canonicalize_name(names[0]) == "ipykernel" and env.kernel:
            raise Conflict(
                f"Removing ipykernel would break the kernel {env.kernel}; unregister the kernel "
                "first if you really want that."
            )
        # Refused up front (409 naming what requires it), not queued as a uv run that fails;
        # unless earlier operations on this env are still queued (an add of that very
        # package, say): then the check runs when the remove's turn comes.
        if not self.operations.active_for(real):
            await removal_options(self.catalog.runner, env, names[0], force=force)

        async def work(op: Operation, on_line: LineCallback) -> str:
            await self.catalog.remove_packages(
                await self._fresh(real), names, force=force, on_line=on_line
            )
            return f"Removed {names[0]}."

        return self._submit("remove", env, real, work)

    async def register_kernel(self, env_id: object, body: dict[str, Any]) -> Operation:
        _body_keys(body, {"name", "display_name", "add_ipykernel"}, "register kernel")
        name = _optional_str(body, "name")
        display_name = _optional_str(body, "display_name")
        add_ipykernel = _bool(body, "add_ipykernel", True)
        if name is not None and not _KERNEL_NAME.match(name):
            raise InvalidRequest(
                f"Kernel name {name[:80]!r} is not allowed; use letters, digits, '.', '_' and "
                "'-' only (at most 128)."
            )
        if display_name is not None and (
            len(display_name) > _MAX_DISPLAY_NAME or any(ord(c) < 32 for c in display_name)
        ):
            raise InvalidRequest(
                f"display_name must be one line of at most {_MAX_DISPLAY_NAME} characters."
            )
        env, real = await self._confined_env(env_id)
        if name is not None:
            await asyncio.to_thread(self._check_kernel_name_free, name, real)
        fresh = await self._fresh(real)
        if fresh.status in ("no-environment", "broken"):
            raise Conflict(fresh.problem or f"{real} has no working environment to register.")
        if not fresh.has_ipykernel and not add_ipykernel:
            raise Conflict(
                f"{real} has no ipykernel; send add_ipykernel: true to install it first."
            )

        async def work(op: Operation, on_line: LineCallback) -> str:
            current = await self._fresh(real)
            if not current.has_ipykernel:
                on_line("info", "Installing ipykernel first.")
                current = await self.catalog.ensure_ipykernel(current, on_line=on_line)
            kernel = await asyncio.to_thread(
                self.catalog.register, current, name=name, display_name=display_name
            )
            op.result["kernel"] = kernel
            return f"Registered the kernel {kernel}."

        return self._submit("register", env, real, work)

    def _check_kernel_name_free(self, name: str, real: str) -> None:
        """A chosen kernel name must not be reserved, a user's spec, or another env's kernel."""
        if name == NATIVE_KERNEL_NAME:
            raise Conflict(f"The kernel name {name!r} is reserved; choose another name.")
        specs = read_specs(self.catalog.reconciler.kernel_dir)
        spec = next((s for s in specs if s.name == name), None)
        if spec is None:
            return
        if not spec.owned:
            raise Conflict(
                f"A kernelspec named {name!r} already exists and was not written by "
                "jupyter_uv_kernels; choose another name."
            )
        if spec.env_path and os.path.realpath(spec.env_path) != real:
            raise Conflict(f"The kernel {name!r} belongs to {spec.env_path}; choose another name.")

    async def unregister_kernel(self, env_id: object) -> dict[str, Any]:
        env, real = await self._confined_env(env_id)
        removed: list[str] = await asyncio.to_thread(self.catalog.reconciler.unregister, real)
        updated = self.index.forget_kernel(env)
        return {"environment": updated.to_json(), "removed": removed}

    async def _finalize(self, op: Operation) -> dict[str, Any] | None:
        """After every operation: re-inspect, reconcile kernelspecs, update the list.

        After a change that did not complete, the status comes from the exact answer
        (``uv sync --check``), not the mtime estimate: the rollback re-syncs the env, but if
        that failed too the list must not say "ready"."""
        if op.outcome == "succeeded":
            self.index.note_drift(op.path, None)
        elif op.action in ("add", "remove", "sync", "register"):
            await self._check_after_failure(op)
        if op.action == "register":
            env = await self.index.settle(op.path, reconcile=False, kernel=op.result.get("kernel"))
        else:
            env = await self.index.settle(op.path)
        if env is not None:
            op.info(
                f"Environment is now {env.status}"
                + (f", kernel {env.kernel}." if env.kernel else ".")
            )
        return env.to_json() if env is not None else None

    async def _check_after_failure(self, op: Operation) -> None:
        try:
            env = await asyncio.to_thread(self.catalog.inspect, op.path)
            answer = await self.catalog.check_sync(env)
        except UvKernelsError:
            return  # no env, no uv: the estimate is all there is
        if answer["checked"] and not answer["in_sync"]:
            self.index.note_drift(
                op.path,
                f"The last {op.action} did not complete and the environment no longer matches "
                f"uv.lock; run Sync (`uv sync --frozen --project {op.path}`).",
            )
        elif answer["checked"]:
            self.index.note_drift(op.path, None)
