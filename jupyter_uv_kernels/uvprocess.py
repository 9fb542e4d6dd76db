"""Spawning uv: the process plumbing under :class:`uvrunner.UvRunner`.

- argv lists, never a shell; uv is started in a worker thread, never on the event loop:
  starting a process waits for the child to ``exec`` (tens of milliseconds on a busy
  machine), and the server's event loop would stall for as long;
- a sanitised environment: no conda leakage (uv treats CONDA_PREFIX as the active
  environment), no PYTHONHOME/PYTHONPATH/VIRTUAL_ENV;
- stdout and stderr are streamed line by line to a callback (operation logs);
- a timeout and cancellation both stop uv *and its children* (it runs in its own process
  group), and failures raise :class:`UvFailed` carrying uv's stderr, summarised in one line;
- a lower CPU priority (``UvKernels.uv_nice``) for uv and everything it starts, so that
  installs yield the CPU to the server and the user's kernels on a busy node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import UvFailed, UvNotFound, UvTimeout
from .kernel_launcher import is_leaky

log = logging.getLogger(__name__)

#: Called with ("stdout" | "stderr", line) for every line uv prints.
LineCallback = Callable[[str, str], None]


def clean_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) without conda and Python-path leakage."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not is_leaky(k)}


def find_uv(configured: str = "") -> str:
    """The uv binary: ``configured`` if set; else ``uv`` on PATH; else the ``uv`` package's."""
    if configured:
        path = os.path.expanduser(configured)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise UvNotFound(
            f"UvKernels.uv is set to {configured!r}, which is not an executable file; "
            "fix the setting or unset it to use the uv on PATH."
        )
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    try:
        import uv as uv_package  # the PyPI package ships the binary

        bundled: str = uv_package.find_uv_bin()
        return bundled
    except (ImportError, FileNotFoundError):
        pass
    raise UvNotFound(
        "uv was not found: run `module load uv` (NCAR), or `pip install uv`, "
        "or set c.UvKernels.uv to the path of the uv binary."
    )


@dataclass
class UvResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float


_DOWNLOAD = re.compile(r"python-build-standalone/releases/download/[^/]+/cpython-(\d+\.\d+\.\d+)")
_NO_INTERPRETER = re.compile(r"No interpreter found for (Python [^\s]+)")
_SHIM = re.compile(r"`([^`\s]*/shims/[^`\s]*)`")


def explain_python_lookup(stderr: str) -> str | None:
    """Why uv looked for (or tried to download) a Python, in words a user can act on."""
    fix = (
        "Pick an interpreter that is on this machine (the Python list of the new-environment "
        "form, or `--python /path/to/python`), or `module load python` first; set "
        "c.UvKernels.allow_python_downloads = True to let uv download one."
    )
    download = _DOWNLOAD.search(stderr)
    if download:
        return (
            f"uv tried to download CPython {download.group(1)} because no interpreter on this "
            f"machine matched the project's Python request (.python-version or "
            f"requires-python), and the download failed. {fix}"
        )
    shim = _SHIM.search(stderr) if "Failed to inspect Python interpreter" in stderr else None
    if shim:
        return (
            f"uv looked for the project's Python and found the pyenv shim {shim.group(1)}, "
            "which does not run here (pyenv shims answer only for the selected version). " + fix
        )
    missing = _NO_INTERPRETER.search(stderr)
    if missing:
        return (
            f"No interpreter on this machine matches {missing.group(1)}, and Python downloads "
            f"are off. {fix}"
        )
    return None


def summarize_uv_error(stderr: str) -> str:
    """uv's reason in one line: its last ``error:`` line plus the ``cause:`` lines under it.

    uv prints ``error: No solution found`` and puts the why ("Because foo was not found in
    the package registry…", "Connection refused") on indented ``cause:`` lines; a message
    without them tells the user nothing. Long cause chains keep the first and the last two.
    """
    explained = explain_python_lookup(stderr)
    if explained:
        return explained
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    start = max((i for i, ln in enumerate(lines) if ln.startswith("error:")), default=None)
    if start is None:
        return lines[-1] if lines else "no output"
    head = lines[start][len("error:") :].strip()
    causes = [ln[len("cause:") :].strip() for ln in lines[start + 1 :] if ln.startswith("cause:")]
    if len(causes) > 3:
        causes = [causes[0], "…", *causes[-2:]]
    return ": ".join([head, *causes])


