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
