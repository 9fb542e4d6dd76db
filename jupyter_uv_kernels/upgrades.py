"""Upgrades, and what could be upgraded (issue 12), for the CLI and the server alike.

- Upgrade a project: ``uv lock --upgrade-package NAME…`` (``--upgrade`` for everything), which
  stays within pyproject.toml's constraints, then ``uv sync --frozen``. If either step does
  not complete, pyproject.toml and uv.lock are put back byte for byte and the env is
  re-synced to the old lock (:func:`rollback.project_change`).
- Upgrade a venv: ``uv pip install --upgrade-package NAME… NAME…``; no names means every
  installed package except an editable install (the env's own project).
- Outdated: ``uv pip list --outdated`` (the newest release of each installed package) and,
  for a project, ``uv lock --upgrade --dry-run`` (what the constraints allow). Both ask the
  index, so an answer is cached for ``UvKernels.outdated_cache_seconds`` per env, and
  forgotten after any operation on that env (:func:`forget_outdated`) or when uv.lock or
  site-packages change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from packaging.utils import canonicalize_name

from .catalog import EnvironmentCatalog
from .dependencies import direct_dependencies, project_name
from .dependency_tree import parse_tree
from .environments import Environment, python_version_from_cfg, read_pyvenv_cfg, site_packages_dir
from .errors import Conflict, UvFailed
from .rollback import project_change, project_file_state, restore_project_files
from .user_input import parse_package_names
from .uvrunner import LineCallback, UvRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

T = TypeVar("T")
U = TypeVar("U")

#: ``uv lock --dry-run``'s line for a package whose locked version would change.
_UPDATE = re.compile(r"^Update (?P<name>\S+) v(?P<old>\S+) -> v(?P<new>\S+)")


# -- what may be upgraded -----------------------------------------------------------------


def locked_packages(project: str) -> dict[str, str]:
    """Canonical name -> version of every package in the project's uv.lock."""
    try:
        with open(os.path.join(project, "uv.lock"), "rb") as f:
            lock = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    out: dict[str, str] = {}
    packages = lock.get("package")
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            out[canonicalize_name(package["name"])] = str(package.get("version", ""))
    return out


def _no_lock(env: Environment) -> Conflict:
    return Conflict(
        f"{env.path} has no uv.lock yet; run Sync (`uv lock --project {env.path}`) first."
    )


async def check_upgrade(runner: UvRunner, env: Environment, packages: object) -> list[str]:
    """The names to upgrade (validated), or :class:`Conflict` saying why they cannot be: a
    read-only env is not changed; a project upgrades what its uv.lock holds, a venv what is
    installed in it."""
    names = parse_package_names(packages)
    if env.read_only:
        raise Conflict(
            f"{env.path} is read-only for you, so it cannot be upgraded; copy it into your own "
            "roots (Copy, or `jupyter uvkernel copy`) and upgrade the copy."
        )
    if env.kind == "project":
        if not await asyncio.to_thread(os.path.isfile, os.path.join(env.path, "uv.lock")):
            raise _no_lock(env)
        locked = await asyncio.to_thread(locked_packages, env.path)
        own = await asyncio.to_thread(project_name, env.path)
        for name in names:
            canon = canonicalize_name(name)
            if canon == own:
                raise Conflict(f"{name} is the project {env.path} itself; it is not upgraded.")
            if canon not in locked:
                raise Conflict(
                    f"{name} is not a dependency of {env.path} (its uv.lock does not name it); "
                    f"add it instead (`uv add --project {env.path} {name}`)."
                )
        return names
    if not env.venv or env.status in ("no-environment", "broken"):
        raise Conflict(f"{env.path} has no working environment: {env.problem}")
    installed = {canonicalize_name(p["name"]) for p in await runner.pip_list(env.venv)}
    for name in names:
        if canonicalize_name(name) not in installed:
            raise Conflict(
                f"{name} is not installed in {env.path}, so it cannot be upgraded; add it "
                f"instead (`uv pip install --python {env.venv}/bin/python {name}`)."
            )
    return names


