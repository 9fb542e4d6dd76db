"""Run as batch job, in a real JupyterLab and Chromium, on a real one-node Slurm cluster
(tests/slurm_cluster.py): a notebook of a uv project is submitted from the file browser's
context menu with a parameter, Slurm runs it with papermill on the environment's kernel,
the Jobs section follows it to the end, and "Open result" shows the executed notebook. A
refused submit (from the notebook's toolbar) leaves the form open with what was typed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project

from .conftest import Lab, label_in_name_violations, running_lab, screenshot

pytestmark = pytest.mark.timeout(300)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

NOTEBOOK = "analysis/notebooks/fig3.ipynb"
PROBE = "import sys\nprint('prefix=' + sys.prefix)\nprint('greeting=' + greeting)"
#: How long a job may take from submit to finished: queue, uv, papermill, the kernel.
JOB_TIMEOUT_MS = 150_000


def code_cell(source: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": list(tags)} if tags else {},
        "outputs": [],
        "source": source,
    }


def write_notebook(path: Path, kernel: str) -> Path:
    """A notebook (nbformat 4) on ``kernel`` whose first cell is tagged ``parameters``."""
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {
            "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [code_cell('greeting = "hello"', ("parameters",)), code_cell(PROBE)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1))
    return path


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
    slurm_cluster: Any,
) -> Iterator[Lab]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("jobs")))
    make_project(root / "analysis", "ipykernel")
    with pytest.MonkeyPatch.context() as mp:
        # The lab (and so sbatch, squeue, scancel) talks to the test cluster.
        for key, value in slurm_cluster.env.items():
            mp.setenv(key, value)
        args = ["--UvKernels.scheduler=slurm", "--UvKernels.job_prologue="]
        with running_lab(root, lab_home, uv_cache_dir, extra_args=args) as server:
            kernel = server.environments()["analysis"]["kernel"]
            assert kernel, server.environments()["analysis"]
            write_notebook(root / NOTEBOOK, kernel)
            yield server


def run_command(page: Any, command: str, args: dict[str, Any]) -> None:
    page.evaluate(
        "async ([command, args]) => { await window.jupyterapp.commands.execute(command, args); }",
        [command, args],
    )


def job_form(page: Any) -> Any:
    return page.locator(f'#jp-main-dock-panel .jp-UvKernels-jobform[data-path="{NOTEBOOK}"]')


def job_row(page: Any, job_id: str) -> Any:
    return page.locator(f'#jp-uv-kernels .jp-UvKernels-job[data-job-id="{job_id}"]')


# -- tests ----------------------------------------------------------------------------------


def test_a_notebook_submitted_from_the_file_browser_runs_in_its_env_and_opens_as_a_result(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    record = lab.environments()["analysis"]
    project = Path(record["path"])

    # Right-click the notebook in the file browser: Run as batch job…
    run_command(page, "filebrowser:go-to-path", {"path": NOTEBOOK})
    item = page.locator(".jp-DirListing-item", has_text="fig3.ipynb")
    item.click(button="right")
    page.get_by_role("menuitem", name="Run as batch job…").click()

    # The form: the environment whose kernel the notebook names is chosen, and the
    # server's defaults (the site's walltime) are filled in.
    form = job_form(page)
    expect(form.get_by_label("Environment")).to_have_value(record["id"])
    expect(form.get_by_text(f"Runs in {project}")).to_be_visible()
    expect(form.get_by_label("Walltime")).to_have_value("01:00:00")
    form.get_by_label("Walltime").fill("00:10:00")
    form.get_by_role("button", name="Add parameter").click()
    form.get_by_label("Parameter 1 name").fill("greeting")
    form.get_by_label("Parameter 1 value").fill("hello from the panel")

    # Preview: the Slurm script that would run, with what was typed.
    form.get_by_role("button", name="Preview script").click()
    script = form.locator(".jp-UvKernels-job-script")
    expect(script).to_contain_text("#SBATCH --time=00:10:00")
    expect(script).to_contain_text("papermill")
    expect(script).to_contain_text(record["kernel"])
    screenshot(page, artifacts, "jobs-form")
    assert not label_in_name_violations(page, "#jp-main-dock-panel .jp-UvKernels-jobform")

    # Submit: the toast names the job and shows the Jobs section.
    form.get_by_role("button", name="Submit").click()
    toast = page.locator(".Toastify__toast", has_text="submitted")
    expect(toast).to_be_visible()
    listing = lab.api("uv-kernels/jobs")
    job = listing["jobs"][0]
    assert job["kind"] == "notebook" and job["kernel"] == record["kernel"], job
    assert job["parameters"] == {"greeting": "hello from the panel"}, job
    expect(toast).to_contain_text(f"Job {job['id']} submitted")
    expect(form).to_have_count(0)
    toast.get_by_role("button", name="Show jobs").click()

    row = job_row(page, job["id"])
    expect(row).to_be_visible()
    expect(row.locator(".jp-UvKernels-job-file")).to_have_text("fig3.ipynb")
    first = row.get_attribute("data-state")
    assert first in ("queued", "running", "finished"), first
    expect(row).to_have_attribute("data-state", "finished", timeout=JOB_TIMEOUT_MS)
    expect(row.locator(".jp-UvKernels-badge")).to_have_text("finished")
    open_result = row.get_by_role("button", name=f"Open result of {job['name']}")
    expect(open_result).to_be_visible()
    screenshot(page, artifacts, "jobs-section", panel_only=True)
    assert not label_in_name_violations(page, "#jp-uv-kernels .jp-UvKernels-jobs")

    # The executed notebook: it ran in the project's environment, with the parameter.
    open_result.click()
    done = lab.api(f"uv-kernels/jobs/{job['id']}")
    assert done["output_exists"] and done["exit_code"] == 0, done["log_tail"]
    result = page.locator("#jp-main-dock-panel .jp-NotebookPanel:visible")
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    expect(tab).to_contain_text(Path(done["output_path"]).name)
    outputs = result.locator(".jp-OutputArea-output")
    expect(outputs.last).to_contain_text(f"prefix={project / '.venv'}")
    expect(outputs.last).to_contain_text("greeting=hello from the panel")
    screenshot(page, artifacts, "jobs-result")


def test_a_refused_submit_from_the_notebook_toolbar_keeps_the_form_and_what_was_typed(
    page: Any, lab: Lab
) -> None:
    before = {j["id"] for j in lab.api("uv-kernels/jobs")["jobs"]}
    run_command(page, "docmanager:open", {"path": NOTEBOOK})
    notebook = page.locator("#jp-main-dock-panel .jp-NotebookPanel:visible")
    notebook.locator('.jp-Toolbar-item [data-command="uv-kernels:run-as-job"]').click()

    form = job_form(page)
    expect(form.get_by_label("Environment")).to_have_value(lab.environments()["analysis"]["id"])
    form.get_by_label("Account").fill("UABC0001;rm")
    form.get_by_role("button", name="Add parameter").click()
    form.get_by_label("Parameter 1 name").fill("greeting")
    form.get_by_label("Parameter 1 value").fill("kept")
    form.get_by_role("button", name="Submit").click()

    # The server's message at the field it names; nothing was submitted.
    account = form.get_by_label("Account")
    expect(account).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".jp-UvKernels-inline-error")).to_contain_text("account")
    expect(account).to_have_value("UABC0001;rm")
    expect(form.get_by_label("Parameter 1 value")).to_have_value("kept")
    assert {j["id"] for j in lab.api("uv-kernels/jobs")["jobs"]} == before

    # Corrected, the same form submits.
    account.fill("")
    form.get_by_label("Walltime").fill("00:05:00")
    form.get_by_role("button", name="Submit").click()
    expect(form).to_have_count(0)
    after = lab.api("uv-kernels/jobs")["jobs"]
    assert len(after) == len(before) + 1 and after[0]["walltime"] == "00:05:00", after
