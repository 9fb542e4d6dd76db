"""Make a notebook self-contained (issue 15).

Self-contained: the notebook gets a PEP 723 block (juv's format, through
:func:`notebook_deps.edit_notebook`, i.e. ``uv add --script``) listing either

- ``environment``: an environment's direct dependencies. A project's are its
  ``[project].dependencies`` exactly as pyproject.toml writes them (read with tomllib); a
  venv's are its top-level packages, what nothing else installed requires (``uv pip tree``,
  whose roots are exactly those), as ``name>=installed version``, the bound ``uv add`` writes;
  editable installs (the user's own code) are left out; or
- ``imports``: the modules the notebook's code cells import (``ast``; magics, ``!`` shell
  lines and ``%%`` cells skipped; relative imports, the standard library
  (``sys.stdlib_module_names``) and modules beside the notebook left out), each mapped to the
  distribution that provides it in the chosen environment, from the ``top_level.txt`` or
  ``RECORD`` of its installed dist-info (read from disk, not a subprocess per package).
  Imports no installed distribution provides are reported, never guessed.

ipykernel is never added: the ``uv-script`` kernel brings its own. The environment is the
one asked for, else the one of the kernel the notebook names in its metadata.

To project: :mod:`notebook_project`. This module never imports tornado.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import os
import re
import sys
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .catalog import EnvironmentCatalog
from .dependency_tree import parse_tree
from .environments import Environment, python_version_from_cfg, read_pyvenv_cfg, site_packages_dir
from .errors import Conflict, InvalidRequest
from .kernel_launcher import Target
from .notebook_deps import edit_notebook
from .notebook_script import NotebookFile, load_notebook
from .provenance import target_for_kernel
from .script_block import cell_source
from .uvrunner import LineCallback, UvRunner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCES = ("environment", "imports")
#: Never put into a block: the uv-script kernel installs its own.
KERNEL_PACKAGES = frozenset({"ipykernel"})
#: Packages a venv may hold for its own tooling, not for the notebook.
TOOLING = frozenset({"pip", "setuptools", "wheel", "uv"})


@dataclasses.dataclass
class SelfContainedPlan:
    """What "make self-contained" will add, and where it came from."""

    source: str
    environment: str
    requirements: list[str]
    requires_python: str | None
    unmapped: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_environment": self.environment,
            "added": self.requirements,
            "unmapped_imports": self.unmapped,
        }


# -- which environment --------------------------------------------------------------------


def notebook_target(nb: NotebookFile, env: Environment | None, kernel_dir: str) -> Target:
    """The environment asked for, else the one of the kernel the notebook names."""
    if env is not None:
        return Target(env.venv or env.path, env.path if env.kind == "project" else None)
    spec = nb.notebook.get("metadata", {}).get("kernelspec")
    name = spec.get("name") if isinstance(spec, dict) else None
    target = None
    if isinstance(name, str) and name:
        target = target_for_kernel(name, os.path.dirname(nb.path), kernel_dir)
    if target is None:
        raise InvalidRequest(
            f"{os.path.basename(nb.path)}'s kernel ({name or 'none'}) is not a uv kernel, so "
            "there is no environment to take its dependencies from; choose one (environment)."
        )
    return target


# -- from an environment ------------------------------------------------------------------


def project_requirements(project: str) -> tuple[list[str], str | None]:
    """``[project].dependencies`` and requires-python of a project, as written."""
    try:
        with open(os.path.join(project, "pyproject.toml"), "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Conflict(f"Cannot read {project}/pyproject.toml: {e}.") from None
    table = data.get("project") if isinstance(data.get("project"), dict) else {}
    deps = table.get("dependencies", [])
    reqs = [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
    kept = [r for r in reqs if canonicalize_name(Requirement(r).name) not in KERNEL_PACKAGES]
    rp = table.get("requires-python")
    return kept, rp if isinstance(rp, str) else None


async def venv_requirements(runner: UvRunner, venv: str) -> list[str]:
    """A venv's top-level packages (``uv pip tree`` roots), as ``name>=version``, without
    editable installs, ipykernel and packaging tools."""
    roots = parse_tree(await runner.pip_tree(venv))
    editable = {
        canonicalize_name(p["name"])
        for p in await runner.pip_list(venv)
        if p.get("editable_project_location")
    }
    skip = editable | KERNEL_PACKAGES | TOOLING
    out = []
    for root in roots:
        name = canonicalize_name(root["name"])
        if name not in skip:
            out.append(f"{root['name']}>={root['version']}" if root["version"] else root["name"])
    return out


def python_floor(venv: str) -> str | None:
    """``>=3.X`` for the venv's Python (the floor a notebook made from it needs)."""
    cfg = read_pyvenv_cfg(venv)
    version = python_version_from_cfg(cfg) if cfg else None
    parts = version.split(".") if version else []
    return f">={parts[0]}.{parts[1]}" if len(parts) >= 2 else None


# -- from imports -------------------------------------------------------------------------


