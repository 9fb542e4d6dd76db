"""What depends on what: uv's own tree (``uv tree --frozen``, ``uv pip tree``), as nested
records (the TreeReply of the REST API).

uv draws the tree; this module only reads the drawing. Each line is a prefix of 4-character
cells (``├── ``, ``└── ``, ``│   ``, four spaces; the number of cells is the depth) and
``name vVERSION`` with optional markers: ``(*)`` for a subtree shown in full elsewhere,
``(extra: x)`` / ``(group: dev)`` for what brings a package in. A name may carry the extras
it is installed with (``requests[socks]``).

Projects: one ``uv tree --all-groups`` run; the project's own children are split by their
``(group: NAME)`` marker into one group each (``main`` for ``[project].dependencies``).
Venvs: ``uv pip tree``, one group ``installed``. Inverted ("why is X installed?"): one group
``required-by`` holding X with, below it, what requires it, up to the direct dependencies.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from typing import Any

from packaging.utils import canonicalize_name

from .dependencies import project_name
from .environments import Environment
from .errors import Conflict, InvalidRequest
from .user_input import parse_package_names
from .uvrunner import UvRunner

#: The group of ``[project].dependencies`` in a project's tree.
MAIN_GROUP = "main"
#: The one group of a venv's tree.
VENV_GROUP = "installed"
#: The one group of an inverted tree.
INVERTED_GROUP = "required-by"
#: Workspace members that are not dependencies of the root project.
WORKSPACE_GROUP = "workspace"

_CELLS = ("├── ", "└── ", "│   ", "    ")
_NODE = re.compile(r"^(?P<name>[^\s\[(]+)(?:\[[^\]]*\])?(?: v(?P<version>\S+))?(?P<rest>.*)$")
_MARKER = re.compile(r"\((extra|group): ([^)]*)\)")
_LATEST = re.compile(r"\(latest: v?([^)\s]+)\)")


def parse_tree(text: str) -> list[dict[str, Any]]:
    """uv's tree drawing -> its roots, each ``{"name", "version", "dependencies": [...]}``
    plus ``repeated`` and ``extra`` where uv marks them. Lines that are no tree node (blank
    lines, uv's footnotes) are skipped."""
    roots: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = []
    for depth, content in _lines(text):
        node = _node(content)
        if node is None:
            continue
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1]["dependencies"] if stack else roots).append(node)
        stack.append((depth, node))
    return roots


def latest_versions(text: str) -> dict[str, str]:
    """Canonical name -> newest release, from a tree uv drew with ``--outdated`` (it marks
    each package that has a newer release ``(latest: vX)``)."""
    out: dict[str, str] = {}
    for _depth, content in _lines(text):
        match, latest = _NODE.match(content), _LATEST.search(content)
        if match and latest and not content.startswith(("warning:", "error:")):
            out[canonicalize_name(match.group("name"))] = latest.group(1)
    return out


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line of uv's drawing as (depth, what follows its prefix cells)."""
    for line in text.splitlines():
        depth, start = 0, 0
        while line[start : start + 4] in _CELLS:
            depth, start = depth + 1, start + 4
        yield depth, line[start:].strip()


def _node(content: str) -> dict[str, Any] | None:
    match = _NODE.match(content)
    if not content or match is None or content.startswith(("(*)", "warning:", "error:")):
        return None
    rest = match.group("rest")
    node: dict[str, Any] = {
        "name": match.group("name"),
        "version": match.group("version"),
        "dependencies": [],
    }
    if "(*)" in rest:
        node["repeated"] = True
    marker = _MARKER.search(rest)
    if marker:
        kind, value = marker.groups()
        node["extra"] = value.strip() if kind == "extra" else f"group:{value.strip()}"
    return node


def project_groups(roots: list[dict[str, Any]], own: str | None) -> list[dict[str, Any]]:
    """A project's tree by group: ``main`` first, then each dependency group in uv's order
    (an optional dependency of the project is its group ``extra:NAME``). Workspace members
    that are no dependency of the project go to ``workspace``."""
    groups: dict[str, list[dict[str, Any]]] = {MAIN_GROUP: []}
    own_roots = [r for r in roots if own and canonicalize_name(r["name"]) == own] or roots[:1]
    for root in roots:
        if root not in own_roots:
            groups.setdefault(WORKSPACE_GROUP, []).append(root)
    for root in own_roots:
        for child in root["dependencies"]:
            marker = child.pop("extra", None)
            if marker is None:
                name = MAIN_GROUP
            elif marker.startswith("group:"):
                name = marker.split(":", 1)[1]
            else:
                name = f"extra:{marker}"
            groups.setdefault(name, []).append(child)
    if WORKSPACE_GROUP in groups:  # after the project's own groups
        groups[WORKSPACE_GROUP] = groups.pop(WORKSPACE_GROUP)
    return [{"name": name, "dependencies": nodes} for name, nodes in groups.items()]


def _one_name(package: object) -> str:
    """The one package name of an inverted tree (validated like every package name)."""
    names = parse_package_names([package]) if isinstance(package, str) else []
    if not names:
        raise InvalidRequest("invert=true needs package=NAME, e.g. package=numpy.")
    return names[0]


async def dependency_tree(
    runner: UvRunner, env: Environment, *, invert: bool = False, package: str | None = None
) -> dict[str, Any]:
    """The TreeReply for ``env``: its tree by group, or the inverted tree of ``package``."""
    if package is not None and not invert:
        raise InvalidRequest("package is only used with invert=true (what requires it).")
    name = _one_name(package) if invert else None
    if env.kind == "project":
        if not await asyncio.to_thread(os.path.isfile, os.path.join(env.path, "uv.lock")):
            raise Conflict(
                f"{env.path} has no uv.lock yet, and the tree is read from it; run Sync "
                f"(`uv lock --project {env.path}`) first."
            )
        text = await runner.tree(env.path, invert_package=name)
        roots = parse_tree(text)
    else:
        if not env.venv or env.status in ("no-environment", "broken"):
            raise Conflict(f"{env.path} has no working environment: {env.problem}")
        roots = parse_tree(await runner.pip_tree(env.venv, invert_package=name))
    if name is not None:
        wanted = canonicalize_name(name)
        found = [r for r in roots if canonicalize_name(r["name"]) == wanted]
        if not found:
            where = "in the uv.lock of" if env.kind == "project" else "installed in"
            raise InvalidRequest(
                f"{name} is not {where} {env.path}, so nothing requires it; check the "
                "spelling against the package list."
            )
        groups = [{"name": INVERTED_GROUP, "dependencies": found}]
    elif env.kind == "project":
        own = await asyncio.to_thread(project_name, env.path)
        groups = project_groups(roots, own)
    else:
        groups = [{"name": VENV_GROUP, "dependencies": roots}]
    return {"groups": groups, "inverted": invert, "package": name}


def render_tree(reply: dict[str, Any]) -> list[str]:
    """A TreeReply drawn again as text lines (the CLI's view), group by group."""
    lines: list[str] = []

    def draw(nodes: list[dict[str, Any]], prefix: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            label = f"{node['name']} v{node['version']}" if node["version"] else node["name"]
            extra = node.get("extra")
            if extra and extra.startswith("group:"):
                label += f" (group: {extra.split(':', 1)[1]})"
            elif extra:
                label += f" (extra: {extra})"
            if node.get("repeated"):
                label += " (*)"
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            draw(node["dependencies"], prefix + ("    " if last else "│   "))

    for group in reply["groups"]:
        lines.append(f"[{group['name']}]")
        draw(group["dependencies"], "")
    return lines
