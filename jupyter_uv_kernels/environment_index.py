"""The environment index: the records the server knows, kept current on demand.

Full walks of the roots run at start and on POST refresh (and every
``full_rescan_interval``); cheap incremental checks (:mod:`incremental`: a few ``stat``
calls per environment and per watched folder) run when someone looks
(:meth:`EnvironmentIndex.looked`: the launcher's ``/api/kernelspecs``, the panel's list,
at most once per ``demand_interval``) and every ``rescan_interval``. Walks, checks and
kernelspec reconciles run in a thread, so a request never waits for one; a check that
found nothing does not even reconcile. After every operation one environment is
re-inspected (:meth:`EnvironmentIndex.settle`) and merged in, so lists and
``/api/kernelspecs`` follow at once. A scan or check that started before an operation
finished never drops what the operation made, and a walk that started before a check
found something keeps it. Environments known to lag their lock although their mtimes look
fresh (a change that could not be undone) are kept ``out-of-sync`` across scans.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from datetime import datetime, timezone
from typing import Any

from .catalog import EnvironmentCatalog
from .discovery import ScanOptions, ScanResult
from .environments import Environment
from .errors import EnvironmentNotFound, NotAnEnvironment
from .incremental import Watch, build_watch
from .index_checks import ChecksOnDemand

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat()


class EnvironmentIndex(ChecksOnDemand):
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
        self._fresh_next = False
        # Serialises reconcile + update, so a scan and an operation never interleave them.
        self._update_lock: asyncio.Lock | None = None
        # realpath -> monotonic time an operation last finished on it (see _merge).
        self._touched: dict[str, float] = {}
        # realpath -> why the env is known to lag its lock although the cheap estimate says
        # "ready" (a change or a kernel-start sync did not complete and could not be undone).
        # Kept across scans until an operation on the env succeeds.
        self.known_drift: dict[str, str] = {}
        # -- incremental checks (built after each full walk, advanced by each check) --
        self.watch: Watch | None = None
        self._walks = 0  # full walks merged so far: a check of an older watch is a delta
        self._check_task: asyncio.Task[None] | None = None
        self._check_again = False
        self._check_after_walk = False
        self._deferred: asyncio.TimerHandle | None = None
        #: monotonic start of the latest check or walk (what a look compares with)
        self.last_started: float | None = None
        #: what the last check cost and found (logged, and read by tests and benchmarks)
        self.last_check: dict[str, Any] | None = None

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
            "checking": self.checking,
            "partial": self.partial,
            "roots": [str(r) for r in self.catalog.roots],
        }

    # -- scanning --------------------------------------------------------------------------

    def request_scan(self, *, coalesce: bool = False, fresh: bool = False) -> None:
        """Start a background scan, or ask for another one after the running one.

        With ``coalesce`` a scan already running is enough (the periodic rescan uses that).
        ``fresh`` walks even when another process's recent walk could be reused (POST
        refresh: "look again now"); otherwise a shared walk (:mod:`scan_share`) may serve.
        """
        self._fresh_next = self._fresh_next or fresh
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
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None
        for task in (self._scan_task, self._check_task):
            if task is not None and not task.done():
                task.cancel()
                # A scan thread cannot be interrupted; give it a bounded time to notice.
                await asyncio.wait({task}, timeout=timeout)

    async def _scan_loop(self) -> None:
        try:
            while True:
                self._again = False
                started = self.last_started = time.monotonic()
                try:
                    fresh, self._fresh_next = self._fresh_next, False
                    result = await asyncio.to_thread(self.catalog.scan, fresh=fresh)
                    async with self._lock():
                        envs, watch = await asyncio.to_thread(
                            self._merge_and_reconcile, result, started
                        )
                        self.environments = {e.id: e for e in envs}
                        self.watch = watch
                        self._walks += 1
                        self.scanned_at = utcnow()
                        self.partial = result.partial
                        self.last_error = None
                    if result.shared_from is not None:
                        self.log.info(
                            "uv-kernels: reused another process's walk of %.0f s ago (%s), "
                            "%d environments",
                            result.shared_age or 0.0,
                            result.shared_from,
                            len(envs),
                        )
                    else:
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
            if self._check_after_walk:
                self._check_after_walk = False
                self.request_check()

    def _merge_and_reconcile(
        self, result: ScanResult, started: float
    ) -> tuple[list[Environment], Watch]:
        """Runs in a thread. Environments an operation or a check changed while the scan
        walked are re-inspected, so a scan that started before a create finished cannot
        drop it (and its kernel). Then the watch of the next checks is built."""
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
        walk_started = result.started_at or time.time() - (time.monotonic() - started)
        return envs, build_watch(self._options(), envs, result.candidates, walk_started)

    def _options(self) -> ScanOptions:
        return ScanOptions.from_config(self.catalog.config, self.catalog.roots)

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
