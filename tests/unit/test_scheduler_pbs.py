# ruff: noqa: F811  (the stand-in fixtures are imported, and tests take them by name)
"""The PBS Pro backend (``scheduler_pbs``), tested WITHOUT a live PBS.

OpenPBS is packaged neither for Debian nor on PyPI, so no PBS server can run here. These
tests run the real :class:`SchedulerRunner` against stand-in ``qsub``/``qstat``/``qdel``
executables: small bash scripts written into a tmp dir put first on PATH, which record
their argv (NUL-separated, so an argument arrives or fails to arrive verbatim) and print a
sample from ``pbs_samples/`` with the exit code PBS documents. The samples are written from
PBS Pro's documented formats (see ``pbs_samples/README.md``); a change in what a real PBS
prints would not be caught here.
"""

from __future__ import annotations

import asyncio
import calendar
import json
from typing import Any

import pytest

from jupyter_uv_kernels.errors import InvalidRequest, SchedulerFailed
from jupyter_uv_kernels.scheduler_pbs import PbsScheduler, parse_ctime, parse_job, same_job
from jupyter_uv_kernels.schedulers import JobDirectives, Resources, SchedulerRunner
from tests.unit.pbs_standins import SAMPLES, Standins, denver, mst, pbs  # noqa: F401


def directives(**changes: Any) -> JobDirectives:
    values: dict[str, Any] = dict(name="run-analysis", account="UCSU0001", queue="main")
    values.update(resources=Resources(nodes=1, ncpus=4, mem="16GB"), walltime="01:00:00")
    values.update(directory="/glade/work/alice/analysis", log_stem="run-analysis")
    return JobDirectives(**{**values, **changes})


# --- header -----------------------------------------------------------------------------


def test_header_with_every_field() -> None:
    assert PbsScheduler(SchedulerRunner()).header(directives()) == [
        "#PBS -N run-analysis",
        "#PBS -A UCSU0001",
        "#PBS -q main",
        "#PBS -l select=1:ncpus=4:mem=16GB",
        "#PBS -l walltime=01:00:00",
        "#PBS -j oe",
        "#PBS -o /glade/work/alice/analysis/",
    ]


@pytest.mark.parametrize("account", [None, "", "UCSU0001"])
@pytest.mark.parametrize("queue", [None, "", "casper@casper-pbs"])
@pytest.mark.parametrize("walltime", [None, "12:00:00"])
def test_header_combinations(account: str | None, queue: str | None, walltime: str | None) -> None:
    lines = PbsScheduler(SchedulerRunner()).header(
        directives(account=account, queue=queue, walltime=walltime)
    )
    expected = ["#PBS -N run-analysis"]
    expected += [f"#PBS -A {account}"] if account else []
    expected += [f"#PBS -q {queue}"] if queue else []
    expected += ["#PBS -l select=1:ncpus=4:mem=16GB"]
    expected += [f"#PBS -l walltime={walltime}"] if walltime else []
    expected += ["#PBS -j oe", "#PBS -o /glade/work/alice/analysis/"]
    assert lines == expected


def test_header_select_keeps_pbs_only_keys() -> None:
    resources = Resources(nodes=2, ncpus=128, mem="235GB", ngpus=4, extra=(("mpiprocs", "4"),))
    lines = PbsScheduler(SchedulerRunner()).header(directives(resources=resources))
    assert "#PBS -l select=2:ncpus=128:mem=235GB:ngpus=4:mpiprocs=4" in lines


@pytest.mark.parametrize(
    "directory",
    [
        *("/glade/work/my analysis", "/glade/work/tab\there", "/glade/work/it's", '/w/"q"'),
        *("/glade/work/back\\slash", "/glade/work/$HOME", "/glade/work/`id`", "/w/#notes"),
        *("/glade/work/host:path", "/glade/work/new\nline", "/w/Ünïcode proj", "relative/dir"),
    ],
)
def test_header_leaves_out_an_unsafe_output_directory(directory: str) -> None:
    lines = PbsScheduler(SchedulerRunner()).header(directives(directory=directory))
    assert not [line for line in lines if line.startswith("#PBS -o")]
    assert lines[-1] == "#PBS -j oe"
    assert all("\n" not in line for line in lines)


@pytest.mark.parametrize("field", ["name", "account", "queue", "walltime"])
@pytest.mark.parametrize("bad", ["x\n#PBS -l select=999", "x\ry", "x\x00y", "x\u2028y"])
def test_header_refuses_a_line_break(field: str, bad: str) -> None:
    with pytest.raises(InvalidRequest):
        PbsScheduler(SchedulerRunner()).header(directives(**{field: bad}))


