"""`jupyter uvkernel check NOTEBOOK`: does the environment here match the recorded one?"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.conftest import make_project, uv

from .conftest import run_cli


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a uv project in a subfolder and a notebook beside it."""
    repo = tmp_path / "repo"
    project = make_project(repo / "analysis", "ipykernel")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (project / "notebooks").mkdir()
    return repo


def write_notebook(path: Path, kernel: str, provenance: dict | None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    if provenance is not None:
        nb.metadata["uv_kernels"] = provenance
    nbformat.write(nb, path)
    return path


def recorded_for(project: Path) -> dict:
    """What JupyterLab records for this project (computed independently of our code)."""
    cfg = (project / ".venv/pyvenv.cfg").read_text()
    python = next(line.split("=")[1].strip() for line in cfg.splitlines() if "version_info" in line)
    return {
        "kernel": "uv-project",
        "project": "analysis",
        "lock_sha256": hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest(),
        "python": python,
        "uv": uv("--version").stdout.split()[1],
    }


def test_given_a_clone_with_the_same_lock_when_checked_then_it_matches(
    repo: Path, tmp_path: Path
) -> None:
    recorded = recorded_for(repo / "analysis")
    # a colleague's clone at another path, synced from the same lock
    clone = tmp_path / "colleague" / "repo"
    shutil.copytree(repo, clone, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    uv("sync", "--frozen", "--project", str(clone / "analysis"))
    nb = write_notebook(clone / "analysis/notebooks/fig.ipynb", "uv-project", recorded)
    done = run_cli("check", str(nb))
    assert done.returncode == 0, done.stderr
    assert "matches" in done.stdout and str(clone / "analysis") in done.stdout


def test_given_a_changed_lock_when_checked_then_it_differs_and_says_what_to_do(
    repo: Path,
) -> None:
    project = repo / "analysis"
    recorded = recorded_for(project)
    uv("add", "--project", str(project), "six")
    nb = write_notebook(project / "notebooks/fig.ipynb", "uv-project", recorded)
    done = run_cli("check", str(nb))
    assert done.returncode == 1
    assert "uv.lock differs" in done.stdout and "uv sync --frozen" in done.stdout


def test_given_no_record_when_checked_then_it_says_so_and_names_the_env(repo: Path) -> None:
    nb = write_notebook(repo / "analysis/notebooks/fig.ipynb", "uv-project", None)
    done = run_cli("check", str(nb))
    assert done.returncode == 0, done.stderr
    assert "no provenance recorded" in done.stdout and str(repo / "analysis") in done.stdout


def test_given_a_notebook_outside_any_project_when_checked_then_the_error_names_the_folder(
    tmp_path: Path,
) -> None:
    nb = write_notebook(tmp_path / "fig.ipynb", "uv-project", None)
    done = run_cli("check", str(nb))
    assert done.returncode == 2
    assert f"in {tmp_path} or any folder above it" in done.stderr


def test_given_a_missing_file_when_checked_then_one_line_and_exit_2(tmp_path: Path) -> None:
    done = run_cli("check", str(tmp_path / "nope.ipynb"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "does not exist" in done.stderr
