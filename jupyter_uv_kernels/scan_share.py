"""One walk for all of a user's processes: a recent full walk, shared through a file.

On GLADE every metadata call goes to GPFS servers that every user shares, and a walk of a
work directory is tens of thousands of them. A user often runs several processes over the
same roots (a JupyterLab server on a login node and one on a compute node, with one
$HOME; ``jupyter uvkernel refresh`` in a PBS job). The first to walk writes the result to
``<Jupyter data dir>/uv_kernels/scans/<key>.json``; the others read that file (one open
and one read) instead of walking again, while it is younger than
``UvKernels.scan_share_seconds``.

The key is a digest of everything that changes what a walk finds (the roots, as given and
resolved, in order; max_depth; the pruned names; prune_hidden; include_plain_venvs; the
record format), never of the time budget or the workers. A file is reused only when it
was written for exactly that key, records a complete walk (a partial one is never written
and never reused), is not older than the limit nor from the future, and parses. Writes go
to a temporary file in the same directory and are renamed over the old one (``os.replace``
is atomic), so concurrent writers never leave a torn file: the last rename wins and every
version is whole. Sharing never breaks a scan: a file that cannot be written or read
just means walking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

from .discovery import ScanOptions, ScanResult, note_metadata, scan_roots
from .environments import Environment

log = logging.getLogger(__name__)

#: Bumped when the file's layout changes; part of the key, so old files are never read.
FORMAT = 1
#: A file written up to this many seconds "in the future" is still taken: the clocks of a
#: login node and a compute node may differ a little. Beyond that it is refused.
CLOCK_SKEW = 5.0
#: Files of walks nobody reused for this long (other roots, old formats) are removed.
KEEP_SECONDS = 7 * 24 * 3600.0
#: A shared file larger than this is not read (a walk of 10 000 environments is ~10 MB).
MAX_BYTES = 64 << 20

#: ScanResult fields that describe the reuse, not the walk: never written.
_LOCAL_FIELDS = frozenset({"environments", "shared_from", "shared_age"})


def default_directory() -> Path:
    """``<Jupyter data dir>/uv_kernels/scans``: on $HOME, so every node of a user sees it."""
    return Path(jupyter_data_dir()) / "uv_kernels" / "scans"


def scan_key(options: ScanOptions) -> str:
    """A digest of everything that changes what a walk finds (not its budget or workers).

    The record layouts (the field names of ScanResult and Environment) are part of it, so a
    file written by another version of this package is never mistaken for this one's.
    """
    identity = {
        "format": FORMAT,
        "roots": [[os.path.abspath(r), os.path.realpath(r)] for r in options.roots],
        "max_depth": options.max_depth,
        "prune": sorted(options.prune),
        "prune_hidden": options.prune_hidden,
        "include_plain_venvs": options.include_plain_venvs,
        "records": [
            sorted(f.name for f in dataclasses.fields(ScanResult)),
            sorted(f.name for f in dataclasses.fields(Environment)),
        ],
    }
    text = json.dumps(identity, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def shared_file(directory: str | os.PathLike[str], options: ScanOptions) -> str:
    return os.path.join(os.fspath(directory), f"{scan_key(options)}.json")


def _json_default(value: object) -> object:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def write_shared(
    directory: str | os.PathLike[str], options: ScanOptions, result: ScanResult
) -> str | None:
    """Write a complete walk's result for others to reuse; returns the file, or None when
    nothing was written (a partial walk, or the directory is not writable: logged)."""
    if result.partial:
        return None
    path = shared_file(directory, options)
    walk = {
        f.name: getattr(result, f.name)
        for f in dataclasses.fields(result)
        if f.name not in _LOCAL_FIELDS
    }
    walk["environments"] = [e.to_json() for e in result.environments]
    payload = {
        "format": FORMAT,
        "key": scan_key(options),
        "written": time.time(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "options": {
            "roots": list(options.roots),
            "max_depth": options.max_depth,
            "prune": sorted(options.prune),
            "prune_hidden": options.prune_hidden,
            "include_plain_venvs": options.include_plain_venvs,
        },
        "result": walk,
    }
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    note_metadata(path)
    try:
        data = json.dumps(payload, default=_json_default, separators=(",", ":")).encode()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)  # atomic: readers see the old file or the new, never half
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError) as e:
        log.info("discovery: could not share the walk in %s: %s", path, e)
        return None
    return path


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_shared(
    directory: str | os.PathLike[str],
    options: ScanOptions,
    max_age: float,
    *,
    now: float | None = None,
) -> ScanResult | None:
    """Another process's complete walk for exactly these options, not older than
    ``max_age`` seconds; None when there is none (missing, old, partial, corrupt, another
    key). The result's ``shared_from`` and ``shared_age`` say where it came from."""
    if max_age <= 0:
        return None
    path = shared_file(directory, options)
    note_metadata(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except OSError:
        return None  # no walk shared yet (or unreadable): walk
    try:
        result, written = _parse(raw, options)
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        log.info("discovery: ignoring the shared walk %s: %s", path, e)
        return None
    age = (time.time() if now is None else now) - written
    if age > max_age or age < -CLOCK_SKEW:
        return None
    result.shared_from = path
    result.shared_age = max(age, 0.0)
    return result


def _parse(raw: bytes, options: ScanOptions) -> tuple[ScanResult, float]:
    if len(raw) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES} bytes")
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("another format")
    if data.get("key") != scan_key(options):
        raise ValueError("written for other roots or pruning")
    written = _number(data.get("written"))
    walk = data.get("result")
    if written is None or not isinstance(walk, dict):
        raise ValueError("no time or no result")
    if walk.get("partial") is not False:
        raise ValueError("a partial walk")
    envs = walk.get("environments")
    if not isinstance(envs, list):
        raise ValueError("no environments")
    names = {f.name for f in dataclasses.fields(ScanResult)} - _LOCAL_FIELDS
    rest = {k: v for k, v in walk.items() if k in names}
    result = ScanResult(environments=[Environment.from_json(e) for e in envs], **rest)
    return result, written


