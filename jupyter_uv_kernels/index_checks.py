"""Checks on demand: the part of :class:`environment_index.EnvironmentIndex` that keeps the
list current between full walks.

A look (the launcher's ``/api/kernelspecs``, the panel's list) starts a cheap check
(:func:`incremental.check`) in a thread when the last check or walk is older than
``UvKernels.demand_interval``, or schedules one for when it is; a look never waits and
never fails. One check runs at a time (another is asked for after it); a check asked for
during a full walk runs right after the walk. What a check finds is merged under the
index's update lock, and kernelspecs are reconciled only when something changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from .catalog import EnvironmentCatalog
from .discovery import ScanOptions
from .environments import Environment
from .incremental import CheckResult, Watch, check


class ChecksOnDemand:
    """Mixed into :class:`environment_index.EnvironmentIndex`, which owns the state."""

    catalog: EnvironmentCatalog
    log: logging.Logger | logging.LoggerAdapter[Any]
    environments: dict[str, Environment]
    scanning: bool
    last_error: str | None
    watch: Watch | None
    last_started: float | None
    last_check: dict[str, Any] | None
    _walks: int
    _check_task: asyncio.Task[None] | None
    _check_again: bool
    _check_after_walk: bool
    _deferred: asyncio.TimerHandle | None
    _touched: dict[str, float]
    _apply_known_drift: Callable[[Environment], None]

    def _lock(self) -> asyncio.Lock:
        raise NotImplementedError

    def _options(self) -> ScanOptions:
        raise NotImplementedError

    @property
    def checking(self) -> bool:
        """A check is running or due (a look asked for one): the panel reads the list again
        when it is over."""
        running = self._check_task is not None and not self._check_task.done()
        return running or self._deferred is not None or self._check_after_walk

    def looked(self) -> None:
        """Someone looks at the list (the launcher's kernelspecs, the panel): check in the
        background when the last check or walk started more than ``demand_interval`` ago,
        else once it is that old. Never blocks, never raises."""
        try:
            interval = float(self.catalog.config.demand_interval)
            if interval <= 0 or self.watch is None:
                return  # on-demand checks off, or the first walk is still running
            age = time.monotonic() - (self.last_started or 0.0)
            if age >= interval:
                self.request_check()
            elif self._deferred is None:
                loop = asyncio.get_running_loop()
                self._deferred = loop.call_later(interval - age, self._deferred_check)
        except Exception:  # a look must never fail the request that made it
            self.log.debug("uv-kernels: could not start a check", exc_info=True)

    def _deferred_check(self) -> None:
        self._deferred = None
        self.request_check()

    def request_check(self, *, again: bool = True) -> bool:
        """Start a check in the background; when one is running, ask for another after it
        (unless ``again`` is false: the periodic check); during a full walk, run it right
        after the walk. False when there is no watch yet (the first walk is running)."""
        if self.watch is None:
            return False
        if self.scanning:  # the walk may have passed the change: check right after it
            self._check_after_walk = self._check_after_walk or again
            return True
        if self._check_task is not None and not self._check_task.done():
            self._check_again = self._check_again or again
            return True
        self._check_task = asyncio.get_running_loop().create_task(self._check_loop())
        return True

    async def wait_for_check(self, timeout: float | None = None) -> None:
        if self._check_task is not None and not self._check_task.done():
            await asyncio.wait({self._check_task}, timeout=timeout)

    async def _check_loop(self) -> None:
        while True:
            self._check_again = False
            started = self.last_started = time.monotonic()
            watch, walks = self.watch, self._walks
            if watch is None:
                return
            try:
                result = await asyncio.to_thread(
                    check,
                    self._options(),
                    list(self.environments.values()),
                    watch,
                    adjust=self._apply_known_drift,
                )
                async with self._lock():
                    if result.anything_changed:
                        self.environments = await asyncio.to_thread(
                            self._apply_check, result, started
                        )
                    if self._walks == walks:  # else a walk's newer watch stays
                        self.watch = result.watch
                self._log_check(result)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # keep serving the last good list
                self.last_error = f"{type(e).__name__}: {e}"
                self.log.exception("uv-kernels: check failed")
            if not self._check_again:
                return

    def _apply_check(self, result: CheckResult, started: float) -> dict[str, Environment]:
        """Runs in a thread, under the update lock: apply what a check found to the current
        list (which an operation may have changed meanwhile: its records win) and reconcile
        the kernelspecs."""
        current = {k: dataclasses.replace(e) for k, e in self.environments.items()}
        now = time.monotonic()
        gone: list[str] = []
        for env in [*result.removed, *result.added, *result.changed]:
            real = os.path.realpath(env.path)
            if self._touched.get(real, 0.0) >= started:
                continue  # an operation settled it after the check began
            self._touched[real] = now  # a walk running now must not undo it
            current.pop(env.id, None)
            if env in result.removed:
                gone.append(env.path)
            else:
                current[env.id] = dataclasses.replace(env)
        envs = sorted(current.values(), key=lambda e: (e.root or "", e.path))
        # The removed envs' paths were checked completely: their specs go even while an
        # `rm -rf` in a terminal has not yet reached the interpreter the spec names.
        self.catalog.reconciler.reconcile(envs, scanned_roots=gone, complete=bool(gone))
        return {e.id: e for e in envs}

    def _log_check(self, result: CheckResult) -> None:
        self.last_check = {
            "stats": result.stats,
            "directories": result.directories,
            "duration": result.duration,
            "added": [e.path for e in result.added],
            "changed": [e.path for e in result.changed],
            "removed": [e.path for e in result.removed],
            "partial": result.partial,
        }
        report = self.log.info if result.anything_changed else self.log.debug
        report(
            "uv-kernels: checked with %d stats and %d directory reads in %.3f s: "
            "%d added, %d changed, %d removed",
            result.stats,
            result.directories,
            result.duration,
            len(result.added),
            len(result.changed),
            len(result.removed),
        )
