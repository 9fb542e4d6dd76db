"""The service: what the REST API does to environments, one method per route.

Each write validates what a request *means* before anything is queued (paths confined to
the roots, PEP 508 requirements, what may be removed), so bad input is a 4xx, never a
failed operation; the request's *shape* was checked at the boundary (:mod:`request_bodies`).
The work itself is the domain's (:class:`EnvironmentCatalog`, shared with the CLI), run as
an operation on the queue, keyed by the environment's realpath. After every operation the
index settles that environment. This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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
from .environment_index import EnvironmentIndex
from .environments import Environment, environment_id
from .errors import (
    Conflict,
    EnvironmentNotFound,
    InvalidRequest,
    NotAnEnvironment,
    UvKernelsError,
)
from .kernelspecs import read_specs
from .operation_queue import LineCallback, Operation, OperationManager, Work
from .provenance import describe, resolve_notebook, target_for_kernel, validate_kernel_name
from .pythons import available_pythons, resolve_python

log = logging.getLogger(__name__)

Action = Literal["create", "sync", "add", "remove", "register"]


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
        # Hashes uv.lock and reads pyvenv.cfg: in a thread, not on the event loop.
        record = await asyncio.to_thread(describe, name, target, self._uv_version)
        return {"provenance": record.to_json()}

    async def pythons(self) -> dict[str, Any]:
        found = await available_pythons(self.catalog.runner)
        return {"pythons": [p.to_json() for p in found]}

    def operations_list(self) -> dict[str, Any]:
        return {"operations": [self.operation_json(op) for op in self.operations.recent()]}

    def operation(self, op_id: str, since: int = 0) -> dict[str, Any]:
        op = self.operations.get(op_id)
        entries, following = op.log_since(since)
        return {"operation": self.operation_json(op), "log": entries, "next": following}

    async def cancel(self, op_id: str) -> dict[str, Any]:
        op = await self.operations.cancel(op_id)
        return {"operation": self.operation_json(op)}

    # -- writes: validated here, run by the operation manager ---------------------------

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

    async def _fresh(self, real: str) -> Environment:
        return await asyncio.to_thread(self.catalog.inspect, real)

    async def create(self, body: dict[str, Any]) -> Operation:
        # ``body`` matches CreateRequest (checked at the boundary); here: what it means.
        real = await asyncio.to_thread(self.catalog.confine, body["path"])
        kind = body.get("kind", "project")
        packages = parse_requirements(body.get("packages", []))
        python = body.get("python") or None
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
        relock = bool(body.get("relock", False))
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
        packages = parse_requirements(body["packages"])
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
        # The name's characters and both lengths are KernelRequest's (checked at the boundary).
        name = body.get("name") or None
        display_name = body.get("display_name") or None
        add_ipykernel = bool(body.get("add_ipykernel", True))
        if display_name is not None and any(ord(c) < 32 for c in display_name):
            raise InvalidRequest("display_name must be one line, without control characters.")
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
