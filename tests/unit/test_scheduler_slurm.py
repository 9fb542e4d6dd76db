"""SlurmScheduler: the #SBATCH header it writes, and sbatch/squeue/scancel on a real
one-node cluster (``tests/slurm_cluster.py``); plus the newer squeue JSON shapes, from
samples written after Slurm's data_parser output, which this Slurm (22.05) cannot print."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from jupyter_uv_kernels.errors import InvalidRequest, SchedulerFailed
from jupyter_uv_kernels.scheduler_slurm import (
    SlurmScheduler,
    parse_squeue,
    read_job_id,
    read_squeue,
    slurm_memory,
)
from jupyter_uv_kernels.schedulers import (
    FINAL_STATES,
    CommandResult,
    JobDirectives,
    JobStatus,
    Resources,
    SchedulerRunner,
)
from tests.slurm_cluster import SlurmCluster


def directives(**changes: object) -> JobDirectives:
    values: dict[str, object] = {
        "name": "analysis",
        "account": None,
        "queue": None,
        "resources": Resources(),
        "walltime": None,
        "directory": "/glade/work/jdoe/project",
        "log_stem": "analysis",
    }
    values.update(changes)
    return JobDirectives(**values)  # type: ignore[arg-type]


def header(**changes: object) -> list[str]:
    return SlurmScheduler(SchedulerRunner()).header(directives(**changes))


# --- the header -------------------------------------------------------------------------


def test_header_maps_every_select_value() -> None:
    lines = header(
        account="NCAR0001",
        queue="casper",
        resources=Resources(nodes=2, ncpus=4, mem="16GB", ngpus=1),
        walltime="01:30:00",
    )
    assert lines == [
        "#SBATCH --job-name=analysis",
        "#SBATCH --account=NCAR0001",
        "#SBATCH --partition=casper",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=16G",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --time=01:30:00",
        "#SBATCH --output=/glade/work/jdoe/project/analysis-%j.log",
        "#SBATCH --open-mode=append",
    ]


def test_header_leaves_out_what_was_not_asked() -> None:
    lines = header()
    assert lines == [
        "#SBATCH --job-name=analysis",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --output=/glade/work/jdoe/project/analysis-%j.log",
        "#SBATCH --open-mode=append",
    ]


@pytest.mark.parametrize(
    ("pbs", "slurm"),
    [
        ("16GB", "16G"),
        ("500mb", "500M"),
        ("2tb", "2T"),
        ("1024kb", "1024K"),
        ("1024", "1K"),  # a bare number is bytes
        ("1025", "2K"),  # rounded up, never down to less than asked
        ("10b", "1K"),
    ],
)
def test_memory_in_slurm_units(pbs: str, slurm: str) -> None:
    assert slurm_memory(pbs) == slurm
    assert f"#SBATCH --mem={slurm}" in header(resources=Resources(mem=pbs))


def test_memory_zero_is_refused() -> None:
    # Slurm would read --mem=0 as "all the node's memory".
    with pytest.raises(InvalidRequest, match="mem=0"):
        header(resources=Resources(mem="0GB"))


def test_pbs_only_select_key_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        header(resources=Resources(ncpus=4, extra=(("mpiprocs", "4"),)))
    assert "mpiprocs" in str(caught.value)
    assert "Slurm has no equivalent" in str(caught.value)


@pytest.mark.parametrize(
    "directory",
    ["/work/my project", "/work/it's", '/work/"q"', "/work/100%", "/work/a\\b", "/work/$HOME",
     "/work/`id`", "/work/tab\there"],
)  # fmt: skip
def test_unsafe_directory_leaves_output_to_slurm(directory: str) -> None:
    lines = header(directory=directory)
    assert not [line for line in lines if "--output" in line or "--open-mode" in line]
    assert "#SBATCH --job-name=analysis" in lines


def test_unsafe_log_name_leaves_output_to_slurm() -> None:
    lines = header(log_stem="my notebook")
    assert not [line for line in lines if "--output" in line]


def test_a_newline_never_reaches_a_directive() -> None:
    with pytest.raises(InvalidRequest):
        header(name="analysis\n#SBATCH --uid=0")


# --- squeue --json, every shape -----------------------------------------------------------


def _n(number: int, *, set_: bool = True) -> dict[str, object]:
    return {"set": set_, "infinite": False, "number": number}


#: Written after the v0.0.40 data_parser (Slurm 23.11+): states are lists, times and
#: return codes are {"set", "infinite", "number"}, exit_code is an object.
NEWER = {
    "jobs": [
        {"job_id": 11, "job_state": ["RUNNING"], "state_reason": "None",
         "submit_time": _n(1700000000), "start_time": _n(1700000005),
         "end_time": _n(1700003605),
         "exit_code": {"status": ["PENDING"], "return_code": _n(0, set_=False)}},
        {"job_id": 12, "job_state": ["FAILED"], "state_reason": "NonZeroExitCode",
         "submit_time": _n(1700000000), "start_time": _n(1700000005),
         "end_time": _n(1700000010),
         "exit_code": {"status": ["ERROR"], "return_code": _n(3),
                       "signal": {"id": _n(0, set_=False), "name": ""}}},
        {"job_id": 13, "job_state": ["CANCELLED"], "state_reason": "None",
         "submit_time": _n(1700000000), "start_time": _n(1700000005),
         "end_time": _n(1700000020),
         "exit_code": {"status": ["SIGNALED"], "return_code": _n(0, set_=False),
                       "signal": {"id": _n(15), "name": "TERM"}}},
        {"job_id": 14, "job_state": ["PENDING"], "state_reason": "Resources",
         "submit_time": _n(1700000000), "start_time": _n(0), "end_time": _n(0, set_=False),
         "exit_code": {"status": ["PENDING"], "return_code": _n(0, set_=False)}},
        {"job_id": 15, "job_state": ["COMPLETED", "COMPLETING"], "state_reason": "None",
         "submit_time": _n(1700000000), "start_time": _n(1700000005),
         "end_time": _n(1700000030),
         "exit_code": {"status": ["SUCCESS"], "return_code": _n(0)}},
        {"job_id": 16, "job_state": ["PENDING", "REQUEUED"], "state_reason": "BeginTime",
         "submit_time": _n(1700000000), "start_time": _n(0), "end_time": _n(0),
         "exit_code": {"status": ["PENDING"], "return_code": _n(0, set_=False)}},
    ]
}  # fmt: skip


def test_newer_squeue_json_shape() -> None:
    found = parse_squeue(json.loads(json.dumps(NEWER)), {"11", "12", "13", "14", "15", "16"})
    running = found["11"]
    assert (running.state, running.raw_state, running.exit_code) == ("running", "RUNNING", None)
    assert (running.submitted_at, running.started_at) == (1700000000.0, 1700000005.0)
    assert running.ended_at is None  # end_time of a running job is its time limit
    assert running.comment is None
    failed = found["12"]
    assert (failed.state, failed.exit_code, failed.comment) == ("failed", 3, "NonZeroExitCode")
    assert failed.ended_at == 1700000010.0
    cancelled = found["13"]
    assert (cancelled.state, cancelled.exit_code) == ("cancelled", 128 + 15)
    pending = found["14"]
    assert (pending.state, pending.comment) == ("queued", "Resources")
    assert pending.started_at is None and pending.ended_at is None
    # Still cleaning up its node: not over yet.
    assert (found["15"].state, found["15"].raw_state) == ("running", "COMPLETED,COMPLETING")
    assert found["16"].state == "queued"


def test_squeue_json_of_23_02_wraps_the_raw_wait_status() -> None:
    job = {"job_id": 7, "job_state": "FAILED", "state_reason": "NonZeroExitCode",
           "submit_time": 1700000000, "start_time": 1700000001, "end_time": 1700000002,
           "exit_code": _n(768)}  # fmt: skip
    status = parse_squeue({"jobs": [job]})["7"]
    assert (status.state, status.exit_code, status.ended_at) == ("failed", 3, 1700000002.0)


def test_only_the_wanted_jobs_are_answered() -> None:
    assert set(parse_squeue(NEWER, {"12", "99"})) == {"12"}


@pytest.mark.parametrize("answer", ["5678\n", "5678;derecho\n"])
def test_sbatch_parsable_answer(answer: str) -> None:
    # "id;cluster" is what sbatch --parsable prints in a multi-cluster setup.
    assert read_job_id(CommandResult(["sbatch", "--parsable"], 0, answer, "")) == "5678"


def test_an_sbatch_answer_without_an_id_is_an_error() -> None:
    result = CommandResult(["sbatch", "--parsable"], 0, "Submitted batch job 5678\n", "")
    with pytest.raises(SchedulerFailed, match="did not answer with a job id"):
        read_job_id(result)


# --- the real cluster -------------------------------------------------------------------


@pytest.fixture
def slurm(slurm_cluster: SlurmCluster) -> SlurmScheduler:
    return SlurmScheduler(SchedulerRunner(timeout=30, env=slurm_cluster.environ()))


def submit(slurm: SlurmScheduler, folder: Path, lines: list[str], body: str) -> str:
    script = folder / "job.sbatch"
    script.write_text("\n".join(["#!/bin/bash", *lines, body, ""]))
    return asyncio.run(slurm.submit(str(script), str(folder)))


def wait_final(
    slurm: SlurmScheduler, job_id: str, timeout: float = 30
) -> tuple[list[str], JobStatus]:
    """Poll status until the job's state is final; the states seen on the way, and the last."""

    async def poll() -> tuple[list[str], JobStatus]:
        seen: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            status = (await slurm.status([job_id])).get(job_id)
            assert status is not None, f"squeue forgot job {job_id} before it ended"
            if not seen or seen[-1] != status.state:
                seen.append(status.state)
            if status.state in FINAL_STATES:
                return seen, status
            await asyncio.sleep(0.2)
        raise AssertionError(f"job {job_id} still {seen} after {timeout} s")

    return asyncio.run(poll())


