"""Stand-in ``qsub``/``qstat``/``qdel`` for the PBS backend's tests.

No PBS server can run here (OpenPBS is packaged neither for Debian nor on PyPI). A stand-in
is a small bash script in a tmp dir put first on PATH: it records its argv (NUL-separated,
so an argument arrives or fails to arrive verbatim) and its working directory, and prints a
sample from ``pbs_samples/`` with the exit code PBS documents.
"""

from __future__ import annotations

import calendar
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_uv_kernels.scheduler_pbs import PbsScheduler
from jupyter_uv_kernels.schedulers import SchedulerRunner

SAMPLES = Path(__file__).parent / "pbs_samples"
#: NCAR's time zone, as a POSIX rule (no zoneinfo files needed). March 5 is MST, UTC-7.
DENVER = "MST7MDT,M3.2.0,M11.1.0"


def mst(day: int, hour: int, minute: int, second: int) -> float:
    """Epoch seconds of March ``day`` 2024 at that wall-clock time in Denver (UTC-7)."""
    return float(calendar.timegm((2024, 3, day, hour + 7, minute, second, 0, 0, 0)))


@pytest.fixture
def denver(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", DENVER)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class Standins:
    """Stand-in PBS commands in a tmp bin dir first on PATH."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        self.runner = SchedulerRunner(timeout=20)
        self.pbs = PbsScheduler(self.runner)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")

    def add(
        self, command: str, *, stdout: str = "", stderr: str = "", code: int = 0, text: str = ""
    ) -> None:
        """``stdout``/``stderr`` name sample files; ``text`` is printed verbatim instead."""
        q = shlex.quote
        lines = [
            "#!/bin/bash",
            f"printf '%s\\0' \"$@\" > {q(str(self.bin / (command + '.argv')))}",
            f"pwd > {q(str(self.bin / (command + '.cwd')))}",
        ]
        if stdout:
            lines.append(f"cat {q(str(SAMPLES / stdout))}")
        if text:
            lines.append(f"printf '%s' {q(text)}")
        if stderr:
            lines.append(f"cat {q(str(SAMPLES / stderr))} >&2")
        lines.append(f"exit {code}")
        script = self.bin / command
        script.write_text("\n".join(lines) + "\n")
        script.chmod(0o755)

    def argv(self, command: str) -> list[str]:
        return (self.bin / (command + ".argv")).read_text().split("\0")[:-1]

    def ran(self, command: str) -> bool:
        return (self.bin / (command + ".argv")).exists()


@pytest.fixture
def pbs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standins:
    return Standins(tmp_path, monkeypatch)
