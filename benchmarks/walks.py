"""The floor: a bare pruned ``os.scandir`` walk, with discovery's walking rules and nothing else.

Same prune names, same hidden-directory rule, same depth limit, and it stops at a directory
holding ``pyvenv.cfg`` or ``conda-meta`` (ARCHITECTURE §2 lists "never descend into an
environment" among the prune rules). It reads no file and records nothing: whatever
discovery spends above this is the cost of detecting and inspecting environments.

The optional ``latency`` hook runs before every ``scandir``, exactly where discovery's
``set_directory_hook`` runs, so a simulated per-directory metadata latency is charged the
same way to both walks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

Hook = Callable[[str], None] | None
_STOP = frozenset({"pyvenv.cfg", "conda-meta"})


def _children(
    path: str, depth: int, max_depth: int, prune: frozenset[str], hook: Hook
) -> tuple[int, list[tuple[str, int]]]:
    if hook is not None:
        hook(path)
    try:
        with os.scandir(path) as it:
            entries = list(it)
    except OSError:
        return 0, []
    if depth >= max_depth:
        return 1, []
    out = []
    for entry in entries:
        if entry.name in _STOP:
            return 1, []
        name = entry.name
        if name in prune or (name[0] == "." and name != ".venv"):
            continue
        if entry.is_dir(follow_symlinks=False):
            out.append((entry.path, depth + 1))
    return 1, out


def floor_walk(root: str, max_depth: int, prune: frozenset[str], hook: Hook = None) -> int:
    """Walk ``root`` serially; returns the number of directories read."""
    count = 0
    stack = [(root, 0)]
    while stack:
        path, depth = stack.pop()
        n, kids = _children(path, depth, max_depth, prune, hook)
        count += n
        stack.extend(kids)
    return count


def floor_walk_parallel(
    root: str, max_depth: int, prune: frozenset[str], workers: int, hook: Hook = None
) -> int:
    """The same walk over a thread pool: subtrees of the top levels walked concurrently."""
    lock = threading.Lock()
    total = 0
    jobs = [(root, 0)]
    while jobs and len(jobs) < workers * 4 and jobs[0][1] < 2:
        expanded = []
        for path, depth in jobs:
            n, kids = _children(path, depth, max_depth, prune, hook)
            total += n
            expanded.extend(kids)
        jobs = expanded

    def walk(job: tuple[str, int]) -> None:
        nonlocal total
        count = 0
        stack = [job]
        while stack:
            path, depth = stack.pop()
            n, kids = _children(path, depth, max_depth, prune, hook)
            count += n
            stack.extend(kids)
        with lock:
            total += count

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(walk, job) for job in jobs]:
            fut.result()
    return total
