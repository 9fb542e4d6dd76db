"""The routes about a notebook's own dependencies (issue 15): read them, edit them (add,
remove, upgrade, lock), their tree and what could be upgraded, and the conversions (make a
notebook self-contained, turn it into a project).

The work is the domain's (:mod:`notebook_deps`, :mod:`notebook_convert`); edits run as
operations keyed by the notebook's realpath, so two edits of one notebook go one after the
other. An edit changes only the notebook: nothing is installed, and the ``uv-script``
kernel builds the new environment at its next start (the panel offers a restart). This
module never imports tornado.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from . import notebook_convert, notebook_project
from .kernelspec_files import SCRIPT_KERNEL_NAME
from .notebook_deps import (
    check_edit,
    edit_message,
    edit_notebook,
    load,
    notebook_outdated,
    notebook_tree,
    resolve_notebook,
)
from .notebook_script import NotebookFile, check_requires_python, dependencies_json, load_notebook
from .operation_queue import LineCallback, Operation
from .script_envs import NotebookScript, env_path, is_ready
from .service_base import ServiceBase

#: The operation action of each edit (the contract's names).
EDIT_OPERATIONS = {
    "add": "notebook-add",
    "remove": "notebook-remove",
    "upgrade": "notebook-upgrade",
    "lock": "notebook-lock",
}
SELF_CONTAINED = "notebook-self-contained"
TO_PROJECT = "notebook-to-project"
NOTEBOOK_ACTIONS = (*EDIT_OPERATIONS.values(), SELF_CONTAINED, TO_PROJECT)


def describe_notebook(nb: NotebookFile, env_root: str) -> dict[str, Any]:
    """A NotebookDependencies record: what the block says, and the env it builds."""
    environment = None
    usable = nb.block is not None and nb.problem is None
    if usable and nb.block is not None:
        key = NotebookScript(nb.path, nb.block[1], nb.lock).key  # as the kernel start
        path = env_path(env_root, key)
        environment = {"key": key, "built": is_ready(path), "path": path}
    meta = nb.metadata if usable else None
    return {
        "path": nb.path,
        "self_contained": nb.block is not None,
        "requires_python": meta.requires_python if meta else None,
        "dependencies": dependencies_json(nb) if usable else [],
        "locked": nb.lock is not None,
        "environment": environment,
        "kernel": SCRIPT_KERNEL_NAME,
        "problem": nb.problem,
    }


class NotebookRoutes(ServiceBase):
    """notebooks/dependencies, notebooks/tree, notebooks/outdated, notebooks/self-contained
    and notebooks/project."""

    def _base_dir(self) -> str:
        return self.catalog.fallback_root or os.getcwd()

    async def _notebook(self, value: object) -> str:
        return await asyncio.to_thread(resolve_notebook, self.catalog, self._base_dir(), value)

    async def _describe(self, real: str) -> dict[str, Any]:
        root = self.config.effective_script_env_dir()
        return await asyncio.to_thread(describe_notebook_at, real, root)

    async def notebook_dependencies(self, path: object) -> dict[str, Any]:
        """GET notebooks/dependencies: a NotebookDependencies (a bad block is its problem)."""
        return await self._describe(await self._notebook(path))

    async def edit_notebook_dependencies(self, body: dict[str, Any]) -> Operation:
        """POST notebooks/dependencies (NotebookEditRequest): a 202 operation."""
        real = await self._notebook(body.get("path"))
        action = body.get("action", "")
        packages = body.get("packages")
        requires_python = body.get("requires_python")
        if requires_python is not None:
            check_requires_python(requires_python)
        # Checked now, so a bad request is a 400 at once; checked again at the operation's
        # turn, against the notebook as it is then.
        names = check_edit(await load(real), action, packages)

        async def work(op: Operation, on_line: LineCallback) -> str:
            nb = await edit_notebook(
                self.catalog.runner,
                real,
                action,
                packages,
                requires_python=requires_python,
                on_line=on_line,
            )
            op.result["notebook"] = await self._describe(real)
            return edit_message(action, names, nb)

        return self._submit_notebook(EDIT_OPERATIONS[action], real, real, work)

    async def notebook_tree_reply(
        self, path: object, invert: bool = False, package: str | None = None
    ) -> dict[str, Any]:
        """GET notebooks/tree: a TreeReply."""
        real = await self._notebook(path)
        return await notebook_tree(self.catalog.runner, real, invert=invert, package=package)

    async def notebook_outdated_reply(self, path: object) -> dict[str, Any]:
        """GET notebooks/outdated: an OutdatedReply (locked notebooks)."""
        return await notebook_outdated(self.catalog.runner, await self._notebook(path))

    async def notebook_self_contained(self, body: dict[str, Any]) -> Operation:
        """POST notebooks/self-contained: a 202 operation; its result says which source was
        used and which imports map to no installed distribution."""
        real = await self._notebook(body.get("path"))
        source = body.get("from", "environment")
        env = None
        if body.get("environment"):
            env = await self._current(self.index.get(body["environment"]).path)
        plan = await notebook_convert.plan_self_contained(
            self.catalog, real, source, env, kernel_dir=str(self.catalog.reconciler.kernel_dir)
        )

        async def work(op: Operation, on_line: LineCallback) -> str:
            message = await notebook_convert.make_self_contained(
                self.catalog.runner, real, plan, on_line=on_line
            )
            op.result.update(plan.to_json())
            op.result["notebook"] = await self._describe(real)
            return message

        return self._submit_notebook(SELF_CONTAINED, real, real, work)

    async def notebook_project(self, body: dict[str, Any]) -> Operation:
        """POST notebooks/project: a 202 operation making the notebook's folder a uv project
        (409 when it already has a pyproject.toml)."""
        real = await self._notebook(body.get("path"))
        folder = os.path.dirname(real)
        nb = await load(real)
        await asyncio.to_thread(notebook_project.check_project_target, nb, folder)

        async def work(op: Operation, on_line: LineCallback) -> str:
            result = await notebook_project.to_project(self.catalog.runner, real, on_line=on_line)
            op.result.update(result)
            return f"{folder} is now a uv project with {os.path.basename(real)}'s dependencies."

        # Keyed by the folder: the finaliser lists the new project as an environment.
        return self._submit_notebook(TO_PROJECT, real, folder, work)

    def _submit_notebook(self, action: str, real: str, key: str, work: Any) -> Operation:
        return self.operations.submit(action, path=key, key=key, subject_id=None, work=work)

    async def _finalize(self, op: Operation) -> dict[str, Any] | None:
        """Edits change only the notebook: no environment to settle. After to-project the
        folder is a project: settled like any new environment, and its kernel named."""
        if op.action in NOTEBOOK_ACTIONS and op.action != TO_PROJECT:
            return None
        record = await super()._finalize(op)
        if op.action == TO_PROJECT and record is not None and op.outcome == "succeeded":
            op.result["kernel"] = record.get("kernel") or op.result.get("kernel")
        return record

    @staticmethod
    def operation_json(op: Operation) -> dict[str, Any]:
        """Notebook operations also carry their ``result`` (the new NotebookDependencies,
        the self-contained source, the project)."""
        out = ServiceBase.operation_json(op)
        if op.action in NOTEBOOK_ACTIONS:
            out["result"] = op.result or None
        return out


def describe_notebook_at(real: str, env_root: str) -> dict[str, Any]:
    """:func:`describe_notebook` of the notebook at ``real`` (reads it: call in a thread)."""
    return describe_notebook(load_notebook(real), env_root)