async def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | None = None,
    on_line: LineCallback | None = None,
    timeout: float | None = None,
    check: bool = True,
    nice: int = 0,
) -> UvResult:
    """Run ``argv`` (uv and its arguments), ``nice`` steps below the server's CPU priority.
    Raises UvFailed on a non-zero exit when ``check``."""
    started = time.monotonic()
    proc = await _spawn(argv, env, cwd, nice)
    out: list[str] = []
    err: list[str] = []

    async def pump(stream: asyncio.StreamReader | None, name: str, sink: list[str]) -> None:
        assert stream is not None
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            sink.append(line)
            if on_line is not None:
                on_line(name, line)

    async def communicate() -> int:
        await asyncio.gather(pump(proc.stdout, "stdout", out), pump(proc.stderr, "stderr", err))
        return await proc.wait()

    try:
        returncode = await asyncio.wait_for(communicate(), timeout)
    except asyncio.TimeoutError:
        await _stop(proc)
        stderr = "\n".join(err)
        raise UvTimeout(
            f"`{_show(argv)}` was stopped after {timeout:g} s (UvKernels.operation_timeout).",
            argv=argv,
            returncode=None,
            stderr=stderr,
        ) from None
    except BaseException:  # cancelled: never leave uv running behind us
        await _stop(proc)
        raise
    result = UvResult(argv, returncode, "\n".join(out), "\n".join(err), time.monotonic() - started)
    if check and returncode != 0:
        raise UvFailed(
            f"`{_show(argv)}` failed: {summarize_uv_error(result.stderr)}",
            argv=argv,
            returncode=returncode,
            stderr=result.stderr,
        )
    return result


def _show(argv: list[str]) -> str:
    return " ".join(["uv", *argv[1:]])


class _Process:
    """A started uv: its output as asyncio streams, and its exit as an awaitable.

    What ``asyncio.create_subprocess_exec`` gives, except that the process is started in a
    worker thread (see :func:`_spawn`) and reaped by a thread of its own (as asyncio's
    default child watcher does).
    """

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.pid = popen.pid
        self.returncode: int | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None
        self._popen = popen
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()

        def reap() -> None:
            code = popen.wait()
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self._set_exited, code)

        threading.Thread(target=reap, name=f"uv-reaper-{self.pid}", daemon=True).start()

    def _set_exited(self, code: int) -> None:
        self.returncode = code
        if not self._exited.done():
            self._exited.set_result(code)

    async def connect(self) -> None:
        """Read uv's stdout and stderr on the loop, as asyncio's subprocess streams do."""
        loop = asyncio.get_running_loop()
        for name in ("stdout", "stderr"):
            pipe = getattr(self._popen, name)
            reader = asyncio.StreamReader(loop=loop)
            await loop.connect_read_pipe(
                lambda r=reader: asyncio.StreamReaderProtocol(r, loop=loop),  # type: ignore[misc]
                pipe,
            )
            setattr(self, name, reader)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


def _popen(argv: list[str], env: dict[str, str], cwd: str | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: cancel reaches children
    )


def _popen_niced(
    argv: list[str], env: dict[str, str], cwd: str | None, nice: int
) -> subprocess.Popen[bytes]:
    """``_popen`` from a thread made ``nice`` steps nicer first.

    On Linux the nice value belongs to a thread, and a new process inherits the value of
    the thread that started it. So only this short-lived thread, uv and whatever uv
    starts (its bytecode compilers) run at the lower priority; the server's own threads
    keep theirs, and no ``preexec_fn`` (unsafe in a threaded server) is needed.
    """
    with contextlib.suppress(OSError):
        os.nice(nice)
    return _popen(argv, env, cwd)


def _start(
    argv: list[str], env: dict[str, str], cwd: str | None, nice: int
) -> asyncio.Future[subprocess.Popen[bytes]]:
    """Start the process in a worker thread: a fresh one when it must be niced (a pooled
    thread would stay niced, and only root can undo that)."""
    if nice <= 0 or not sys.platform.startswith("linux"):
        return asyncio.ensure_future(asyncio.to_thread(_popen, argv, env, cwd))
    once = ThreadPoolExecutor(max_workers=1, thread_name_prefix="uv-niced-start")
    try:
        return asyncio.get_running_loop().run_in_executor(once, _popen_niced, argv, env, cwd, nice)
    finally:
        once.shutdown(wait=False)  # the thread ends after its one task


async def _spawn(argv: list[str], env: dict[str, str], cwd: str | None, nice: int = 0) -> _Process:
    """Start ``argv`` in its own process group, from a worker thread.

    ``Popen`` returns only once the child has called ``exec``; on a loaded machine that
    takes long enough to be felt on the event loop, so the loop only waits for it here.
    A cancel while the process is starting stops it once it has started.
    """
    start = _start(argv, env, cwd, nice)
    try:
        popen = await asyncio.shield(start)
    except FileNotFoundError as e:
        raise UvNotFound(f"uv could not be started ({e}); check `UvKernels.uv`.") from e
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            started = await start
            proc = _Process(started)
            await _stop(proc)
            for pipe in (started.stdout, started.stderr):
                if pipe is not None:
                    pipe.close()
        raise
    proc = _Process(popen)
    try:
        await proc.connect()
    except BaseException:
        await _stop(proc)
        raise
    return proc


async def _stop(proc: _Process) -> None:
    """SIGTERM uv's whole process group, then SIGKILL it if it lingers."""
    if proc.returncode is not None:
        return
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), grace)
            return
        except asyncio.TimeoutError:
            continue
