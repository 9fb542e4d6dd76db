"""Which packages a project asks for itself (direct dependencies), and who needs the rest.

Read from the files uv keeps (tomllib), never from a subprocess:

- pyproject.toml: ``[project].dependencies`` (group ``project``), ``[dependency-groups]``
  (PEP 735, where ``uv add --dev`` writes: group ``dev``), the older
  ``[tool.uv].dev-dependencies`` (group ``dev``) and ``[project.optional-dependencies]``
  (group ``extra:NAME``);
- uv.lock: every locked package with the packages it depends on, inverted to answer "why is
  this installed?".

Only direct dependencies can be removed with ``uv remove``; asking to remove anything else
is refused before uv runs, with the names of the packages that require it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from .environments import Environment
from .errors import Conflict
from .uvrunner import UvRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: The group of ``[project].dependencies``.
PROJECT_GROUP = "project"


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return data


def _names(requirements: object) -> list[str]:
    out: list[str] = []
    for text in requirements if isinstance(requirements, list) else []:
        if not isinstance(text, str):
            continue  # e.g. {include-group = "..."} in a dependency group
        try:
            out.append(canonicalize_name(Requirement(text).name))
        except InvalidRequirement:
            continue
    return out


def direct_dependencies(project: str) -> dict[str, list[str]]:
    """Canonical package name -> the groups of pyproject.toml that ask for it."""
    data = _load(os.path.join(project, "pyproject.toml"))
    found: dict[str, list[str]] = {}

    def add(names: Iterable[str], group: str) -> None:
        for name in names:
            groups = found.setdefault(name, [])
            if group not in groups:
                groups.append(group)

    table = data.get("project")
    table = table if isinstance(table, dict) else {}
    add(_names(table.get("dependencies")), PROJECT_GROUP)
    extras = table.get("optional-dependencies")
    for extra, reqs in (extras if isinstance(extras, dict) else {}).items():
        add(_names(reqs), f"extra:{extra}")
    groups = data.get("dependency-groups")
    for group, reqs in (groups if isinstance(groups, dict) else {}).items():
        add(_names(reqs), str(group))
    tool = data.get("tool")
    tool_uv = tool.get("uv") if isinstance(tool, dict) else None
    if isinstance(tool_uv, dict):
        add(_names(tool_uv.get("dev-dependencies")), "dev")
    return found


def project_name(project: str) -> str | None:
    table = _load(os.path.join(project, "pyproject.toml")).get("project")
    name = table.get("name") if isinstance(table, dict) else None
    return canonicalize_name(name) if isinstance(name, str) else None


def required_by(project: str, name: str) -> list[str]:
    """Locked packages that depend on ``name`` (canonical names, sorted), from uv.lock."""
    lock = _load(os.path.join(project, "uv.lock"))
    wanted = canonicalize_name(name)
    parents: set[str] = set()
    for package in lock.get("package", []) if isinstance(lock.get("package"), list) else []:
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            continue
        edges: list[Any] = list(package.get("dependencies", []) or [])
        for key in ("optional-dependencies", "dev-dependencies"):
            table = package.get(key)
            for deps in (table if isinstance(table, dict) else {}).values():
                edges += list(deps or [])
        if any(
            isinstance(d, dict) and canonicalize_name(str(d.get("name", ""))) == wanted
            for d in edges
        ):
            parents.add(canonicalize_name(package["name"]))
    return sorted(parents)


def annotate_packages(project: str, packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark each installed package ``direct`` (with its ``groups``), and the project's own
    package ``project: true``: the detail view shows direct ones apart and only they get a
    remove action."""
    direct = direct_dependencies(project)
    own = project_name(project)
    out = []
    for package in packages:
        name = canonicalize_name(str(package.get("name", "")))
        groups = direct.get(name, [])
        out.append({**package, "direct": bool(groups), "groups": groups, "project": name == own})
    return out


def removal_group(project: str, name: str) -> str:
    """The group to remove ``name`` from, or :class:`Conflict` saying why it cannot be."""
    canon = canonicalize_name(name)
    groups = direct_dependencies(project).get(canon)
    if groups:
        return PROJECT_GROUP if PROJECT_GROUP in groups else groups[0]
    if canon == project_name(project):
        raise Conflict(f"{name} is the project {project} itself; it cannot be removed from it.")
    parents = required_by(project, canon)
    if parents:
        raise Conflict(
            f"{name} is not a direct dependency of {project}: it is installed because "
            f"{_list(parents)} require{'s' if len(parents) == 1 else ''} it (uv.lock). Remove "
            f"{'that' if len(parents) == 1 else 'those'} instead, or keep it."
        )
    raise Conflict(
        f"{name} is not a dependency of {project} (pyproject.toml and uv.lock do not name it)."
    )


def remove_arguments(group: str) -> list[str]:
    """``uv remove`` options that select ``group`` (see :func:`direct_dependencies`)."""
    if group == PROJECT_GROUP:
        return []
    if group.startswith("extra:"):
        return ["--optional", group.split(":", 1)[1]]
    return ["--group", group]


async def removal_options(
    runner: UvRunner, env: Environment, name: str, *, force: bool = False
) -> list[str]:
    """The ``uv remove`` options for removing ``name`` from ``env`` (a project), after
    checking it may be removed; for a venv, [] after checking nothing else needs it (unless
    ``force``). Raises :class:`Conflict` with the reason."""
    if env.kind == "project":
        group = await asyncio.to_thread(removal_group, env.path, name)
        return remove_arguments(group)
    if not force and env.venv:
        await venv_removal_check(runner, env.venv, name)
    return []


async def venv_removal_check(runner: UvRunner, venv: str, name: str) -> None:
    """:class:`Conflict` when other installed packages require ``name`` (``uv pip show``)."""
    parents = await runner.pip_required_by(venv, name)
    if parents:
        raise Conflict(
            f"{name} is required by {_list(parents)} in {venv}; removing it would break "
            f"{'it' if len(parents) == 1 else 'them'}. Remove those first, or repeat the "
            "request with force=true."
        )


def _list(names: list[str]) -> str:
    shown = names[:5]
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(shown) + more