def gone_environment(result: ScanResult) -> str | None:
    """The first environment of a shared walk that is no longer there (its venv, or the
    project without one, deleted since), or None. One ``lstat`` per environment: a cheap
    guard, so a refresh after ``rm -rf`` of an environment does not keep its kernel."""
    for env in result.environments:
        target = env.venv or env.path
        note_metadata(target)
        if not os.path.lexists(target):
            return target
    return None


def forget_shared(directory: str | os.PathLike[str], options: ScanOptions) -> None:
    """Remove the shared walk for these options (an environment was just made: the walk
    no longer lists everything, so the next scan walks)."""
    path = shared_file(directory, options)
    note_metadata(path)
    with contextlib.suppress(OSError):
        os.unlink(path)


def remove_old_files(directory: str | os.PathLike[str], now: float | None = None) -> None:
    """Remove shared walks and leftover temporary files nobody wrote for KEEP_SECONDS."""
    limit = (time.time() if now is None else now) - KEEP_SECONDS
    note_metadata(os.fspath(directory))
    try:
        with os.scandir(directory) as it:
            old = [e.path for e in it if e.is_file() and e.stat().st_mtime < limit]
        for path in old:
            os.unlink(path)
    except OSError:
        pass


def shared_scan(
    options: ScanOptions,
    *,
    max_age: float,
    fresh: bool = False,
    directory: str | os.PathLike[str] | None = None,
    walk: Callable[[ScanOptions], ScanResult] = scan_roots,
) -> ScanResult:
    """Reuse a recent walk of the same roots and pruning (unless ``fresh``), or walk and
    share the result. ``max_age`` <= 0 turns sharing off (always walk, never write)."""
    if max_age <= 0:
        return walk(options)
    where = default_directory() if directory is None else directory
    if not fresh:
        shared = read_shared(where, options, max_age)
        if shared is not None:
            gone = gone_environment(shared)
            if gone is None:
                log.info(
                    "discovery: reused the walk in %s (%.0f s old): %d environments",
                    shared.shared_from,
                    shared.shared_age or 0.0,
                    len(shared.environments),
                )
                return shared
            log.info("discovery: not reusing the shared walk: %s is gone; walking", gone)
    result = walk(options)
    if write_shared(where, options, result) is not None:
        remove_old_files(where)
    return result


def describe_reuse(result: ScanResult) -> str | None:
    """``reused the walk of 14:02:11, 42 s ago`` for a reused result, else None."""
    if result.shared_from is None or result.shared_age is None:
        return None
    when = time.strftime("%H:%M:%S", time.localtime(time.time() - result.shared_age))
    return f"reused the walk of {when}, {result.shared_age:.0f} s ago"
