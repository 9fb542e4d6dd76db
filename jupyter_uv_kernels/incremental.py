"""Incremental checks: keep the list of environments current without walking the roots.

A full walk reads every directory under the roots (83,085 on the benchmark tree). A check
re-reads almost nothing. It works from a :class:`Watch`, built right after a full walk,
which records:

- the roots, their first-level directories, the parent of every environment, and the
  "candidate" folders (a pyproject.toml that is not an environment yet: ``uv init x``
  before ``uv add``), each with its mtime and the names of its subdirectories;
- each environment's marker files: pyvenv.cfg, pyproject.toml and uv.lock, and the
  site-packages directory (whose mtime changes when a package is installed or removed).

:func:`check` then costs one ``stat`` per watched directory and 2 (venv) or 4 (project)
per environment. Only a directory whose mtime changed is read again (one ``scandir``), and
only its NEW subdirectories are walked, with the walk's own rules (depth limit, pruned
names, symlinks, never into an environment). An environment whose markers changed is
inspected again; one whose markers are gone is removed. So an environment made, moved,
renamed or deleted in a watched folder is seen by the next check, and a root that
disappears takes its environments with it.

Limitation (by design): a change deep inside a tree the last full walk saw, below any
watched folder (``old/a/b/new-project`` when neither ``old/a`` nor ``old/a/b`` is watched),
is found by the next full walk, not by a check. New trees with at most ``SMALL_TREE``
directories are watched whole until then, so ``mkdir -p a/b && uv init a/b/x`` made in a
terminal is still found.

Every ``stat`` goes through :func:`discovery.note_metadata` and every ``scandir`` through
the walk's directory hook, so benchmarks count both. Pure: no event loop, no tornado.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .discovery import ScanOptions, _Job, _Walk, note_metadata
from .environments import Environment

#: An mtime this many seconds (or less) older than the walk or check that recorded it is
#: not trusted: the directory may have changed in the same clock tick, or while the walk
#: ran. It is stored as UNKNOWN, which the next check re-reads.
RECENT = 2.0
#: A recorded mtime that never matches, so the next check reads the directory again.
UNKNOWN = -1
#: A new subtree a check walks is watched whole when it has at most this many directories.
SMALL_TREE = 32

#: mtime_ns (None when the path is missing, UNKNOWN when not trusted) of each marker.
Markers = tuple[int | None, ...]


@dataclass
class WatchedDir:
    root: str
    depth: int
    mtime: int | None
    #: Names of the subdirectories the walk would descend into, as last read.
    children: frozenset[str]


@dataclass
class Watch:
    roots: list[str]
    dirs: dict[str, WatchedDir] = field(default_factory=dict)
    #: env path -> its markers, in the order of :func:`marker_paths`.
    markers: dict[str, Markers] = field(default_factory=dict)

    @property
    def cost(self) -> int:
        """The ``stat`` calls of one check that finds nothing changed."""
        return len(self.dirs) + sum(len(m) for m in self.markers.values())


@dataclass
class CheckResult:
    environments: list[Environment]
    watch: Watch
    added: list[Environment] = field(default_factory=list)
    changed: list[Environment] = field(default_factory=list)
    removed: list[Environment] = field(default_factory=list)
    stats: int = 0
    directories: int = 0
    partial: bool = False
    duration: float = 0.0

    @property
    def anything_changed(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def marker_paths(env: Environment) -> list[str]:
    """The files whose mtimes say an environment changed (a few ``stat`` calls)."""
    venv = env.venv or (os.path.join(env.path, ".venv") if env.kind == "project" else env.path)
    paths = [os.path.join(venv, "pyvenv.cfg")]
    if env.kind == "project":
        paths += [os.path.join(env.path, "pyproject.toml"), os.path.join(env.path, "uv.lock")]
    if env.python:
        major_minor = ".".join(env.python.split(".")[:2])
        paths.append(os.path.join(venv, "lib", f"python{major_minor}", "site-packages"))
    return paths


class _Stats:
    """Counted ``stat`` calls, each announced to the directory hook."""

    def __init__(self, since: float) -> None:
        self.calls = 0
        #: mtimes at or after this (ns) are recorded as UNKNOWN
        self.untrusted_from = int((since - RECENT) * 1e9)

    def mtime(self, path: str) -> int | None:
        self.calls += 1
        note_metadata(path)
        try:
            return os.stat(path).st_mtime_ns
        except OSError:
            return None

    def settled(self, mtime: int | None) -> int | None:
        if mtime is not None and mtime >= self.untrusted_from:
            return UNKNOWN
        return mtime

    def markers(self, env: Environment) -> Markers:
        return tuple(self.mtime(p) for p in marker_paths(env))


def _root_of(path: str, roots: Iterable[str]) -> str | None:
    inside = [r for r in roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)]
    return max(inside, key=len, default=None)


def _depth(path: str, root: str) -> int:
    rel = os.path.relpath(path, root)
    return 0 if rel == "." else rel.count(os.sep) + 1


def _serial(options: ScanOptions, *, budget: bool = True) -> ScanOptions:
    return dataclasses.replace(
        options,
        roots=[os.path.abspath(r) for r in options.roots],
        workers=1,
        time_budget=options.time_budget if budget else 0.0,
    )


def _read_children(walk: _Walk, path: str) -> frozenset[str] | None:
    """Names of the subdirectories the walk would enter (no classification)."""
    entries = walk.read_dir(path)
    if entries is None:
        return None
    return frozenset(os.path.basename(c) for c, _ in walk.children(entries, path, frozenset()))


def build_watch(
    options: ScanOptions,
    envs: Iterable[Environment],
    candidates: Iterable[str],
    walk_started: float,
) -> Watch:
    """The watch for the environments a full walk (started at ``walk_started``, wall
    clock) found. Costs a ``stat`` and a ``scandir`` per watched directory and the marker
    ``stat`` calls, once per full walk. Anything that changed since the walk started is
    recorded as UNKNOWN, so the first check reads it again."""
    opts = _serial(options, budget=False)
    roots = list(opts.roots)
    stats = _Stats(walk_started)
    walk = _Walk(opts)
    envs = list(envs)
    watch = Watch(roots=roots)
    env_paths = {e.path for e in envs}

    wanted: dict[str, tuple[str, int]] = {r: (r, 0) for r in roots}
    for path in [os.path.dirname(e.path) for e in envs] + list(candidates):
        root = _root_of(path, roots)
        if root is not None and _depth(path, root) < opts.max_depth:
            wanted.setdefault(path, (root, _depth(path, root)))

    def add(path: str, root: str, depth: int) -> frozenset[str] | None:
        mtime = stats.mtime(path)  # before the read: a later change moves it
        children = _read_children(walk, path) if mtime is not None else None
        recorded = stats.settled(mtime)
        if children is not None and recorded == UNKNOWN and depth > 0:
            # Changed while the walk ran: keep only what is covered anyway, so the first
            # check walks the other subdirectories (a few may be walked twice). A root's
            # subdirectories are all watched, so a root keeps them all.
            children = frozenset(
                c
                for c in children
                if os.path.join(path, c) in env_paths or os.path.join(path, c) in wanted
            )
        watch.dirs[path] = WatchedDir(root, depth, recorded, children or frozenset())
        return children

    for root in roots:
        children = add(root, root, 0)
        if opts.max_depth > 0:
            for name in sorted(children or ()):
                wanted.setdefault(os.path.join(root, name), (root, 1))
    for path, (root, depth) in wanted.items():
        if path not in watch.dirs:
            add(path, root, depth)
    for env in envs:
        watch.markers[env.path] = tuple(stats.settled(m) for m in stats.markers(env))
    return watch


def _same(fresh: Environment, old: Environment) -> bool:
    return dataclasses.replace(fresh, kernel=old.kernel) == old


def check(
    options: ScanOptions,
    envs: Iterable[Environment],
    watch: Watch,
    *,
    adjust: Callable[[Environment], None] | None = None,
) -> CheckResult:
    """Bring ``envs`` up to date from ``watch`` with a few ``stat`` calls (module docstring).

    ``adjust`` is applied to every record inspected again (the index's known drift), so a
    record that did not change compares equal. Returns the new list, what changed, and the
    watch for the next check.
    """
    started = time.monotonic()
    stats = _Stats(time.time())
    opts = _serial(options)
    reader = _Reader(opts, stats, list(watch.roots))  # re-reads and new subtrees
    walk = reader.walk
    inspector = _Walk(_serial(options, budget=False))  # environments whose markers changed
    envs = list(envs)
    new = Watch(roots=list(watch.roots))

    # 1. The roots and the watched directories: one stat each.
    now: dict[str, int | None] = {}
    gone_roots = set()
    for root in watch.roots:
        now[root] = stats.mtime(root)
        if now[root] is None:
            gone_roots.add(root)
    for path, state in watch.dirs.items():
        if state.root in gone_roots:
            continue
        if path not in now:
            now[path] = stats.mtime(path)

    # 2. The known environments: their markers.
    kept: dict[str, Environment] = {}
    result = CheckResult(environments=[], watch=new)
    for env in envs:
        root = _root_of(env.path, watch.roots) or env.root or ""
        if root in gone_roots:
            result.removed.append(env)
            continue
        markers = stats.markers(env)
        old = watch.markers.get(env.path)
        if markers == old and UNKNOWN not in markers:
            kept[env.id] = env
            new.markers[env.path] = markers
            continue
        fresh = None
        if any(m is not None for m in markers):
            depth = opts.max_depth  # classify only: never list its subdirectories
            inspector.visit((env.path, env.path, depth, root, ()))
            fresh = inspector.found.pop(env.id, None)
        if fresh is None:
            result.removed.append(env)
            continue
        if adjust is not None:
            adjust(fresh)
        new.markers[fresh.path] = tuple(stats.settled(m) for m in markers)
        if _same(fresh, env):
            kept[env.id] = env
        else:
            kept[env.id] = fresh
            result.changed.append(fresh)

    # 3. Directories whose mtime changed: read again, walk only the new subdirectories.
    for path, state in watch.dirs.items():
        mtime = now.get(path)
        if state.root in gone_roots or mtime is None:
            if path in watch.roots:  # a root stays watched: when it comes back, all is new
                new.dirs[path] = WatchedDir(path, 0, None, frozenset())
            continue
        if mtime == state.mtime or walk.partial:
            new.dirs[path] = state
            continue
        children = reader.reread(path, state, new)
        if walk.partial or children is None:
            new.dirs[path] = state  # try again next time
        else:
            new.dirs[path] = WatchedDir(state.root, state.depth, stats.settled(mtime), children)

    # 4. What the walks found: new environments, and known ones read again with their dir.
    for env in walk.found.values():
        if adjust is not None:
            adjust(env)
        old_env = kept.get(env.id)
        if old_env is None and env.id in {e.id for e in result.removed}:
            result.removed = [e for e in result.removed if e.id != env.id]
            old_env = next(e for e in envs if e.id == env.id)
        if old_env is None:
            result.added.append(env)
        elif _same(env, old_env):
            continue
        elif env not in result.changed:
            result.changed = [e for e in result.changed if e.id != env.id] + [env]
        kept[env.id] = env
        if env.path not in new.markers or old_env is None:
            new.markers[env.path] = tuple(stats.settled(m) for m in stats.markers(env))
        reader.watch_new(new, os.path.dirname(env.path))
    for path in walk.candidates + inspector.candidates:
        reader.watch_new(new, path)

    result.environments = sorted(kept.values(), key=lambda e: (e.root or "", e.path))
    result.stats = stats.calls
    result.directories = walk.directories + inspector.directories
    result.partial = walk.partial
    result.duration = time.monotonic() - started
    return result


class _Reader:
    """The reads of one check: the walk (with its rules and time budget) plus the
    subdirectory names of every directory it read, for watching new ones."""

    def __init__(self, options: ScanOptions, stats: _Stats, roots: list[str]) -> None:
        self.walk = _Walk(options)
        self.stats = stats
        self.roots = roots
        self.max_depth = options.max_depth
        self.seen: dict[str, frozenset[str]] = {}

    def visit(self, job: _Job) -> list[_Job] | None:
        """The walk's visit; None when the directory could not be read."""
        before = self.walk.directories
        jobs = self.walk.visit(job)
        if self.walk.directories == before:
            return None
        self.seen[job[0]] = frozenset(os.path.basename(j[0]) for j in jobs)
        return jobs

    def reread(self, path: str, state: WatchedDir, new: Watch) -> frozenset[str] | None:
        """Read a changed directory again (it may have become an environment) and walk the
        subdirectories it did not have; returns its subdirectory names (None if unread)."""
        found_before = set(self.walk.found)
        jobs = self.visit((path, os.path.realpath(path), state.depth, state.root, ()))
        if jobs is None:
            return None
        for job in jobs:
            if os.path.basename(job[0]) in state.children:
                continue
            visited: list[_Job] = []
            stack = [job]
            while stack:
                current = stack.pop()
                visited.append(current)
                stack.extend(self.visit(current) or [])
            env_paths = {e.path for k, e in self.walk.found.items() if k not in found_before}
            plain = [j for j in visited if j[0] not in env_paths and j[0] in self.seen]
            # A new first-level folder is always watched; a small new tree is watched whole.
            keep = plain if len(visited) <= SMALL_TREE else [j for j in plain if j[2] <= 1]
            for child, _real, depth, root, _members in keep:
                new.dirs.setdefault(child, WatchedDir(root, depth, UNKNOWN, self.seen[child]))
        return self.seen[path]

    def watch_new(self, new: Watch, path: str) -> None:
        """Watch the parent of a new environment, or a new candidate folder."""
        if path in new.dirs:
            return
        root = _root_of(path, self.roots)
        if root is None or _depth(path, root) >= self.max_depth:
            return
        children = self.seen.get(path)
        if children is None:
            if self.stats.mtime(path) is None:
                return
            children = _read_children(self.walk, path)
            if children is None:
                return
        new.dirs[path] = WatchedDir(root, _depth(path, root), UNKNOWN, children)