def notebook_imports(nb: NotebookFile) -> list[str]:
    """Top-level module names the code cells import (absolute imports only), in order."""
    found: list[str] = []
    for cell in nb.notebook.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        if source.lstrip().startswith("%%"):
            continue  # a cell magic: not Python
        lines = [
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        ]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue  # a cell that does not parse cannot tell us its imports
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in found:
                    found.append(top)
    return found


def third_party(names: list[str], folder: str) -> list[str]:
    """Names that are neither the standard library nor a module beside the notebook."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    return [
        n
        for n in names
        if n not in stdlib
        and not os.path.exists(os.path.join(folder, f"{n}.py"))
        and not os.path.isdir(os.path.join(folder, n))
    ]


_DIST_INFO = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+)\.dist-info$")


def import_map(site_packages: str) -> dict[str, tuple[str, str]]:
    """Import name -> (distribution, version) for every dist-info in ``site_packages``."""
    out: dict[str, tuple[str, str]] = {}
    try:
        entries = sorted(os.listdir(site_packages))
    except OSError:
        return out
    for entry in entries:
        match = _DIST_INFO.match(entry)
        if not match:
            continue
        dist, version = match.group("name"), match.group("version")
        info = os.path.join(site_packages, entry)
        for module in _top_level(info):
            out.setdefault(module, (dist, version))
    return out


def _top_level(info: str) -> set[str]:
    try:
        with open(os.path.join(info, "top_level.txt"), encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip()}
    except OSError:
        pass
    modules: set[str] = set()
    try:
        with open(os.path.join(info, "RECORD"), encoding="utf-8") as f:
            for line in f:
                path = line.split(",", 1)[0]
                first = path.split("/", 1)[0]
                if not first or first.startswith("..") or first.endswith((".dist-info", ".data")):
                    continue
                if first == "__pycache__" or first.endswith(".pth"):
                    continue
                if "/" in path:
                    modules.add(first)
                elif first.endswith(".py"):
                    modules.add(first[:-3])
                elif first.endswith(".so"):
                    modules.add(first.split(".", 1)[0])
    except OSError:
        pass
    return modules


def imports_plan(nb: NotebookFile, target: Target) -> SelfContainedPlan:
    """The distributions providing the notebook's third-party imports in ``target``."""
    cfg = read_pyvenv_cfg(target.venv)
    version = python_version_from_cfg(cfg) if cfg else None
    site = site_packages_dir(target.venv, version)
    mapping = import_map(site) if site else {}
    wanted = third_party(notebook_imports(nb), os.path.dirname(nb.path))
    reqs: list[str] = []
    unmapped: list[str] = []
    for module in wanted:
        if module not in mapping:
            unmapped.append(module)
            continue
        dist, dist_version = mapping[module]
        if canonicalize_name(dist) in KERNEL_PACKAGES:
            continue
        req = f"{canonicalize_name(dist)}>={dist_version}"
        if req not in reqs:
            reqs.append(req)
    return SelfContainedPlan("imports", target.venv, reqs, python_floor(target.venv), unmapped)


# -- make self-contained ------------------------------------------------------------------


async def plan_self_contained(
    catalog: EnvironmentCatalog,
    path: str,
    source: str,
    env: Environment | None,
    *,
    kernel_dir: str,
) -> SelfContainedPlan:
    """What to add to the notebook at ``path``; refuses (409) a notebook that already lists
    dependencies, and an answer with nothing to add."""
    if source not in SOURCES:
        raise InvalidRequest(f"from must be environment or imports, not {source!r}.")
    nb = await asyncio.to_thread(load_notebook, path)
    nb.require_usable()
    if nb.metadata is not None and nb.metadata.dependencies:
        raise Conflict(
            f"{os.path.basename(path)} already lists its dependencies; add or remove single "
            "packages instead."
        )
    target = await asyncio.to_thread(notebook_target, nb, env, kernel_dir)
    if source == "imports":
        plan = await asyncio.to_thread(imports_plan, nb, target)
    elif target.project:
        reqs, rp = await asyncio.to_thread(project_requirements, target.project)
        plan = SelfContainedPlan("environment", target.project, reqs, rp)
    else:
        reqs = await venv_requirements(catalog.runner, target.venv)
        plan = SelfContainedPlan("environment", target.venv, reqs, python_floor(target.venv))
    if not plan.requirements:
        unmapped = f" (imports no package provides: {', '.join(plan.unmapped)})"
        raise Conflict(
            f"Found nothing to add from {plan.environment}"
            + (unmapped if plan.unmapped else "")
            + "; add the packages by name instead."
        )
    return plan


async def make_self_contained(
    runner: UvRunner, path: str, plan: SelfContainedPlan, *, on_line: LineCallback | None = None
) -> str:
    """Add the plan's requirements to the notebook (``uv add --script``)."""
    await edit_notebook(
        runner,
        path,
        "add",
        plan.requirements,
        requires_python=plan.requires_python,
        on_line=on_line,
    )
    message = f"Added {len(plan.requirements)} dependencies from {plan.source}"
    if plan.unmapped:
        message += f"; no installed package provides: {', '.join(plan.unmapped)}"
    return message + "."