def test_the_header_is_what_sbatch_reads(
    slurm: SlurmScheduler, slurm_cluster: SlurmCluster, tmp_path: Path
) -> None:
    # Accounting is off on the test cluster, so any --account is accepted (and shown).
    lines = slurm.header(
        directives(
            name="hdr-check",
            account="NCAR0001",
            queue=slurm_cluster.partition,
            resources=Resources(nodes=1, ncpus=2, mem="100mb", ngpus=1),
            walltime="00:05:00",
            directory=str(tmp_path),
            log_stem="hdr",
        )
    )
    job_id = submit(slurm, tmp_path, lines, 'echo "ran $SLURM_JOB_ID on $SLURM_CPUS_PER_TASK"')
    _, status = wait_final(slurm, job_id)
    assert (status.state, status.exit_code) == ("finished", 0)
    assert (tmp_path / f"hdr-{job_id}.log").read_text() == f"ran {job_id} on 2\n"
    shown = slurm_cluster.run("scontrol", "show", "job", "-o", job_id).stdout
    for expected in (
        "JobName=hdr-check",
        "Account=ncar0001",  # Slurm lower-cases accounts
        f"Partition={slurm_cluster.partition}",
        "TimeLimit=00:05:00",
        "MinMemoryNode=100M",
        "gpu:1",
        f"StdOut={tmp_path}/hdr-{job_id}.log",
    ):
        assert expected in shown, f"{expected} not in {shown}"


