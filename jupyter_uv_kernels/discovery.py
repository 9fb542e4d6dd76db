"""Discovery: a bounded, pruned ``os.scandir`` walk of the roots (ARCHITECTURE §2).

The walk reads each directory once, decides from the entry names alone whether the
directory is a uv project, a venv, a conda env or none of those, and never descends into
an environment. Directory-ness comes from ``DirEntry`` (the d_type the kernel already
returned), so a plain data directory costs one ``scandir`` and nothing else: the same as
the bare walk we benchmark against. Only the few directories that are environments pay
for reading pyvenv.cfg and a handful of ``stat`` calls.

This module is a pure function over the filesystem. It never blocks an event loop
because the server calls it through ``asyncio.to_thread``; and because that thread shares
the GIL with the loop, after a directory read that came from the kernel's cache (under
0.2 ms) the walk gives the GIL and the CPU up (``os.sched_yield``, one syscall next to the
three of a ``scandir``). Without that, a walk of a local disk retakes the GIL before the
loop's thread, woken and waiting for a CPU, gets to it: on a loaded machine the server's
event loop stalled for tens of milliseconds at a time for as long as the walk ran
(benchmarks/README.md, figure c). A slow read (GLADE: every metadata call is a round trip)
already leaves the GIL to the loop while it waits, and a yield would only cost the walk a
turn on a busy CPU.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .environments import Environment, inspect_environment, read_pyvenv_cfg
from .filesystems import workers_for

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

log = logging.getLogger(__name__)

#: Test and benchmark hook: called with each directory path before it is read (and with
#: the shared walk's file before it is read or written, see :mod:`scan_share`, and
#: each path an incremental check stats, see ``note_metadata``), so a benchmark can
#: add per-call latency that imitates a parallel filesystem and count metadata
#: operations. ``None`` in production. Set it with ``set_directory_hook``.
_directory_hook: Callable[[str], None] | None = None


def set_directory_hook(hook: Callable[[str], None] | None) -> None:
    """Install (or clear) a callable run before every ``scandir`` of the walk.

    Used by ``benchmarks/`` to add an artificial metadata latency (GLADE-like) and by tests
    to slow a scan down; it is documented so that results can be reproduced.
    """
    global _directory_hook
    _directory_hook = hook


def note_metadata(path: str) -> None:
    """Run the directory hook for a metadata call that is not a walk's ``scandir`` (the
    ``stat`` calls of :mod:`incremental`, the shared walk's file), so benchmarks count and
    slow down those too."""
    if _directory_hook is not None:
        _directory_hook(path)


@dataclass
class ScanOptions:
    roots: list[str]
    max_depth: int = 6
    prune: frozenset[str] = frozenset()
    prune_hidden: bool = True
    include_plain_venvs: bool = True
    time_budget: float = 0.0
    workers: int = 1
    #: Why ``workers`` is what it is (logged when the walk starts); empty when set directly.
    workers_reason: str = ""

    @classmethod
    def from_config(cls, config: Any, roots: Iterable[os.PathLike[str] | str]) -> ScanOptions:
        paths = [os.fspath(r) for r in roots]
        # scan_workers=0: one statfs per root (cached for the process) picks the count.
        workers, why = workers_for(paths, config.scan_workers)
        count = f"{workers} worker{'' if workers == 1 else 's'}"
        if config.scan_workers <= 0:
            why = f"{why}: {count} (scan_workers=0 chooses by filesystem)"
        else:
            why = f"{count} ({why})"
        return cls(
            roots=paths,
            max_depth=config.max_depth,
            prune=frozenset(config.prune),
            prune_hidden=config.prune_hidden,
            include_plain_venvs=config.include_plain_venvs,
            time_budget=config.scan_time_budget,
            workers=workers,
            workers_reason=why,
        )


@dataclass
class ScanResult:
    environments: list[Environment]
    partial: bool = False
    duration: float = 0.0
    directories: int = 0
    skipped: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    #: Set when this is another process's walk, reused (:mod:`scan_share`): its file, and
    #: how many seconds ago it was written. ``duration`` and ``directories`` are that walk's.
    shared_from: str | None = None
    shared_age: float | None = None
    #: Directories with a pyproject.toml that are not environments yet (``uv init`` before
    #: ``uv add``): where :mod:`incremental` checks look for new projects.
    candidates: list[str] = field(default_factory=list)
    #: Wall-clock time (``time.time()``) the walk started: what changed after it may be
    #: missing from the result, so :mod:`incremental` re-reads it at the first check.
    started_at: float = 0.0


#: (path, realpath, depth below its root, root, workspace-member globs in force)
_Job = tuple[str, str, int, str, tuple[str, ...]]

#: Lets a thread waiting for the GIL (the server's event loop) run; absent on some systems.
_yield = getattr(os, "sched_yield", None) or (lambda: None)
#: A directory read faster than this came from the cache and never let go of the GIL for long.
_FAST_READ = 0.0002


class _Walk:
    """State shared by the threads of one scan."""

    def __init__(self, options: ScanOptions) -> None:
        self.options = options
        self.deadline = time.monotonic() + options.time_budget if options.time_budget > 0 else None
        self.lock = threading.Lock()
        self.found: dict[str, Environment] = {}
        self.candidates: list[str] = []
        self.skipped: list[str] = []
        self.directories = 0
        # One thread needs no lock around the directory count (a lock per directory is a
        # measurable share of a walk that does nothing else per plain directory).
        self.parallel = options.workers > 1
        self.partial = False
        # Realpaths of symlinked directories already walked: never walk one twice.
        self.followed_links: set[str] = set()

    def out_of_time(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.partial = True
            return True
        return False

    def add(self, env: Environment) -> None:
        with self.lock:
            self.found.setdefault(env.id, env)

    def skip(self, path: str, error: OSError) -> None:
        log.info("uv-kernels discovery skipped %s: %s", path, error.strerror or error)
        with self.lock:
            self.skipped.append(path)

    def read_dir(self, path: str) -> list[os.DirEntry[str]] | None:
        if self.out_of_time():
            return None
        started = time.monotonic()
        if _directory_hook is not None:
            _directory_hook(path)
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as e:
            self.skip(path, e)
            return None
        if self.parallel:
            with self.lock:
                self.directories += 1
        else:
            self.directories += 1
        if time.monotonic() - started < _FAST_READ:
            _yield()  # see the module docstring: the event loop may be waiting for the GIL
        return entries

    def children(
        self, entries: list[os.DirEntry[str]], real: str, exclude: frozenset[str]
    ) -> list[tuple[str, str]]:
        """Subdirectories worth descending into, as (path, realpath) pairs."""
        prune = self.options.prune
        prune_hidden = self.options.prune_hidden
        # Concatenation instead of os.path.join for every subdirectory: same result, and
        # this loop runs for every entry of every directory of the tree.
        prefix = real if real.endswith(os.sep) else real + os.sep
        out: list[tuple[str, str]] = []
        for entry in entries:
            name = entry.name
            if name in prune or name in exclude:
                continue
            if prune_hidden and name.startswith(".") and name != ".venv":
                continue
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    # A link back to an ancestor is a loop; a target seen before is walked once.
                    if real == target or real.startswith(target + os.sep):
                        continue
                    if not os.path.isdir(target):
                        continue
                    with self.lock:
                        if target in self.followed_links:
                            continue
                        self.followed_links.add(target)
                    out.append((entry.path, target))
                elif entry.is_dir(follow_symlinks=False):
                    out.append((entry.path, prefix + name))
            except OSError as e:
                self.skip(entry.path, e)
        return out

    def visit(self, job: _Job) -> list[_Job]:
        """Read one directory, record what it is, and return the subdirectories to visit.

        ``job.members`` are the member globs of an enclosing uv workspace: a member is part of
        its workspace's project and is not listed on its own.
        """
        path, real, depth, root, members = job
        entries = self.read_dir(path)
        if entries is None:
            return []
        names = {e.name for e in entries}
        exclude: frozenset[str] = frozenset()

        if "conda-meta" in names:
            return []  # a conda env (even one with a pyvenv.cfg): not ours, nothing inside
        if "pyvenv.cfg" in names:
            self._found_venv(path, root)
            return []  # never descend into an environment

        if "pyproject.toml" in names and not _is_member(path, members):
            project = self._project(path, names, root)
            if project is None:
                with self.lock:
                    self.candidates.append(path)
            else:
                self.add(project)
                exclude = frozenset({".venv"})
                if project.workspace_members:
                    members = (
                        *members,
                        *(os.path.join(path, m) for m in project.workspace_members),
                    )

        if depth >= self.options.max_depth:
            return []
        return [
            (child, child_real, depth + 1, root, members)
            for child, child_real in self.children(entries, real, exclude)
        ]

    def walk(self, jobs: list[_Job]) -> None:
        """Depth-first walk with an explicit stack: deep trees never hit the recursion limit."""
        stack = list(jobs)
        while stack:
            stack.extend(self.visit(stack.pop()))

    def _found_venv(self, path: str, root: str) -> None:
        cfg = read_pyvenv_cfg(path)
        if cfg is not None and "uv" not in cfg and not self.options.include_plain_venvs:
            return
        self.add(inspect_environment(path, "venv", root=root, cfg=cfg))

    def _project(self, path: str, names: set[str], root: str) -> Environment | None:
        venv_cfg = None
        if "uv.lock" not in names:
            if ".venv" not in names:
                return None
            venv_cfg = read_pyvenv_cfg(os.path.join(path, ".venv"))
            if venv_cfg is None or "uv" not in venv_cfg:
                return None  # a pyproject.toml that uv does not manage
        return inspect_environment(
            path,
            "project",
            root=root,
            cfg=venv_cfg,
            workspace_members=_workspace_members(path),
        )


def _is_member(path: str, member_globs: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path, g) for g in member_globs)


def _workspace_members(project: str) -> list[str]:
    """Member globs of a uv workspace root, or [] for an ordinary project."""
    pyproject = os.path.join(project, "pyproject.toml")
    try:
        with open(pyproject, "rb") as f:
            raw = f.read(1 << 20)
    except OSError:
        return []
    if b"tool.uv.workspace" not in raw and b"[tool.uv]" not in raw:
        return []
    try:
        data = tomllib.loads(raw.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError as e:
        log.info("uv-kernels: cannot parse %s: %s", pyproject, e)
        return []
    members = data.get("tool", {}).get("uv", {}).get("workspace", {}).get("members", [])
    return [m for m in members if isinstance(m, str)]


def scan_roots(options: ScanOptions) -> ScanResult:
    """Find every uv project and venv under the roots.

    Bounded by ``max_depth``, pruned names and ``time_budget`` (the result is then marked
    ``partial``). Unreadable directories are logged and skipped; symlinked directories are
    followed once and never back into an ancestor. With ``workers`` > 1 the subtrees of each
    root are walked in a thread pool, which hides per-call latency on parallel filesystems.
    """
    started = time.monotonic()
    if options.workers_reason:
        log.info("discovery: %s", options.workers_reason)
    started_at = time.time()
    walk = _Walk(options)
    roots = [os.path.abspath(r) for r in options.roots]
    jobs: list[_Job] = [(r, os.path.realpath(r), 0, r, ()) for r in roots]
    if options.workers > 1:
        # Expand the top levels here until there is enough independent work for the pool.
        while jobs and len(jobs) < options.workers * 4 and jobs[0][2] < 2:
            jobs = [child for job in jobs for child in walk.visit(job)]
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            for fut in [pool.submit(walk.walk, [job]) for job in jobs]:
                fut.result()
    else:
        walk.walk(jobs)
    envs = sorted(walk.found.values(), key=lambda e: (e.root or "", e.path))
    return ScanResult(
        environments=envs,
        partial=walk.partial,
        duration=time.monotonic() - started,
        directories=walk.directories,
        skipped=sorted(walk.skipped),
        roots=roots,
        candidates=sorted(walk.candidates),
        started_at=started_at,
    )
