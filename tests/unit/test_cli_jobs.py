"""``jupyter uvkernel submit``, ``jobs`` and ``cancel``: the real console script, on a real
one-node Slurm cluster (tests/slurm_cluster.py) where a job is really submitted."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.conftest import make_venv
from tests.unit.conftest import run_cli


def fake_project(path: Path) -> Path:
    """pyproject.toml + uv.lock: enough for the job to find its project (a dry run runs
    nothing)."""
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (path / "uv.lock").write_text("version = 1\n")
    return path


def test_given_a_notebook_when_submit_dry_runs_then_the_script_carries_the_options(
    tmp_path: Path,
) -> None:
    root = Path(os.path.realpath(tmp_path))
    project = fake_project(root / "p")
    nb = project / "fig 3.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), nb)
    common = ["--root", str(root), "--UvKernels.scheduler=pbs", "--UvKernels.job_prologue="]
    assert run_cli("refresh", *common).returncode == 0  # writes the uv-project kernel
    done = run_cli(
        "submit", str(nb), "--dry-run", "-A", "UABC0001", "-q", "casper",
        "-l", "select=1:ncpus=2:mem=4GB", "--walltime", "00:30:00",
        "-p", "year", "2024", "-p", "label", "North Atlantic", *common,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert script.startswith("#!/bin/bash\n#PBS -N fig_3\n#PBS -A UABC0001\n#PBS -q casper\n")
    assert "#PBS -l select=1:ncpus=2:mem=4GB\n#PBS -l walltime=00:30:00\n" in script
    assert "-k uv-project" in script and "-p year 2024 -r label 'North Atlantic'" in script
    assert "would be saved as" in done.stderr
    assert sorted(p.name for p in project.iterdir()) == ["fig 3.ipynb", "pyproject.toml", "uv.lock"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["-A", "X;id"], "account 'X;id' is not a project code"),
        (["-l", "ncpus=4"], "-l takes select="),
        (["-p", "year"], "-p takes a NAME and a VALUE"),
        (["--walltime", "2h"], "walltime '2h' must be HH:MM:SS"),
    ],
)
def test_given_a_bad_option_when_submitting_then_one_line_names_it(
    tmp_path: Path, argv: list[str], words: str
) -> None:
    root = Path(os.path.realpath(tmp_path))
    script = fake_project(root / "p") / "run.py"
    script.write_text("print(1)\n")
    done = run_cli("submit", str(script), "--dry-run", *argv, "--root", str(root))
    assert done.returncode == 2, done.stdout
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_given_slurm_when_a_script_is_submitted_then_jobs_lists_it_and_cancel_stops_it(
    tmp_path: Path, slurm_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    root = Path(os.path.realpath(tmp_path))
    venv = make_venv(root / "venv")
    script = root / "code" / "wait.py"
    script.parent.mkdir()
    script.write_text("import time\ntime.sleep(600)\n")
    common = ["--root", str(root), "--UvKernels.scheduler=slurm", "--UvKernels.job_prologue="]
    submitted = run_cli("submit", str(script), "--env", str(venv), "--json", *common)
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["scheduler"] == "slurm" and Path(job["script_path"]).is_file()
    listed = json.loads(run_cli("jobs", "--json", *common).stdout)
    assert [j["id"] for j in listed["jobs"]] == [job["id"]]
    assert listed["jobs"][0]["state"] in ("queued", "running"), listed
    cancel = run_cli("cancel", job["id"], *common)
    assert cancel.returncode == 0, cancel.stderr
    assert f"job {job['id']}" in cancel.stdout
    deadline = time.monotonic() + 60
    while True:
        state = json.loads(run_cli("jobs", "--json", *common).stdout)["jobs"][0]["state"]
        if state == "cancelled":
            break
        assert time.monotonic() < deadline, state
        time.sleep(1)
    again = run_cli("cancel", "999999", *common)
    assert again.returncode == 2 and "No job '999999' was submitted from here" in again.stderr