def test_a_job_runs_to_finished(slurm: SlurmScheduler, tmp_path: Path) -> None:
    job_id = submit(slurm, tmp_path, slurm.header(directives(directory=str(tmp_path))),
                    "sleep 1; echo done > result.txt")  # fmt: skip
    assert job_id.isdigit()
    seen, status = wait_final(slurm, job_id)
    assert seen[-1] == "finished" and set(seen) <= {"queued", "running", "finished"}
    assert "running" in seen  # it ran for a second: the poll saw it
    assert (status.raw_state, status.exit_code, status.comment) == ("COMPLETED", 0, None)
    assert status.submitted_at and status.started_at and status.ended_at
    assert status.submitted_at <= status.started_at <= status.ended_at
    assert (tmp_path / "result.txt").read_text() == "done\n"  # ran in the submit directory


def test_a_job_that_exits_3_failed_with_3(slurm: SlurmScheduler, tmp_path: Path) -> None:
    job_id = submit(slurm, tmp_path, slurm.header(directives(directory=str(tmp_path))), "exit 3")
    _, status = wait_final(slurm, job_id)
    assert (status.state, status.raw_state, status.exit_code) == ("failed", "FAILED", 3)
    assert status.comment == "NonZeroExitCode"


def test_cancel_a_running_job(slurm: SlurmScheduler, tmp_path: Path) -> None:
    job_id = submit(slurm, tmp_path, slurm.header(directives(directory=str(tmp_path))),
                    "touch started; sleep 120")  # fmt: skip

    async def until_running() -> None:
        for _ in range(150):
            if (tmp_path / "started").exists():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the job never started")

    asyncio.run(until_running())
    assert asyncio.run(slurm.status([job_id]))[job_id].state == "running"
    asyncio.run(slurm.cancel(job_id))
    _, status = wait_final(slurm, job_id)
    assert (status.state, status.raw_state) == ("cancelled", "CANCELLED")
    assert status.ended_at is not None
    asyncio.run(slurm.cancel(job_id))  # again, once it has ended: nothing to stop, no error
    with pytest.raises(InvalidRequest):
        asyncio.run(slurm.cancel("--signal=KILL"))