# --- status -----------------------------------------------------------------------------

RUNAT = "Job run at Tue Mar 05 at 10:20 on (dec1234:ncpus=4:mem=16777216kb)"
RAN = (10, 20, 31)
#: sample -> (job id 41170.., state, job_state, stime, obittime, Exit_status, comment)
STATUS_CASES = {
    "qstat_queued.json": ("01", "queued", "Q", None, None, None, "Not Running: Insufficient"),
    "qstat_running.json": ("02", "running", "R", RAN, None, None, RUNAT),
    "qstat_finished.json": ("03", "finished", "F", RAN, (11, 2, 47), 0, f"{RUNAT} and finished"),
    "qstat_failed.json": ("04", "failed", "F", RAN, (10, 23, 40), 1, f"{RUNAT} and failed"),
    "qstat_walltime.json": (
        *("05", "failed", "F", RAN, (10, 50, 36), -29),
        f"PBS killed the job: it reached its walltime; {RUNAT} and exceeded resource walltime",
    ),
    "qstat_walltime_signal.json": (
        *("06", "failed", "F", RAN, (10, 50, 36), 271),
        f"killed by signal 15 SIGTERM (walltime exceeded); {RUNAT} and failed",
    ),
    "qstat_deleted.json": (
        *("07", "cancelled", "F", RAN, (10, 25, 43), 271),
        f"killed by signal 15 SIGTERM (qdel); {RUNAT} and terminated by alice",
    ),
}


@pytest.mark.parametrize("sample", sorted(STATUS_CASES))
def test_status_of_each_sample(sample: str, pbs: Standins, denver: None) -> None:
    seq, state, raw, started, ended, exit_code, comment = STATUS_CASES[sample]
    job_id = f"41170{seq}.desched1"
    pbs.add("qstat", stdout=sample)
    answer = asyncio.run(pbs.pbs.status([job_id]))
    assert pbs.argv("qstat") == ["-f", "-F", "json", "-x", job_id]
    assert list(answer) == [job_id]
    status = answer[job_id]
    assert (status.state, status.raw_state, status.exit_code) == (state, raw, exit_code)
    assert status.submitted_at == mst(5, 10, 15, 2)
    assert status.started_at == (mst(5, *started) if started else None)
    assert status.ended_at == (mst(5, *ended) if ended else None)
    assert status.comment is not None and status.comment.startswith(comment)


def test_status_leaves_out_unknown_ids(pbs: Standins, denver: None) -> None:
    # PBS prints JSON for the ids it knows and one stderr line per unknown id, exit 153.
    pbs.add("qstat", stdout="qstat_mix.json", stderr="qstat_mix.stderr", code=153)
    ids = ["4117001.desched1", "4117099.desched1", "4117003.desched1"]
    answer = asyncio.run(pbs.pbs.status(ids))
    assert pbs.argv("qstat") == ["-f", "-F", "json", "-x", *ids]
    assert {k: v.state for k, v in answer.items()} == {
        "4117001.desched1": "queued",
        "4117003.desched1": "finished",
    }


@pytest.mark.parametrize("stdout", ["qstat_all_unknown.json", ""])
def test_status_when_every_id_is_unknown(stdout: str, pbs: Standins) -> None:
    pbs.add("qstat", stdout=stdout, stderr="qstat_all_unknown.stderr", code=153)
    assert asyncio.run(pbs.pbs.status(["4117098.desched1", "4117099.desched1"])) == {}


def test_status_answers_under_the_ids_it_was_given(pbs: Standins) -> None:
    pbs.add("qstat", stdout="qstat_mix.json")
    given = ["4117001", "4117003.desched1.hpc.ucar.edu", "4117003.casper-pbs"]
    answer = asyncio.run(pbs.pbs.status(given))
    assert sorted(answer) == ["4117001", "4117003.desched1.hpc.ucar.edu"]
    assert answer["4117001"].state == "queued"


def test_status_asks_nothing_for_no_ids_and_skips_malformed_ones(pbs: Standins) -> None:
    pbs.add("qstat", stdout="qstat_queued.json")
    assert asyncio.run(pbs.pbs.status([])) == {}
    assert asyncio.run(pbs.pbs.status(["-u", "x;y"])) == {}
    assert not pbs.ran("qstat")


