"""Batch jobs through the REST API, on a real one-node Slurm cluster (tests/slurm_cluster.py).

The server writes the job script, sbatch submits it, slurmd runs it: the notebook runs with
papermill on the project's kernel, in real uv. PBS cannot run here; its script is proven
with bash in tests/unit/test_job_script.py and its command answers in
tests/unit/test_scheduler_pbs.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.service import EnvironmentService
from tests.conftest import make_project
from tests.server.conftest import Api

PROBE = "import json, sys\nprint(json.dumps({'prefix': sys.prefix, 'year': year}))"


@pytest.fixture
def uv_kernels_config(
    uv_kernels_config: dict[str, Any], slurm_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    return {**uv_kernels_config, "scheduler": "slurm", "job_prologue": ""}


def write_notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("year = 2000")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


async def wait_job(api: Api, job_id: str, states: tuple[str, ...], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        job = (await api.get("jobs", job_id, expect=200)).body
        if job["state"] in states:
            return job
        assert time.monotonic() < deadline, f"job still {job['state']}: {job['log_tail'][-2000:]}"
        await asyncio.sleep(0.5)


async def test_given_a_notebook_when_submitted_to_slurm_then_it_runs_in_its_env_with_the_parameter(
    api: Api, uv_root: Path
) -> None:
    # Given a project with a notebook, and the kernels written by the server's scan
    project = make_project(uv_root / "analysis", "ipykernel")
    nb = write_notebook(project / "notebooks" / "fig3.ipynb", PROBE)
    await api.rescan()
    # When the notebook is submitted with a parameter
    reply = await api.post(
        "jobs", body={"path": str(nb), "parameters": {"year": 2024}, "walltime": "00:10:00"}
    )
    assert reply.status == 201, reply.body
    job = reply.body
    assert reply.headers["Location"].endswith(f"/uv-kernels/jobs/{job['id']}")
    assert (job["scheduler"], job["kind"], job["kernel"]) == ("slurm", "notebook", "uv-project")
    # ... the script is saved beside it, readable and ready to resubmit by hand
    script = Path(job["script_path"])
    assert script.parent == nb.parent and "#SBATCH --time=00:10:00" in script.read_text()
    # Then Slurm runs it to the end
    done = await wait_job(api, job["id"], ("finished", "failed", "cancelled"))
    assert done["state"] == "finished", done["log_tail"]
    assert done["exit_code"] == 0 and done["output_exists"]
    # ... and the executed notebook beside it ran in the project's env, with the parameter
    out = nbformat.read(done["output_path"], as_version=4)
    report = json.loads(out.cells[-1].outputs[0]["text"])
    assert Path(report["prefix"]).resolve() == (project / ".venv").resolve()
    assert report["year"] == 2024
    assert Path(done["output_path"]).name == f"fig3-{job['id']}.ipynb"
    assert Path(done["log_path"]).name == f"fig3-{job['id']}.log"
    # ... and the list shows it finished, with how long it waited in the queue
    listing = (await api.get("jobs", expect=200)).body
    assert listing["scheduler"] == "slurm" and listing["problem"] is None
    (listed,) = [j for j in listing["jobs"] if j["id"] == job["id"]]
    assert listed["state"] == "finished" and listed["queued_seconds"] is not None


async def test_given_a_sleeping_job_when_cancelled_then_slurm_stops_it_and_it_shows_cancelled(
    api: Api, uv_root: Path, slurm_cluster: Any
) -> None:
    project = make_project(uv_root / "sleeper")
    script = project / "sleep.py"
    script.write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    job = (await api.post("jobs", body={"path": str(script)}, expect=201)).body
    running = await wait_job(api, job["id"], ("running",), timeout=120)
    assert running["started_at"] is not None
    cancelled = (await api.delete("jobs", job["id"], expect=200)).body
    assert cancelled["cancelled"] is True
    final = await wait_job(api, job["id"], ("cancelled",), timeout=60)
    assert final["state"] == "cancelled"
    # Slurm no longer runs it
    squeue = subprocess.run(
        ["squeue", "--noheader", "--states=PENDING,RUNNING", "--jobs", job["id"]],
        env={**os.environ, **slurm_cluster.env},
        capture_output=True,
        text=True,
    )
    assert squeue.stdout.strip() == ""


async def test_given_jobs_when_the_server_restarts_then_they_are_still_listed(
    api: Api, uv_root: Path, uv_kernels_config: dict[str, Any]
) -> None:
    project = make_project(uv_root / "restart")
    script = project / "quick.py"
    script.write_text("print('done')\n")
    job = (await api.post("jobs", body={"path": str(script)}, expect=201)).body
    # A new server (the state file is all it shares with the old one) lists the job
    again = EnvironmentService(UvKernels(**uv_kernels_config), fallback_root=str(uv_root))
    listing = await again.jobs_list()
    assert [j["id"] for j in listing["jobs"]] == [job["id"]]
    finished = await wait_job(api, job["id"], ("finished",), timeout=120)
    assert "done" in finished["log_tail"]


async def test_given_a_dry_run_then_the_script_is_answered_and_nothing_is_saved_or_submitted(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "dry")
    script = project / "run.py"
    script.write_text("print(1)\n")
    before = sorted(p.name for p in project.iterdir())
    reply = await api.post(
        "jobs",
        params={"dry_run": "true"},
        body={"path": str(script), "account": "UABC0001", "args": ["--fast"]},
        expect=200,
    )
    preview = reply.body
    assert preview["scheduler"] == "slurm"
    assert "#SBATCH --account=UABC0001" in preview["script"]
    assert f"--project {project} --frozen python run.py --fast" in preview["script"]
    assert preview["settings"]["sources"]["account"] == "request"
    assert sorted(p.name for p in project.iterdir()) == before
    assert (await api.get("jobs", expect=200)).body["jobs"] == []


async def test_given_bad_requests_then_each_gets_a_clear_4xx(
    api: Api, uv_root: Path, tmp_path: Path
) -> None:
    project = make_project(uv_root / "bad")
    script = project / "run.py"
    script.write_text("print(1)\n")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"path": str(script), "account": "A\n#SBATCH --mem=1T"}, 400, "account"),
        ({"path": str(script), "select": "1:ncpus=4;id"}, 400, "select"),
        ({"path": str(script), "parameters": {"x": 1}}, 400, "parameters are for notebooks"),
        ({"path": str(project / "pyproject.toml")}, 400, "neither a notebook"),
        ({"path": str(tmp_path / "x.py")}, 403, "outside the configured roots"),
        ({"path": str(script), "env": "0123456789abcdef"}, 404, ""),
        ({"path": str(script), "select": "1:mpiprocs=4"}, 400, "mpiprocs"),
        ({"path": str(script), "walltime": 3600}, 400, "walltime"),
        ({"path": str(script), "unknown": 1}, 400, "unknown"),
    ]
    for body, status, words in cases:
        reply = await api.post("jobs", body=body)
        assert reply.status == status, (body, reply.body)
        assert words.lower() in reply.body["message"].lower(), (body, reply.body)
    assert (await api.get("jobs", "999999", expect=404)).body["message"]
    assert (await api.delete("jobs", "999999", expect=404)).body["message"]
    assert not list(project.glob("*.sbatch"))
