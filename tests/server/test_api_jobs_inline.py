"""Batch jobs for files that carry their own dependencies (issue 15, goal 4), on the real
one-node Slurm cluster: a notebook juv wrote runs on the uv-script kernel, a script with a
PEP 723 block runs with ``uv run --script``; neither is in any project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.juv_notebooks import juv_notebook
from tests.server.conftest import Api
from tests.server.test_api_jobs import wait_job

PROBE = (
    "import json, sys, six\n"
    "print(json.dumps({'prefix': sys.prefix, 'six': six.__version__, 'year': year}))"
)


@pytest.fixture
def script_envs(tmp_path: Path) -> Path:
    return tmp_path / "script-envs"


@pytest.fixture
def uv_kernels_config(
    uv_kernels_config: dict[str, Any],
    slurm_cluster: Any,
    monkeypatch: pytest.MonkeyPatch,
    script_envs: Path,
) -> dict[str, Any]:
    for key, value in slurm_cluster.env.items():
        monkeypatch.setenv(key, value)
    return {
        **uv_kernels_config,
        "scheduler": "slurm",
        "job_prologue": "",
        "script_env_dir": str(script_envs),
    }


async def test_given_a_juv_notebook_outside_any_project_when_submitted_then_it_runs_on_its_lock(
    api: Api, uv_root: Path, script_envs: Path
) -> None:
    # Given a notebook juv made and locked (six pinned), in a folder with no project
    nb_path = juv_notebook(uv_root / "loose" / "fig.ipynb", "six==1.16.0", lock=True)
    nb = nbformat.read(nb_path, as_version=4)
    params = nbformat.v4.new_code_cell("year = 2000")
    params.metadata["tags"] = ["parameters"]
    nb.cells += [params, nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, nb_path)
    await api.rescan()  # the uv-script kernelspec is written by the reconciler

    # When it is submitted with nothing but a parameter
    reply = await api.post("jobs", body={"path": str(nb_path), "parameters": {"year": 2031}})
    assert reply.status == 201, reply.body
    job = reply.body
    assert (job["kind"], job["kernel"]) == ("notebook", "uv-script")
    script = Path(job["script_path"]).read_text()
    assert "UV_KERNELS_NOTEBOOK=" in script and "--no-project" in script

    # Then it runs to the end on the notebook's own, locked dependencies
    done = await wait_job(api, job["id"], ("finished", "failed", "cancelled"))
    assert done["state"] == "finished", done["log_tail"]
    out = nbformat.read(done["output_path"], as_version=4)
    report = json.loads(out.cells[-1].outputs[0]["text"])
    assert report["six"] == "1.16.0" and report["year"] == 2031
    assert Path(report["prefix"]).resolve().parent == script_envs.resolve()


async def test_given_a_script_with_inline_dependencies_when_submitted_then_uv_run_script_runs_it(
    api: Api, uv_root: Path
) -> None:
    folder = uv_root / "scripts"
    folder.mkdir()
    script = folder / "count.py"
    script.write_text(
        "# /// script\n"
        '# dependencies = ["six==1.16.0"]\n'
        "# ///\n"
        "import sys, six\n"
        "print('six', six.__version__, 'args', sys.argv[1:])\n"
    )
    reply = await api.post("jobs", body={"path": str(script), "args": ["--n", "3"]})
    assert reply.status == 201, reply.body
    text = Path(reply.body["script_path"]).read_text()
    assert "uv run --script count.py --n 3" in text
    done = await wait_job(api, reply.body["id"], ("finished", "failed", "cancelled"))
    assert done["state"] == "finished", done["log_tail"]
    assert "six 1.16.0 args ['--n', '3']" in done["log_tail"]


async def test_given_a_notebook_with_a_bad_block_when_submitted_then_400_and_nothing_saved(
    api: Api, uv_root: Path
) -> None:
    folder = uv_root / "broken"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    block = '# /// script\n# dependencies = ["--index-url=x"]\n# ///'
    nb.cells = [nbformat.v4.new_code_cell(block)]
    path = folder / "bad.ipynb"
    nbformat.write(nb, path)
    reply = await api.post("jobs", body={"path": str(path)}, expect=400)
    assert "--index-url" in reply.body["message"]
    assert sorted(p.name for p in folder.iterdir()) == ["bad.ipynb"]
