# ruff: noqa: F811  (the stand-in fixtures are imported, and tests take them by name)
"""The PBS backend's commands through the real :class:`SchedulerRunner`: qsub, qdel and the
choice of backend, against stand-ins (tests/unit/pbs_standins.py), since no live PBS can
run here. They check the exact argv, the working directory, and that nothing went through
a shell."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jupyter_uv_kernels.errors import InvalidRequest, SchedulerFailed
from jupyter_uv_kernels.scheduler_pbs import PbsScheduler
from jupyter_uv_kernels.scheduler_slurm import SlurmScheduler
from jupyter_uv_kernels.schedulers import SchedulerRunner, find_scheduler
from tests.unit.pbs_standins import SAMPLES, Standins, pbs  # noqa: F401

# --- submit and cancel ------------------------------------------------------------------


def test_submit_runs_qsub_on_the_script_without_a_shell(pbs: Standins, tmp_path: Path) -> None:
    pbs.add("qsub", stdout="qsub_ok.stdout")
    workdir = tmp_path / "analysis"
    workdir.mkdir()
    script = "run; touch PWNED $(touch PWNED2) `touch PWNED3`.pbs"
    assert asyncio.run(pbs.pbs.submit(script, str(workdir))) == "4117001.desched1"
    assert pbs.argv("qsub") == [script]
    assert (pbs.bin / "qsub.cwd").read_text().strip() == str(workdir)
    assert not list(tmp_path.rglob("PWNED*"))
    assert pbs.runner.history == [["qsub", script]]


def test_submit_never_passes_the_script_as_an_option(pbs: Standins, tmp_path: Path) -> None:
    pbs.add("qsub", stdout="qsub_ok.stdout")
    asyncio.run(pbs.pbs.submit("--help.pbs", str(tmp_path)))
    assert pbs.argv("qsub") == ["./--help.pbs"]


@pytest.mark.parametrize(
    ("stderr", "code", "words"),
    [("qsub_unknown_queue.stderr", 170, "Unknown queue"), ("qsub_unauthorized.stderr", 159, "")],
)
def test_submit_failures(stderr: str, code: int, words: str, pbs: Standins, tmp_path: Path) -> None:
    pbs.add("qsub", stderr=stderr, code=code)
    with pytest.raises(SchedulerFailed) as e:
        asyncio.run(pbs.pbs.submit("job.pbs", str(tmp_path)))
    assert e.value.stderr == (SAMPLES / stderr).read_text()
    assert e.value.returncode == code
    assert (SAMPLES / stderr).read_text().strip() in e.value.message
    assert words in e.value.message


@pytest.mark.parametrize(
    "text", ["", "\n", "Job submitted\n", "4117001.desched1\n4117002.desched1\n", "-x\n"]
)
def test_submit_refuses_a_strange_answer(text: str, pbs: Standins, tmp_path: Path) -> None:
    pbs.add("qsub", text=text)
    with pytest.raises(SchedulerFailed, match="did not answer with a job id"):
        asyncio.run(pbs.pbs.submit("job.pbs", str(tmp_path)))


@pytest.mark.parametrize("job_id", ["4117001.desched1", "4117001[].casper-pbs", "4117001"])
def test_submit_accepts_every_pbs_id_shape(job_id: str, pbs: Standins, tmp_path: Path) -> None:
    pbs.add("qsub", text=f"\n{job_id}\n")
    assert asyncio.run(pbs.pbs.submit("job.pbs", str(tmp_path))) == job_id


def test_cancel_runs_qdel(pbs: Standins) -> None:
    pbs.add("qdel")
    asyncio.run(pbs.pbs.cancel("4117002.desched1"))
    assert pbs.argv("qdel") == ["4117002.desched1"]


@pytest.mark.parametrize(
    ("stderr", "code"), [("qdel_finished.stderr", 35), ("qdel_exiting.stderr", 168)]
)
def test_cancel_of_an_ended_job_is_quiet(stderr: str, code: int, pbs: Standins) -> None:
    pbs.add("qdel", stderr=stderr, code=code)
    asyncio.run(pbs.pbs.cancel("4117003.desched1"))
    assert pbs.argv("qdel") == ["4117003.desched1"]


@pytest.mark.parametrize(
    ("stderr", "code", "words"),
    [
        ("qdel_unknown.stderr", 153, "PBS does not know job 4117099.desched1 (`qdel` said: "),
        ("qdel_no_server.stderr", 186, "`qdel 4117099.desched1` failed: "),  # 15034 % 256
    ],
)
def test_cancel_failures(stderr: str, code: int, words: str, pbs: Standins) -> None:
    pbs.add("qdel", stderr=stderr, code=code)
    with pytest.raises(SchedulerFailed) as e:
        asyncio.run(pbs.pbs.cancel("4117099.desched1"))
    assert e.value.stderr == (SAMPLES / stderr).read_text()
    assert e.value.message.startswith(words + (SAMPLES / stderr).read_text().strip())


@pytest.mark.parametrize("job_id", ["-W force", "1; rm -rf ~", "$(id)", ""])
def test_cancel_refuses_what_is_not_a_job_id(job_id: str, pbs: Standins) -> None:
    pbs.add("qdel")
    with pytest.raises(InvalidRequest):
        asyncio.run(pbs.pbs.cancel(job_id))
    assert not pbs.ran("qdel")


# --- find_scheduler ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (["qsub", "qstat", "qdel"], PbsScheduler),
        (["sbatch", "squeue"], SlurmScheduler),
        (["qsub", "sbatch"], PbsScheduler),
        ([], type(None)),
    ],
)
def test_find_scheduler_auto(
    commands: list[str], expected: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in commands:
        (tmp_path / command).write_text("#!/bin/sh\nexit 0\n")
        (tmp_path / command).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert type(find_scheduler("auto", SchedulerRunner())) is expected


def test_find_scheduler_auto_ignores_a_qsub_that_is_not_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "qsub").write_text("#!/bin/sh\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_scheduler("auto", SchedulerRunner()) is None
    assert isinstance(find_scheduler("pbs", SchedulerRunner()), PbsScheduler)
