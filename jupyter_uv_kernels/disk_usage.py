"""Disk use of one environment: a bounded ``os.scandir`` walk, measured like ``du -s``.

What is counted is what the filesystem allocated (``st_blocks * 512`` of ``lstat``), for
every entry including the directories themselves, so the total is what ``du -s -B1``
prints for the same tree, and what a quota sees. Hard-linked files (uv links packages
from its cache) are counted once per walk, as ``du`` does; symlinks are counted as links
and never followed (a venv's ``bin/python`` is a link to the base interpreter). The path
measured is resolved first, so a project whose ``.venv`` is a link is measured where the
environment really lives.

GLADE metadata calls are slow, so the walk stops when ``budget`` seconds are spent and
says so: ``complete`` is then false and ``bytes`` a lower bound ("at least N"). An
unreadable directory also makes the answer a lower bound. The walk calls discovery's
directory hook (:func:`discovery.set_directory_hook`) before each ``scandir``, so a
benchmark charges the same simulated latency to it as to discovery.

It is a pure function over the filesystem: the server runs it through
``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import asdict, dataclass
from typing import Any

from . import discovery


@dataclass
class DiskUsage:
    """A SizeReply: what was measured and how much it holds."""

    path: str
    bytes: int
    files: int
    complete: bool
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def measure(path: str, budget: float = 0.0) -> DiskUsage:
    """Walk ``path`` for at most ``budget`` seconds (0: no budget) and add up its disk use.

    ``files`` counts everything that is not a directory (files, symlinks), each hard link
    once. A missing ``path`` measures 0 bytes, complete.
    """
    started = time.monotonic()
    deadline = started + budget if budget > 0 else None
    real = os.path.realpath(path)
    try:
        top = os.lstat(real)
    except OSError:
        return DiskUsage(real, 0, 0, True, 0.0)
    if not stat.S_ISDIR(top.st_mode):
        return DiskUsage(real, _allocated(top), 1, True, time.monotonic() - started)
    total = _allocated(top)
    files = 0
    complete = True
    seen: set[tuple[int, int]] = set()
    stack = [real]
    first = True
    while stack:
        if not first and deadline is not None and time.monotonic() > deadline:
            complete = False
            break
        first = False
        directory = stack.pop()
        hook = discovery._directory_hook  # read each time: a benchmark may set it
        if hook is not None:
            hook(directory)
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            complete = False  # unreadable: what it holds is not counted
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                complete = False
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            else:
                if info.st_nlink > 1:
                    key = (info.st_dev, info.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                files += 1
            total += _allocated(info)
    return DiskUsage(real, total, files, complete, round(time.monotonic() - started, 4))


def _allocated(info: os.stat_result) -> int:
    return int(info.st_blocks) * 512


def human_bytes(value: int) -> str:
    """``123.4 MiB``: powers of 1024, as ``du -h`` shows them."""
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover - unreachable
