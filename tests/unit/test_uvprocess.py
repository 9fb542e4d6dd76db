"""The process plumbing under the uv runner: output, failures, timeouts, cancels, and that
a process is never started on the event loop's thread (starting one waits for its exec)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels import uvprocess
from jupyter_uv_kernels.errors import UvFailed, UvNotFound, UvTimeout
from jupyter_uv_kernels.uvprocess import run_process

SH = "/bin/sh"


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_given_a_process_when_it_prints_then_every_line_reaches_the_callback_in_order() -> None:
    lines: list[tuple[str, str]] = []
    script = "echo one; echo two >&2; echo three"
    result = asyncio.run(
        run_process(
            [SH, "-c", script], env=dict(os.environ), on_line=lambda s, ln: lines.append((s, ln))
        )
    )
    assert result.returncode == 0
    assert result.stdout == "one\nthree"
    assert result.stderr == "two"
    assert [ln for s, ln in lines if s == "stdout"] == ["one", "three"]
    assert ("stderr", "two") in lines


def test_given_a_failing_process_when_checked_then_uv_failed_carries_its_error_line() -> None:
    script = "echo 'error: No solution found' >&2; echo '  cause: nothing matches' >&2; exit 2"
    with pytest.raises(UvFailed) as info:
        asyncio.run(run_process([SH, "-c", script], env=dict(os.environ)))
    assert info.value.returncode == 2
    assert "No solution found: nothing matches" in info.value.message


def test_given_a_missing_binary_when_run_then_uv_not_found(tmp_path: Path) -> None:
    with pytest.raises(UvNotFound):
        asyncio.run(run_process([str(tmp_path / "no-uv")], env=dict(os.environ)))


@pytest.mark.parametrize("how", ["timeout", "cancel"])
def test_given_a_process_with_a_child_when_stopped_then_its_whole_group_is_gone(
    tmp_path: Path, how: str
) -> None:
    pid_file = tmp_path / "child.pid"
    # The child sleeps in the background, as uv's build or compile workers would.
    script = f"sleep 60 & echo $! > {pid_file}; wait"

    async def main() -> None:
        env = dict(os.environ)
        if how == "timeout":
            with pytest.raises(UvTimeout):
                await run_process([SH, "-c", script], env=env, timeout=1.0)
            return
        task = asyncio.ensure_future(run_process([SH, "-c", script], env=env))
        while not pid_file.exists() or not pid_file.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert _gone(int(pid_file.read_text()))


def test_given_a_run_when_the_process_starts_then_not_on_the_event_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(uvprocess.subprocess, "Popen", recording_popen)
    asyncio.run(run_process([SH, "-c", "exit 0"], env=dict(os.environ)))
    assert threads and threading.main_thread().name not in threads


def test_given_a_cancel_while_the_process_starts_when_it_has_started_then_it_is_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    started = threading.Event()
    real_popen = subprocess.Popen

    def slow_popen(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(0.3)  # the cancel arrives while the process is being started
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(uvprocess.subprocess, "Popen", slow_popen)

    async def main() -> None:
        task = asyncio.ensure_future(
            run_process([SH, "-c", f"echo $$ > {pid_file}; exec sleep 60"], env=dict(os.environ))
        )
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_file.exists() and pid_file.read_text().strip():
        assert _gone(int(pid_file.read_text()))


def _nice_of(pid: int | str) -> int:
    """The nice value of a process (field 19 of /proc/PID/stat), or of ``self``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_given_uv_nice_when_a_process_and_its_child_run_then_both_are_niced_and_the_server_is_not(
    tmp_path: Path,
) -> None:
    # What a user would check with `ps -o ni`: uv and the compilers it starts run nicer
    # than the server, and the server's own threads keep their priority.
    before = os.getpriority(os.PRIO_PROCESS, 0)
    script = f"cut -d' ' -f19 /proc/$$/stat; {SH} -c 'cut -d\" \" -f19 /proc/$$/stat'"
    result = asyncio.run(run_process([SH, "-c", script], env=dict(os.environ), nice=7))
    parent, child = (int(x) for x in result.stdout.split())
    assert parent == min(19, before + 7)
    assert child == parent
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
    assert _nice_of("self") == before
    # Without nice the process runs at the server's priority.
    plain = asyncio.run(
        run_process([SH, "-c", "cut -d' ' -f19 /proc/$$/stat"], env=dict(os.environ))
    )
    assert int(plain.stdout) == before


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_given_the_runner_when_uv_runs_then_it_runs_at_uv_nice_below_the_server(
    tmp_path: Path,
) -> None:
    from jupyter_uv_kernels.config import UvKernels
    from jupyter_uv_kernels.uvrunner import UvRunner

    # A stand-in for the uv binary that reports its own nice value.
    fake_uv = tmp_path / "uv"
    fake_uv.write_text("#!/bin/sh\ncut -d' ' -f19 /proc/$$/stat\n")
    fake_uv.chmod(0o755)
    before = os.getpriority(os.PRIO_PROCESS, 0)
    for config in (UvKernels(uv=str(fake_uv)), UvKernels(uv=str(fake_uv), uv_nice=0)):
        result = asyncio.run(UvRunner(config).run([]))
        assert int(result.stdout) == min(19, before + config.uv_nice)
    with pytest.raises(Exception, match="uv_nice"):
        UvKernels(uv_nice=25)
