"""Figure (size): GET environments/{id}/size's walk (``disk_usage.measure``) on the GLADE
latency hook, against a bare walk of the same tree with the same hook, against ``du -s``,
and what the time budget does to a walk longer than it.

The environment is the kernel project of figure (d): ``uv init`` + ``uv add
--compile-bytecode ipykernel``, what ``jupyter uvkernel create`` makes. The hook
(``discovery.set_directory_hook``) sleeps ``latency`` seconds before every ``scandir`` of
both walks; ``lstat`` calls are not charged (the figure is a lower bound of GLADE's cost).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

from measure import LE, Row, X, median, seconds, side_by_side

from jupyter_uv_kernels import discovery
from jupyter_uv_kernels.disk_usage import DiskUsage, human_bytes, measure


def bare_walk(root: str, hook: Callable[[str], None] | None = None) -> int:
    """The floor: ``os.scandir`` every directory, ``lstat`` every entry, add up the blocks.
    No hard-link bookkeeping, no budget, no result record."""
    total = 0
    stack = [root]
    while stack:
        path = stack.pop()
        if hook is not None:
            hook(path)
        with os.scandir(path) as it:
            for entry in it:
                info = entry.stat(follow_symlinks=False)
                total += info.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


def du_bytes(path: str) -> int:
    out = subprocess.run(["du", "-s", "-B1", path], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def figure_size(venv: str, runs: int, latency: float, log: Callable[[str], None]) -> list[Row]:
    # Plain (no hook): ours against `du -s` (a C program, process start included).
    ours_t, du_t, usage, du_total = side_by_side(
        lambda: measure(venv), lambda: du_bytes(venv), runs
    )
    assert isinstance(usage, DiskUsage)
    notes = []
    if usage.bytes != du_total:
        notes.append(f"bytes differ from du: ours {usage.bytes}, du {du_total}")
    o, d = median(ours_t), median(du_t)
    tree = f"{human_bytes(usage.bytes)}, {usage.files:,} files"
    rows = [
        Row(
            "size",
            f"size walk of a kernel project's .venv ({tree}), no added latency",
            seconds(o),
            "`du -s -B1` of the same tree (a process; same bytes)"
            if usage.bytes == du_total
            else "`du -s -B1` of the same tree",
            seconds(d),
            o / d,
            f"{LE} 3{X} du",
            runs,
            met=o / d <= 3,
            notes=notes,
        )
    ]

    def hook(_path: str) -> None:
        time.sleep(latency)

    discovery.set_directory_hook(hook)
    try:
        g_ours, g_bare, _, _ = side_by_side(
            lambda: measure(venv), lambda: bare_walk(venv, hook), runs, warmup=0
        )
        walk = median(g_ours)
        # A budget of half the walk: the answer comes back at the budget, as a lower bound.
        budget = walk / 2
        started = time.perf_counter()
        partial = measure(venv, budget)
        took = time.perf_counter() - started
    finally:
        discovery.set_directory_hook(None)
    lat = f"{latency * 1000:g} ms"
    go, gb = median(g_ours), median(g_bare)
    rows.append(
        Row(
            "size/GLADE",
            f"size walk, +{lat} per directory (`set_directory_hook`)",
            seconds(go),
            f"bare scandir + lstat walk, same +{lat} per directory",
            seconds(gb),
            go / gb,
            f"{LE} 1.2{X} the bare walk",
            runs,
            met=go / gb <= 1.2,
        )
    )
    share = partial.bytes / usage.bytes if usage.bytes else 0.0
    on_time = took <= budget * 1.1 + 2 * latency
    rows.append(
        Row(
            "size/budget",
            f"same walk with size_time_budget = half of it ({seconds(budget)}): "
            f"complete={str(partial.complete).lower()}, at least "
            f"{human_bytes(partial.bytes)} ({share:.0%} of the total)",
            seconds(took),
            "the budget",
            seconds(budget),
            took / budget,
            f"{LE} 1.1{X} the budget + 2 directories, and complete=false",
            1,
            met=on_time and not partial.complete and 0 < partial.bytes < usage.bytes,
        )
    )
    log(f"  size: {tree}; GLADE walk {seconds(go)}; budget run {seconds(took)}")
    return rows
