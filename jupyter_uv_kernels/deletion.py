"""Delete an environment to free its disk space, and nothing else.

A venv: its directory goes. A project: only ``.venv`` goes; pyproject.toml, uv.lock and
everything else stay, so Sync (``uv sync --frozen``) rebuilds the same environment.

Refused, before anything is touched: a path that is not an environment, one outside the
roots (after symlinks are resolved), a root itself (or a folder holding a root), a
read-only environment, and a project without a ``.venv``. A project's ``.venv`` that is a
symlink is only unlinked: what it points to may be shared, or outside the roots.

The directory is first renamed to a hidden name beside it (one atomic step: the
environment is gone from every listing at once), then removed. Its kernelspec is removed
by a reconcile of the environment's new state, not by an unregister: an unregister would
be remembered, and a project rebuilt by Sync must get its kernel back.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import EnvironmentCatalog
from .environments import Environment
from .errors import Conflict, InvalidRequest, NotAnEnvironment


@dataclass
class DeletePlan:
    """What a delete removes: ``target`` (a directory, or a symlink when ``unlink_only``)."""

    env: Environment
    real: str
    target: str
    unlink_only: bool

    def describe(self) -> str:
        if self.env.kind == "venv":
            return f"the venv {self.target}"
        what = "the link" if self.unlink_only else "the environment"
        return f"{what} {self.target} (pyproject.toml and uv.lock stay)"


def plan_delete(catalog: EnvironmentCatalog, path: object) -> DeletePlan:
    """Check that ``path`` may be deleted and say what would go (raises a typed error if not)."""
    real = catalog.confine(path, "environment path")
    try:
        env = catalog.inspect(real)
    except NotAnEnvironment as e:
        raise InvalidRequest(f"Nothing deleted: {e.message}") from None
    for root in catalog.real_roots():
        if root == real or root.startswith(real.rstrip(os.sep) + os.sep):
            raise InvalidRequest(
                f"{real} is a configured root (or holds one); deleting it would delete the "
                "root. Delete the environments inside it one by one instead."
            )
    if env.read_only:
        raise Conflict(
            f"{env.path} is read-only for you, so it cannot be deleted; ask its owner, or "
            "copy it into your own roots."
        )
    if env.kind == "venv":
        target, unlink_only = real, False
        parent = os.path.dirname(real)
        if not os.access(parent, os.W_OK):
            raise Conflict(f"{parent} is read-only for you, so {real} cannot be deleted from it.")
    else:
        target = os.path.join(real, ".venv")
        if not os.path.lexists(target):
            raise Conflict(f"{real} has no .venv to delete (status {env.status}); nothing to free.")
        unlink_only = os.path.islink(target)
    return DeletePlan(env, real, target, unlink_only)


def delete_environment(catalog: EnvironmentCatalog, path: object) -> tuple[DeletePlan, list[str]]:
    """Delete the environment at ``path`` (see :func:`plan_delete`); returns the plan and
    the kernelspecs removed with it."""
    plan = plan_delete(catalog, path)
    if plan.unlink_only:
        _remove(os.unlink, plan.target)
    else:
        hidden = os.path.join(
            os.path.dirname(plan.target),
            f".{os.path.basename(plan.target)}.deleting-{secrets.token_hex(4)}",
        )
        _remove(os.rename, plan.target, hidden)
        try:
            shutil.rmtree(hidden)
        except OSError as e:
            raise Conflict(
                f"{plan.target} is gone from its place, but removing its files stopped at "
                f"{getattr(e, 'filename', None) or hidden}: {e.strerror or e}. Remove "
                f"{hidden} by hand to free the rest of the space."
            ) from None
    return plan, forget_kernels(catalog, plan.real)


def forget_kernels(catalog: EnvironmentCatalog, real: str) -> list[str]:
    """Remove the kernelspecs of the (now deleted) environment at ``real`` by reconciling
    what is left of it: nothing (a venv) or a project without an environment."""
    before = {
        s.name
        for s in catalog.reconciler.owned_specs().values()
        if s.env_path and os.path.realpath(s.env_path) == real
    }
    try:
        left = [catalog.inspect(real)]
    except NotAnEnvironment:
        left = []
    result = catalog.reconciler.reconcile(left, scanned_roots=(), complete=False)
    return sorted(before & set(result.removed))


def _remove(action: Callable[..., None], *args: str) -> None:
    try:
        action(*args)
    except OSError as e:
        raise Conflict(f"Cannot delete {args[0]}: {e.strerror or e}.") from None