def test_unknown_ids_are_absent(slurm: SlurmScheduler, tmp_path: Path) -> None:
    job_id = submit(slurm, tmp_path, slurm.header(directives(directory=str(tmp_path))), "true")
    both = asyncio.run(slurm.status([job_id, "987654"]))
    assert set(both) == {job_id}
    assert asyncio.run(slurm.status(["987654"])) == {}
    assert asyncio.run(slurm.status(["987654", "not-a-slurm-id"])) == {}
    assert asyncio.run(slurm.status([])) == {}
    # From 24.05.1 squeue --json applies its default state filter, which hides ended jobs.
    assert "--states=all" in slurm.runner.history[-1]


def test_squeue_knowing_none_of_the_ids_is_an_empty_answer(slurm_cluster: SlurmCluster) -> None:
    # 22.05's --json ignores --jobs; newer squeue (and 22.05 without --json) fail like this
    # when no id it was given exists. The message is this real squeue's.
    argv = ["squeue", "--jobs=987654"]
    run = slurm_cluster.run(*argv, check=False)
    assert (run.returncode, run.stderr.strip()) == (
        1,
        "slurm_load_jobs error: Invalid job id specified",
    )
    assert read_squeue(CommandResult(argv, run.returncode, run.stdout, run.stderr), {"1"}) == {}
    other = slurm_cluster.run("squeue", "--json", "--no-such-option", check=False)
    with pytest.raises(SchedulerFailed) as caught:
        read_squeue(CommandResult(argv, other.returncode, other.stdout, other.stderr), {"1"})
    assert "no-such-option" in caught.value.stderr


def test_sbatch_refusal_carries_its_stderr(slurm: SlurmScheduler, tmp_path: Path) -> None:
    with pytest.raises(SchedulerFailed) as caught:
        submit(slurm, tmp_path, ["#SBATCH --partition=no-such-queue"], "true")
    assert "invalid partition" in caught.value.stderr.lower()
    assert "invalid partition" in str(caught.value).lower()
    assert caught.value.argv[:2] == ["sbatch", "--parsable"]
    with pytest.raises(SchedulerFailed) as caught:
        submit(slurm, tmp_path, ["#SBATCH --no-such-option"], "true")
    assert "no-such-option" in caught.value.stderr
    assert caught.value.returncode not in (0, None)