# -- upgrading ------------------------------------------------------------------------------


@dataclass
class UpgradeResult:
    """What an upgrade changed: (name, version before, version after) of each package."""

    changes: list[tuple[str, str | None, str | None]] = field(default_factory=list)

    @property
    def message(self) -> str:
        if not self.changes:
            return "Nothing to upgrade: everything is at the newest version allowed."
        shown = [f"{n} {old or '(new)'} -> {new or '(removed)'}" for n, old, new in self.changes]
        more = f" and {len(shown) - 10} more" if len(shown) > 10 else ""
        return f"Upgraded {', '.join(shown[:10])}{more}."


async def _installed(runner: UvRunner, env: Environment) -> dict[str, dict[str, Any]]:
    venv = env.venv
    if not venv or not await asyncio.to_thread(os.path.exists, os.path.join(venv, "pyvenv.cfg")):
        return {}
    return {canonicalize_name(p["name"]): p for p in await runner.pip_list(venv)}


@contextlib.asynccontextmanager
async def _restoring(
    catalog: EnvironmentCatalog, env: Environment, on_line: LineCallback | None
) -> AsyncIterator[None]:
    """Like :func:`rollback.project_change`, and the files' content is put back on every
    failure: a lock that succeeded before its sync failed must not stay behind."""
    before = await asyncio.to_thread(project_file_state, env.path)
    async with project_change(env.path, lambda: catalog.sync(env, on_line=on_line), on_line):
        try:
            yield
        except BaseException:
            await asyncio.shield(asyncio.to_thread(restore_project_files, before, content=True))
            raise


async def upgrade_environment(
    catalog: EnvironmentCatalog,
    env: Environment,
    packages: Sequence[str] = (),
    *,
    on_line: LineCallback | None = None,
) -> UpgradeResult:
    """Upgrade ``packages`` (none: everything) of ``env``; see the module docstring."""
    runner = catalog.runner
    names = await check_upgrade(runner, env, list(packages))
    before = await _installed(runner, env)
    if env.kind == "project":
        async with _restoring(catalog, env, on_line):
            await runner.lock_upgrade(env.path, names, on_line=on_line)
            await catalog.sync(env, on_line=on_line)
    else:
        assert env.venv is not None
        if not names:
            names = sorted(n for n, p in before.items() if not p.get("editable_project_location"))
        if names:
            await runner.pip_install_upgrade(env.venv, names, on_line=on_line)
    after = await _installed(runner, env)
    changes = [
        (name, before.get(name, {}).get("version"), after.get(name, {}).get("version"))
        for name in sorted(set(before) | set(after))
        if before.get(name, {}).get("version") != after.get(name, {}).get("version")
    ]
    return UpgradeResult(changes)


# -- outdated -------------------------------------------------------------------------------


def allowed_upgrades(dry_run_output: str) -> dict[str, str]:
    """Canonical name -> the version ``uv lock --upgrade --dry-run`` would lock."""
    out: dict[str, str] = {}
    for line in dry_run_output.splitlines():
        match = _UPDATE.match(line.strip())
        if match:
            out[canonicalize_name(match.group("name"))] = match.group("new")
    return out


