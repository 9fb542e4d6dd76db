"""Editing a notebook's inline dependencies with uv, the way juv does, so juv on a laptop and
the ``uv-script`` kernel on the hub read the same notebook.

Each edit writes the notebook's block to a temporary ``.py`` in the notebook's folder (so a
relative path dependency resolves as it would for juv), its lock (if it has one) beside it as
``<temp>.py.lock``, runs ``uv add --script``, ``uv remove --script`` or ``uv lock --script``
on it, and reads the block and the lock back into the notebook. The notebook is written only
when uv succeeded, atomically, and only over the bytes the edit started from; on any failure
it is byte for byte as it was. The temporary files are always removed. Nothing is installed:
the kernel builds the environment at its next start.

The tree and what could be upgraded come from the same temporary script (``uv tree
--script``, ``uv lock --script --upgrade --dry-run``); the notebook is never written by them.
This module never imports tornado.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Literal

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .catalog import EnvironmentCatalog
from .dependency_tree import INVERTED_GROUP, MAIN_GROUP, latest_versions, parse_tree
from .errors import Conflict, InvalidNotebook, InvalidPath, InvalidRequest, UvFailed
from .notebook_script import (
    NotebookFile,
    check_requires_python,
    load_notebook,
    locked_versions,
    parse_block,
    render_notebook,
    replace_notebook,
)
from .script_block import script_blocks
from .upgrades import allowed_upgrades, run_both
from .user_input import parse_package_names, parse_requirements, validate_path_string
from .uvrunner import LineCallback, UvRunner

EditAction = Literal["add", "remove", "upgrade", "lock"]
EDIT_ACTIONS: tuple[str, ...] = ("add", "remove", "upgrade", "lock")


@dataclasses.dataclass
class ScriptFiles:
    """The temporary script and its lock path, in the notebook's folder."""

    script: str
    lock: str
    folder: str


def new_block(requires_python: str | None) -> str:
    """The block of a notebook that has none yet (uv adds the dependencies to it)."""
    lines = ["# /// script"]
    if requires_python:
        lines.append(f'# requires-python = "{requires_python}"')
    lines += ["# dependencies = []", "# ///"]
    return "\n".join(lines)


def check_edit(nb: NotebookFile, action: str, packages: object) -> list[str]:
    """The packages of an edit, checked against the notebook before anything runs (400 or
    409 naming the fix). add: PEP 508 requirements; remove: names in the block; upgrade:
    names in the block or the lock (none = all); lock: none."""
    nb.require_usable()
    if action not in EDIT_ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(EDIT_ACTIONS)}, not {action!r}.")
    if action == "add":
        reqs = parse_requirements(packages if packages is not None else [])
        if not reqs:
            raise InvalidRequest("Name the packages to add, e.g. ['xarray>=2024.1'].")
        return reqs
    if nb.block is None:
        raise Conflict(
            f"{os.path.basename(nb.path)} has no inline dependencies ('# /// script' block) "
            "yet; add a dependency first (Add, or `jupyter uvkernel notebook add NB PKG`)."
        )
    if action == "lock":
        if packages:
            raise InvalidRequest("lock takes no packages; use upgrade to move some forward.")
        return []
    names = parse_package_names(packages if packages is not None else [])
    declared = (
        {canonicalize_name(Requirement(d).name) for d in nb.metadata.dependencies}
        if (nb.metadata)
        else set()
    )
    known = declared | (set(locked_versions(nb.lock)) if action == "upgrade" and nb.lock else set())
    if action == "remove" and not names:
        raise InvalidRequest("Name the packages to remove, e.g. ['xarray'].")
    missing = [n for n in names if canonicalize_name(n) not in known]
    if missing:
        where = "the notebook's dependencies" + (" or its lock" if action == "upgrade" else "")
        raise InvalidRequest(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in {where} "
            f"({', '.join(sorted(declared)) or 'none'}); check the spelling."
        )
    return names


