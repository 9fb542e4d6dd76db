"""The routes that change an environment: create, sync, add, remove, register, unregister.

Each validates what a request *means* before anything is queued (paths confined to the
roots, PEP 508 requirements, what may be removed), so bad input is a 4xx, never a failed
operation; the request's *shape* was checked at the boundary (:mod:`request_bodies`). The
work itself is the domain's (:class:`EnvironmentCatalog`), run as an operation.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
from packaging.utils import canonicalize_name

from .catalog import check_create_target, parse_package_names, parse_requirements
from .dependencies import removal_options
from .errors import Conflict, InvalidRequest
from .indexes import resolve_index
from .kernelspecs import read_specs
from .operation_queue import LineCallback, Operation
from .pythons import resolve_python
from .service_base import ServiceBase


class ChangeRoutes(ServiceBase):
    """create, sync, add, remove, register and unregister."""

    async def create(self, body: dict[str, Any]) -> Operation:
        # ``body`` matches CreateRequest (checked at the boundary); here: what it means.
        if body.get("from"):
            return await self.copy(body)
        real = await asyncio.to_thread(self.catalog.confine, body["path"])
        kind = body.get("kind", "project")
        packages = parse_requirements(body.get("packages", []))
        python = body.get("python") or None
        file = await asyncio.to_thread(
            self.catalog.requirements_file, body.get("requirements_file"), kind == "project"
        )
        index = body.get("index") or None
        if resolve_index(index, self.config.indexes) and not packages and file is None:
            raise InvalidRequest("index names where packages come from; give packages or a file.")
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
                requirements_file=file.path if file else None,
                index=index,
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
        self._writable(env, "synced")

        async def work(op: Operation, on_line: LineCallback) -> str:
            await self.catalog.sync(await self._fresh(real), relock=relock, on_line=on_line)
            return f"Synced {real}" + (" (relocked)." if relock else " to its uv.lock.")

        return self._submit("sync", env, real, work)

    async def add_packages(self, env_id: object, body: dict[str, Any]) -> Operation:
        packages = parse_requirements(body.get("packages", []))
        env, real = await self._confined_env(env_id)
        self._writable(env, "changed (add)")
        project = env.kind == "project"
        file = await asyncio.to_thread(
            self.catalog.requirements_file, body.get("requirements_file"), project
        )
        if not packages and file is None:
            raise InvalidRequest(
                "packages is empty and no requirements_file is given; name at least one "
                "requirement or a requirements file."
            )
        index = body.get("index") or None
        own = env.path if project else None
        await asyncio.to_thread(resolve_index, index, self.config.indexes, own)

        async def work(op: Operation, on_line: LineCallback) -> str:
            await self.catalog.add_packages(
                await self._fresh(real),
                packages,
                requirements_file=file.path if file else None,
                index=index,
                on_line=on_line,
            )
            added = [*packages, *([f"-r {file.path}"] if file else [])]
            return f"Added {', '.join(added)}" + (f" from the index {index}." if index else ".")

        return self._submit("add", env, real, work)

    async def remove_package(self, env_id: object, name: str, force: bool = False) -> Operation:
        names = parse_package_names([name])
        if not names:
            raise InvalidRequest("Give the name of the package to remove.")
        env, real = await self._confined_env(env_id)
        self._writable(env, "changed (remove)")
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
        if add_ipykernel and not env.has_ipykernel:
            self._writable(env, "given ipykernel")
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