@pytest.mark.parametrize(
    ("stdout", "stderr", "code"),
    [
        ("", "qstat_unauthorized.stderr", 159),  # PBSE_PERM 15007
        ("", "qstat_no_server.stderr", 255),  # qstat exits with the failed connection, -1
        ("qstat_mix.json", "qstat_unauthorized.stderr", 159),  # JSON is no excuse
    ],
)
def test_status_failures_carry_qstats_stderr(
    stdout: str, stderr: str, code: int, pbs: Standins
) -> None:
    pbs.add("qstat", stdout=stdout, stderr=stderr, code=code)
    with pytest.raises(SchedulerFailed) as e:
        asyncio.run(pbs.pbs.status(["4117001.desched1"]))
    expected = (SAMPLES / stderr).read_text()
    assert e.value.stderr == expected
    assert expected.strip() in e.value.message
    assert e.value.returncode == code


@pytest.mark.parametrize("text", ["Job Id: 4117001.desched1\n", "[1, 2]", ""])
def test_status_refuses_an_answer_that_is_not_qstat_json(text: str, pbs: Standins) -> None:
    pbs.add("qstat", text=text)
    with pytest.raises(SchedulerFailed, match="qstat"):
        asyncio.run(pbs.pbs.status(["4117001.desched1"]))


def test_status_tolerates_raw_control_characters_in_strings(pbs: Standins) -> None:
    text = (SAMPLES / "qstat_queued.json").read_text()
    pbs.add("qstat", text=text.replace('"/bin/bash"', '"/bin/\tbash"'))
    assert asyncio.run(pbs.pbs.status(["4117001.desched1"]))["4117001.desched1"].state == "queued"


# --- parsing details --------------------------------------------------------------------


def queued_job(**changes: Any) -> dict[str, Any]:
    document = json.loads((SAMPLES / "qstat_queued.json").read_text())
    job: dict[str, Any] = document["Jobs"]["4117001.desched1"]
    job.update(changes)
    return job


@pytest.mark.parametrize(
    ("letter", "state"),
    [(s, "queued") for s in "QHWTM"] + [(s, "running") for s in "REBSU"] + [("Z", "unknown")],
)
def test_every_job_state_letter(letter: str, state: str) -> None:
    status = parse_job(queued_job(job_state=letter))
    assert (status.state, status.raw_state) == (state, letter)
    assert status.ended_at is None and status.exit_code is None


def test_suspended_jobs_say_so() -> None:
    assert parse_job(queued_job(job_state="S", comment=None)).comment == "suspended by PBS"
    assert "suspended" in (parse_job(queued_job(job_state="U")).comment or "")


OOM = ", often for using too much memory"


@pytest.mark.parametrize(
    ("code", "state", "words"),
    [
        (0, "finished", None),
        ("0", "finished", None),
        (2, "failed", None),
        (137, "failed", f"exit status 137: a command was killed by signal 9 SIGKILL{OOM}"),
        (265, "failed", "killed by signal 9 SIGKILL (out of memory, walltime exceeded or qdel)"),
        (271, "failed", "killed by signal 15 SIGTERM (walltime exceeded or qdel)"),
        (-27, "failed", "PBS killed the job: it exceeded its memory (mem)"),
        (-1, "failed", "PBS could not run the job (exit status -1)"),
        (None, "failed", None),
    ],
)
def test_exit_status(code: Any, state: str, words: str | None) -> None:
    job = queued_job(job_state="X", comment=None, substate=93, Exit_status=code)
    if code is None:
        del job["Exit_status"]
    status = parse_job(job)
    assert status.state == state
    assert status.exit_code == (int(code) if code is not None else None)
    assert status.comment == words


def test_ended_at_falls_back_to_mtime(denver: None) -> None:
    job = queued_job(job_state="F", Exit_status=0, mtime="Wed Mar 13 09:05:00 2024")
    assert parse_job(job).ended_at == float(calendar.timegm((2024, 3, 13, 15, 5, 0, 0, 0, 0)))


@pytest.mark.parametrize("text", ["", "yesterday", "Tue Foo  5 10:15:02 2024", 1709659000, None])
def test_parse_ctime_refuses_what_is_not_ctime(text: Any) -> None:
    assert parse_ctime(text) is None


@pytest.mark.parametrize(
    ("given", "key", "same"),
    [
        ("4117001", "4117001.desched1", True),
        ("4117001.desched1", "4117001.desched1", True),
        ("4117001.desched1", "4117001.desched1.hpc.ucar.edu", True),
        ("4117001.desched1", "4117001.casper-pbs", False),
        ("4117001", "41170011.desched1", False),
        ("4117001[].desched1", "4117001[].desched1", True),
        ("4117001[]", "4117001.desched1", False),
    ],
)
def test_same_job(given: str, key: str, same: bool) -> None:
    assert same_job(given, key) is same