@contextlib.asynccontextmanager
async def script_copy(nb: NotebookFile, block: str) -> AsyncIterator[ScriptFiles]:
    """A temporary ``.py`` holding ``block`` (and ``.py.lock`` holding the notebook's lock)
    in the notebook's folder; both removed afterwards, whatever happened."""
    folder = os.path.dirname(nb.path)
    stem = os.path.splitext(os.path.basename(nb.path))[0][:60]

    def create() -> ScriptFiles:
        try:
            fd, script = tempfile.mkstemp(prefix=f".{stem}.uv-kernels-", suffix=".py", dir=folder)
        except OSError as e:
            raise Conflict(
                f"Cannot write a temporary script in {folder} ({e.strerror or e}); the "
                "notebook's folder must be writable to edit its dependencies."
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(block + "\n")
        files = ScriptFiles(script, script + ".lock", folder)
        if nb.lock is not None:
            with open(files.lock, "w", encoding="utf-8") as f:
                f.write(nb.lock)
        return files

    files = await asyncio.to_thread(create)
    try:
        yield files
    finally:
        for path in (files.script, files.lock):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


def _read_back(files: ScriptFiles) -> tuple[str, str | None]:
    with open(files.script, encoding="utf-8") as f:
        text = f.read()
    found = script_blocks(text)
    if len(found) != 1:
        raise InvalidNotebook(
            "uv left no single '# /// script' block in the script; nothing changed."
        )
    lock = None
    if os.path.exists(files.lock):
        with open(files.lock, encoding="utf-8") as f:
            lock = f.read()
    return found[0].group(0), lock


def load(path: str) -> Awaitable[NotebookFile]:
    """The notebook at ``path`` (a real path), read and checked in a thread."""
    return asyncio.to_thread(load_notebook, path)


async def edit_notebook(
    runner: UvRunner,
    path: str,
    action: str,
    packages: object = None,
    *,
    requires_python: object = None,
    on_line: LineCallback | None = None,
) -> NotebookFile:
    """Run one edit on the notebook at ``path`` (a real path inside the roots) and write the
    result; returns the notebook as written. On failure it raises and the file is unchanged."""
    nb = await load(path)
    names = check_edit(nb, action, packages)
    if nb.block is not None:
        block = nb.block[1]
    else:
        rp = check_requires_python(requires_python) if requires_python is not None else None
        block = new_block(rp)
    async with script_copy(nb, block) as files:
        if action == "add":
            await runner.add_script(files.script, names, cwd=files.folder, on_line=on_line)
        elif action == "remove":
            await runner.remove_script(files.script, names, cwd=files.folder, on_line=on_line)
        elif action == "upgrade":
            upgrade: list[str] | bool = names or True
            await runner.lock_script(
                files.script, cwd=files.folder, upgrade=upgrade, on_line=on_line
            )
        else:
            await runner.lock_script(files.script, cwd=files.folder, on_line=on_line)
        new, lock = await asyncio.to_thread(_read_back, files)
    parse_block(new)  # uv wrote it, but the notebook must stay readable by the kernel
    data = render_notebook(nb, new, lock)
    if data != nb.raw:
        await asyncio.to_thread(replace_notebook, nb, data)
    return await load(path)


def edit_message(action: str, names: list[str], nb: NotebookFile) -> str:
    """One sentence for the operation's end."""
    base = os.path.basename(nb.path)
    what = ", ".join(names)
    return {
        "add": f"Added {what} to {base}.",
        "remove": f"Removed {what} from {base}.",
        "upgrade": f"Upgraded {what or 'every package'} in {base}'s lock.",
        "lock": f"Locked {base}.",
    }.get(action, f"Edited {base}.")


async def _with_script(nb: NotebookFile, work: Callable[[ScriptFiles], Awaitable[Any]]) -> Any:
    if nb.block is None:
        raise Conflict(
            f"{os.path.basename(nb.path)} has no inline dependencies ('# /// script' block); "
            "add one first."
        )
    nb.require_usable()
    async with script_copy(nb, nb.block[1]) as files:
        return await work(files)


async def notebook_tree(
    runner: UvRunner, path: str, *, invert: bool = False, package: str | None = None
) -> dict[str, Any]:
    """The TreeReply of the notebook's dependencies (``uv tree --script``): one group,
    ``main``, or with ``invert`` the group ``required-by`` of ``package``."""
    if package is not None and not invert:
        raise InvalidRequest("package is only used with invert=true (what requires it).")
    name = None
    if invert:
        found = parse_package_names([package]) if isinstance(package, str) else []
        if not found:
            raise InvalidRequest("invert=true needs package=NAME, e.g. package=numpy.")
        name = found[0]
    nb = await load(path)

    async def work(files: ScriptFiles) -> str:
        return await runner.tree_script(files.script, cwd=files.folder, invert_package=name)

    roots = parse_tree(await _with_script(nb, work))
    if name is None:
        return {
            "groups": [{"name": MAIN_GROUP, "dependencies": roots}],
            "inverted": False,
            "package": None,
        }
    wanted = canonicalize_name(name)
    hits = [r for r in roots if canonicalize_name(r["name"]) == wanted]
    if not hits:
        raise InvalidRequest(
            f"{name} is not among the notebook's resolved dependencies, so nothing requires it."
        )
    return {
        "groups": [{"name": INVERTED_GROUP, "dependencies": hits}],
        "inverted": True,
        "package": name,
    }


async def notebook_outdated(runner: UvRunner, path: str) -> dict[str, Any]:
    """The OutdatedReply of a locked notebook, from two uv commands on a copy of its block
    and lock, run at once: ``uv tree --script --outdated`` (each package's newest release,
    ``latest``) and ``uv lock --script --upgrade --dry-run`` (what the block's constraints
    allow, ``allowed``). ``installed`` is the locked version. A package with a newer
    release that the constraints hold back has ``allowed`` null; when the tree fails (it
    alone asks for the newest releases), ``latest`` is null."""
    nb = await load(path)
    if nb.block is not None and nb.lock is None:
        raise Conflict(
            f"{os.path.basename(nb.path)} is not locked, so each build takes the newest "
            "versions its constraints allow; lock it to see what could be upgraded."
        )

    async def work(files: ScriptFiles) -> tuple[str, str | UvFailed]:
        dry_run, tree = await run_both(
            runner.lock_script(
                files.script, cwd=files.folder, upgrade=True, dry_run=True, timeout=120
            ),
            runner.tree_script(files.script, cwd=files.folder, outdated=True),
        )
        return f"{dry_run.stdout}\n{dry_run.stderr}", tree

    dry_run, tree = await _with_script(nb, work)
    allowed = allowed_upgrades(dry_run)
    latest = latest_versions(tree) if isinstance(tree, str) else {}
    versions = locked_versions(nb.lock or "")
    declared = (
        {canonicalize_name(Requirement(d).name) for d in nb.metadata.dependencies}
        if nb.metadata
        else set()
    )
    packages = [
        {
            "name": name,
            "installed": versions.get(name, ""),
            "latest": latest.get(name),
            "allowed": allowed.get(name),
            "direct": name in declared,
        }
        for name in sorted(set(allowed) | set(latest))
    ]
    return {
        "packages": packages,
        "checked_at": datetime.now(timezone.utc).isoformat(),
        "cached": False,
        "problem": None,  # a failed tree leaves ``latest`` unknown (null), nothing else
    }


def resolve_notebook(catalog: EnvironmentCatalog, base_dir: str, value: object) -> str:
    """The real path of a notebook given as POST jobs takes one (relative to ``base_dir``,
    the server's root_dir, or absolute): inside the roots (403), a ``.ipynb`` that exists
    (400). Touches the filesystem: call it in a thread."""
    text = validate_path_string(value, "path")
    real = os.path.realpath(os.path.join(base_dir, os.path.expanduser(text)))
    real = catalog.confine(real, "path")
    if not real.endswith(".ipynb"):
        raise InvalidPath(f"{text} is not a notebook (.ipynb); give the notebook's path.")
    if not os.path.isfile(real):
        raise InvalidPath(f"{text} does not exist (or is not a file); give an existing notebook.")
    return real
