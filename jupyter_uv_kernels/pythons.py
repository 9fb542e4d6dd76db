"""Which Python interpreters new environments can be made from.

uv knows the interpreters on PATH and the ones it installed. On HPC systems (and pyenv
machines) more live in version directories that are not on PATH until a ``module load``;
we add pyenv's versions so that ``--python 3.12`` finds them. A request is either a
version (``3.12``, ``3.12.1``) or a path to an interpreter.

Only interpreters that run are listed: each candidate is started once (``python -c``, in
parallel, cached with the list), because a listed path that fails later is worse than a
shorter list. pyenv shims exit 127 for every version but the selected one, and a module's
Python can be half-removed. Pythons older than :data:`MIN_PYTHON` are left out: ipykernel
no longer installs on them.
"""

from __future__ import annotations

import asyncio
import glob
import os
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from .errors import InvalidRequest, UvKernelsError
from .uvrunner import UvRunner, clean_environment

#: The oldest Python a kernel environment can have (ipykernel's floor).
MIN_PYTHON = (3, 8)
#: Seconds one candidate interpreter may take to answer.
PROBE_TIMEOUT = 10.0
_PROBE = "import sys; print('.'.join(map(str, sys.version_info[:3])))"

_VERSION_REQUEST = re.compile(r"^\d+(\.\d+){0,2}$")


@dataclass(frozen=True)
class PythonInterpreter:
    version: str
    path: str
    implementation: str = "cpython"
    source: str = "uv"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _pyenv_interpreters() -> list[PythonInterpreter]:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = []
    for path in sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3"))):
        version = os.path.basename(os.path.dirname(os.path.dirname(path)))
        try:
            Version(version)
        except InvalidVersion:
            continue  # e.g. a named virtualenv inside pyenv
        found.append(PythonInterpreter(version=version, path=path, source="pyenv"))
    return found


#: How long a list of interpreters is reused. ``uv python list`` probes every python on PATH
#: (2-4 s with pyenv shims), and interpreters come and go rarely (``module load`` does not
#: change a running server's PATH anyway).
CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, list[PythonInterpreter]]] = {}


async def available_pythons(
    runner: UvRunner, *, max_age: float = CACHE_SECONDS
) -> list[PythonInterpreter]:
    """Interpreters uv can build environments from here, newest first, one per path.

    Cached per uv binary for ``max_age`` seconds; 0 forces a fresh probe.
    """
    try:
        key = runner.uv
    except UvKernelsError:
        key = ""
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < max_age:
        return list(cached[1])
    found = await _probe_pythons(runner)
    _cache[key] = (time.monotonic(), found)
    return list(found)


async def _probe_pythons(runner: UvRunner) -> list[PythonInterpreter]:
    found: list[PythonInterpreter] = []
    try:
        for item in await runner.python_list():
            version = str(item.get("version", ""))
            path = item.get("path")
            if not version or not path or item.get("symlink"):
                continue
            # pyenv shims only answer for the active version; skip the ones that fail.
            if "/shims/" in path:
                continue
            found.append(
                PythonInterpreter(
                    version=version,
                    path=str(path),
                    implementation=str(item.get("implementation", "cpython")),
                )
            )
    except UvKernelsError:
        pass
    found += _pyenv_interpreters()
    seen: set[str] = set()
    candidates = []
    for p in found:
        real = os.path.realpath(p.path)
        if real in seen or not os.path.exists(real):
            continue
        seen.add(real)
        candidates.append(p)
    answers = await asyncio.gather(*(_runs(p.path) for p in candidates))
    unique = [
        PythonInterpreter(version, p.path, p.implementation, p.source)
        for p, version in zip(candidates, answers, strict=True)
        if version is not None and _at_least_minimum(version)
    ]

    def key(p: PythonInterpreter) -> tuple[Version, str]:
        try:
            return (Version(p.version), p.path)
        except InvalidVersion:
            return (Version("0"), p.path)

    return sorted(unique, key=key, reverse=True)


async def _runs(path: str) -> str | None:
    """The interpreter's own version if it starts and answers, else None."""
    try:
        proc = await asyncio.create_subprocess_exec(
            path,
            "-I",
            "-c",
            _PROBE,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=clean_environment(),
        )
    except OSError:
        return None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), PROBE_TIMEOUT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return None
    text = out.decode("ascii", "replace").strip()
    return text if proc.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", text) else None


def _at_least_minimum(version: str) -> bool:
    try:
        return Version(version).release[:2] >= MIN_PYTHON
    except InvalidVersion:
        return False


async def resolve_python(runner: UvRunner, request: str | None) -> str | None:
    """Turn ``--python`` into something uv can use: a path, or None for uv's default.

    A path must be an executable file. A version must match an available interpreter;
    otherwise the error lists what is available.
    """
    if not request:
        return None
    request = request.strip()
    if os.sep in request or request.startswith("~"):
        path = os.path.expanduser(request)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise InvalidRequest(
            f"--python {request}: no executable interpreter at that path; give a version such "
            "as 3.12 or the full path of a python binary."
        )
    if not _VERSION_REQUEST.match(request):
        raise InvalidRequest(
            f"python {request!r} is neither a version (like 3.12) nor a path to an interpreter."
        )
    wanted = request.split(".")
    # The cached list first; if it has no match, probe again (one may have appeared since).
    for max_age in (CACHE_SECONDS, 0.0):
        pythons = await available_pythons(runner, max_age=max_age)
        for p in pythons:
            if p.version.split(".")[: len(wanted)] == wanted:
                return p.path
    have = ", ".join(sorted({p.version for p in pythons})) or "none"
    raise InvalidRequest(
        f"No Python {request} interpreter is available here (found: {have}). Load one "
        f"(e.g. `module load python/{request}`), run `uv python install {request}`, or pass "
        "the path of an interpreter."
    )