async def outdated_packages(
    runner: UvRunner, env: Environment
) -> tuple[list[dict[str, Any]], str | None]:
    """OutdatedPackage records of ``env`` (installed, latest, allowed and direct, by name),
    and for a project why ``allowed`` is unknown when the dry run failed (else None)."""
    if not env.venv or env.status in ("no-environment", "broken"):
        raise Conflict(f"{env.path} has no working environment: {env.problem}")
    problem = None
    allowed: dict[str, str] = {}
    if env.kind == "project":
        if not await asyncio.to_thread(os.path.isfile, os.path.join(env.path, "uv.lock")):
            raise _no_lock(env)
        listed, dry_run = await run_both(
            runner.pip_list_outdated(env.venv, cwd=env.path),
            runner.lock_upgrade_dry_run(env.path),
        )
        if isinstance(dry_run, UvFailed):
            problem = f"What pyproject.toml's constraints allow is unknown: {dry_run.message}"
        else:
            allowed = allowed_upgrades(f"{dry_run.stdout}\n{dry_run.stderr}")
        direct = set(await asyncio.to_thread(direct_dependencies, env.path))
        own = await asyncio.to_thread(project_name, env.path)
    else:
        listed, tree = await run_both(runner.pip_list_outdated(env.venv), runner.pip_tree(env.venv))
        if isinstance(tree, UvFailed):
            raise tree
        direct = {canonicalize_name(root["name"]) for root in parse_tree(tree)}
        own = None
    out = []
    for package in listed:
        name = canonicalize_name(str(package.get("name", "")))
        if not name or name == own:
            continue
        latest = package.get("latest_version")
        out.append(
            {
                "name": name,
                "installed": str(package.get("version", "")),
                "latest": latest,
                "allowed": allowed.get(name) if env.kind == "project" else latest,
                "direct": name in direct,
            }
        )
    return sorted(out, key=lambda p: p["name"]), problem


async def run_both(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U | UvFailed]:
    """Run two uv commands at once. The first one's failure is raised (and the second is
    stopped); the second one's is returned, for the caller to weigh."""
    one = asyncio.ensure_future(first)
    two = asyncio.ensure_future(second)
    try:
        result = await one  # its failure is raised, and two is stopped below
        try:
            return result, await two
        except UvFailed as e:
            return result, e
    finally:
        for task in (one, two):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _stamp(env: Environment) -> tuple[int, ...]:
    """Changes whenever uv.lock or the installed packages do (a few stats, no walk)."""
    paths = [os.path.join(env.path, "uv.lock")] if env.kind == "project" else []
    if env.venv:
        cfg = read_pyvenv_cfg(env.venv) or {}
        site = site_packages_dir(env.venv, python_version_from_cfg(cfg))
        paths += [site] if site else []
    stamp = []
    for path in paths:
        try:
            stamp.append(os.stat(path).st_mtime_ns)
        except OSError:
            stamp.append(0)
    return tuple(stamp)


@dataclass
class _Answer:
    stamp: tuple[int, ...]
    at: float
    reply: dict[str, Any]


#: realpath of an env -> its last outdated answer. One per process, like the envs it describes.
_CACHE: dict[str, _Answer] = {}


def forget_outdated(path: str) -> None:
    """Drop the cached outdated answer of the env at ``path`` (after an operation on it)."""
    _CACHE.pop(os.path.realpath(path), None)


async def outdated_report(
    runner: UvRunner, env: Environment, *, max_age: float, refresh: bool = False
) -> dict[str, Any]:
    """The OutdatedReply of ``env``: from the cache when it is younger than ``max_age``
    seconds and the env has not changed since, unless ``refresh``."""
    key = os.path.realpath(env.path)
    stamp = await asyncio.to_thread(_stamp, env)
    cached = _CACHE.get(key)
    if (
        not refresh
        and cached is not None
        and cached.stamp == stamp
        and time.monotonic() - cached.at < max_age
    ):
        return {**cached.reply, "cached": True}
    packages, problem = await outdated_packages(runner, env)
    checked_at = datetime.now(timezone.utc).isoformat()
    reply = {"packages": packages, "checked_at": checked_at, "cached": False, "problem": problem}
    if max_age > 0 and problem is None:
        _CACHE[key] = _Answer(stamp, time.monotonic(), reply)
    return reply


def render_outdated(packages: list[dict[str, Any]]) -> list[str]:
    """An OutdatedReply's packages as the CLI prints them: a table with a header row."""
    rows = [("PACKAGE", "INSTALLED", "LATEST", "ALLOWED", "DIRECT")]
    for p in packages:
        allowed = p["allowed"] or "(held by constraints)"
        direct = "yes" if p["direct"] else ""
        rows.append((p["name"], p["installed"], p["latest"] or "-", allowed, direct))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
