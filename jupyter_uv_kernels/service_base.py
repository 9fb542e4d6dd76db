"""What every route of the service shares: its parts, its lifecycle, and how work on an
environment is submitted and settled.

:class:`ServiceBase` owns the domain layer (:class:`EnvironmentCatalog`), the server's list
(:class:`EnvironmentIndex`) and the operation queue. The routes themselves are grouped by
role in mixins on top of it (``service_changes``, ``service_packages``,
``service_lifecycle``, ``service_sources``), and :class:`service.EnvironmentService`
combines them. This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from .catalog import EnvironmentCatalog
from .config import UvKernels
from .environment_index import EnvironmentIndex
from .environments import Environment, environment_id
from .errors import Conflict, EnvironmentNotFound, NotAnEnvironment, UvKernelsError
from .operation_queue import Operation, OperationManager, Work
from .upgrades import forget_outdated

log = logging.getLogger(__name__)

Action = Literal["create", "sync", "add", "remove", "register", "upgrade", "delete", "copy"]

#: Actions after which a failure is checked against uv.lock (the env may have drifted).
CHANGES_ENV = ("add", "remove", "sync", "register", "upgrade")


class ServiceBase:
    """The shared state and plumbing of :class:`service.EnvironmentService`."""

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
        self._periodic: list[asyncio.Task[None]] = []
        self._started = False
        self._uv_version: str | None = None
        #: Names of the kernels running in the server (app.py sets it): delete asks first.
        self.running_kernel_names: Callable[[], set[str]] = set

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule the first full walk, the background checks (every ``rescan_interval``)
        and full walks (every ``full_rescan_interval``); returns at once (on the loop).
        Looks (``index.looked``) check in between."""
        if self._started:
            return
        self._started = True
        self.index.request_scan()
        loop = asyncio.get_running_loop()
        if self.config.rescan_interval > 0:
            self._periodic.append(loop.create_task(self._check_periodically()))
        if self.config.full_rescan_interval > 0:
            self._periodic.append(loop.create_task(self._rescan_periodically()))

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.rescan_interval)
            self.index.request_check(again=False)

    async def _rescan_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.config.full_rescan_interval)
            self.index.request_scan(coalesce=True)

    async def stop(self) -> None:
        for task in self._periodic:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.operations.shutdown()
        await self.index.stop()

    # -- shared by the routes ---------------------------------------------------------------

    async def _confined_env(self, env_id: object) -> tuple[Environment, str]:
        """The indexed environment and its realpath, re-checked against the roots."""
        env = self.index.get(env_id)
        real = await asyncio.to_thread(self.catalog.confine, env.path, "environment path")
        return env, real

    @staticmethod
    def operation_json(op: Operation) -> dict[str, Any]:
        """An operation as the REST API shows it: the queue's fields, plus the environment
        it acts on (its id, and its record after the run)."""
        return {**op.to_json(), "env_id": op.subject_id, "environment": op.record}

    def _submit(self, action: Action, env: Environment | None, real: str, work: Work) -> Operation:
        # Keyed by realpath: runs on one environment go one after another.
        op = self.operations.submit(
            action,
            path=real,
            key=real,
            subject_id=env.id if env is not None else environment_id(real),
            work=work,
        )
        if env is not None:
            op.record = env.to_json()
        return op

    def _writable(self, env: Environment, what: str) -> None:
        """Refuse a change to a read-only environment (a group's shared env, say): 409."""
        if env.read_only:
            raise Conflict(
                f"{env.path} is read-only for you, so it cannot be {what}; copy it into your "
                'own roots (Copy, or POST environments with "from") and change the copy.'
            )

    async def copy(self, body: dict[str, Any]) -> Operation:
        """POST environments with ``from``; the route lives in :mod:`service_lifecycle`."""
        raise NotImplementedError

    async def _current(self, path: str, shown: str | None = None) -> Environment:
        """The environment at ``path`` as it is on disk now; 404 (naming ``shown``, default
        ``path``) when it is no longer one: gone or changed since the last scan."""
        try:
            return await self._fresh(path)
        except NotAnEnvironment as e:
            raise EnvironmentNotFound(
                f"{shown or path} is no longer an environment ({e.message}); POST "
                "uv-kernels/refresh to update the list."
            ) from None

    async def _fresh(self, real: str) -> Environment:
        return await asyncio.to_thread(self.catalog.inspect, real)

    async def _finalize(self, op: Operation) -> dict[str, Any] | None:
        """After every operation: re-inspect, reconcile kernelspecs, update the list.

        After a change that did not complete, the status comes from the exact answer
        (``uv sync --check``), not the mtime estimate: the rollback re-syncs the env, but if
        that failed too the list must not say "ready"."""
        forget_outdated(op.path)
        if op.outcome == "succeeded":
            self.index.note_drift(op.path, None)
        elif op.action in CHANGES_ENV:
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
