"""The uv-project kernel and provenance, from the panel, in a real JupyterLab and Chromium.

One JupyterLab serves the module. Its root directory is a git repository holding two uv
projects and a venv. A second environment root lies outside the server's root, so the file
browser cannot reach it. Each test works on environments of its own. Every check is on what
a user sees or what lands on disk: buttons, the kernel name, cell output, the saved .ipynb.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_concurrently, make_project, make_venv, uv

from .conftest import (
    Lab,
    env_item,
    open_lab,
    open_view,
    running_lab,
    screenshot,
    show_panel,
)

pytestmark = pytest.mark.timeout(240)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

PROJECT_KERNEL = "uv-project"
PROJECT_KERNEL_DISPLAY_NAME = "Python (this folder's uv project)"
SETTINGS_URL = "lab/api/settings/jupyter-uv-kernels:plugin"
#: A kernel start plus the first reply, with room for a slow machine.
KERNEL_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
) -> Iterator[Lab]:
    base = Path(os.path.realpath(tmp_path_factory.mktemp("project-kernel")))
    work = base / "work"  # the server's root directory, and a git repository
    elsewhere = base / "elsewhere"  # another root, outside the server's root directory
    build_concurrently(
        lambda: make_project(work / "studies" / "analysis", "ipykernel"),
        lambda: make_project(work / "studies" / "report", "ipykernel"),
        lambda: make_project(work / "studies" / "quiet", "ipykernel"),
        lambda: make_venv(work / "envs" / "tools", "ipykernel"),
        lambda: make_project(elsewhere / "outside", "ipykernel"),
    )
    subprocess.run(["git", "init", "-q", str(work)], check=True)

    extra = [f"--UvKernels.roots={elsewhere}"]
    with running_lab(work, lab_home, uv_cache_dir, extra_args=extra) as server:
        # Save an Untitled notebook without the "Rename file" dialog of the first save.
        server.api(
            "lab/api/settings/@jupyterlab/docmanager-extension:plugin",
            "PUT",
            {"raw": json.dumps({"renameUntitledFileOnSave": False})},
        )
        yield server


# -- helpers --------------------------------------------------------------------------------


def notebook(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel:visible")


def current_path(page: Any) -> str:
    """The path (relative to the server root) of the document in the main area."""
    return str(page.evaluate("() => window.jupyterapp.shell.currentWidget.context.path"))


def run_in_first_cell(page: Any, code: str) -> Any:
    """Put ``code`` in the first cell, run it, and return its output area.

    The source is set through the cell's model rather than typed: a keystroke that lands
    while JupyterLab moves the focus (it does as the notebook opens) is read as a command-mode
    shortcut. The edit still marks the notebook changed, as typing does. Running waits for
    the session: a cell run before the notebook has a kernel is silently not executed.
    """
    page.wait_for_function(
        "() => !!window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel",
        timeout=KERNEL_TIMEOUT_MS,
    )
    page.evaluate(
        """async code => {
            const panel = window.jupyterapp.shell.currentWidget;
            const notebook = panel.content;
            notebook.activeCellIndex = 0;
            notebook.activeCell.model.sharedModel.setSource(code);
            await window.jupyterapp.commands.execute('notebook:run-cell');
        }""",
        code,
    )
    return notebook(page).locator(".jp-Cell").first.locator(".jp-OutputArea-output")


def save(page: Any) -> None:
    page.evaluate("async () => { await window.jupyterapp.commands.execute('docmanager:save'); }")


def read_when(path: Path, ready: Callable[[dict[str, Any]], bool], timeout: float = 30) -> Any:
    """The notebook at ``path`` once ``ready(notebook)`` holds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = json.loads(path.read_text("utf-8"))
            if ready(last):
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} never got there; last read: {json.dumps(last)[:2000]}")


def sources(nb: dict[str, Any]) -> str:
    return "".join("".join(c.get("source", "")) for c in nb.get("cells", []))


def is_provenance_reply(kernel: str) -> Callable[[Any], bool]:
    return lambda r: "/uv-kernels/provenance?" in r.url and f"kernel={kernel}" in r.url


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def python_version(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def new_notebook_in_project(page: Any, name: str) -> None:
    """Click "New notebook in project" for ``name``; returns once the provenance of the new
    notebook has been answered (the panel fetches it when the kernel starts)."""
    item = open_view(page, name)
    button = item.get_by_role("button", name=f"New notebook in project {name}")
    with page.expect_response(is_provenance_reply(PROJECT_KERNEL), timeout=60_000) as reply:
        button.click()
    assert reply.value.status == 200, reply.value.text()
    expect(notebook(page).locator(".jp-KernelName")).to_have_text(PROJECT_KERNEL_DISPLAY_NAME)


# -- tests ----------------------------------------------------------------------------------


def test_given_a_project_under_the_server_root_when_new_notebook_in_project_then_it_runs_the_project_venv(  # noqa: E501
    page: Any, lab: Lab, artifacts: Path
) -> None:
    specs = lab.api("api/kernelspecs")["kernelspecs"]
    assert PROJECT_KERNEL in specs  # the server wrote it
    project = lab.root / "studies" / "analysis"

    item = open_view(page, "analysis")
    actions = item.get_by_role("group", name="Actions for analysis")
    in_project = actions.get_by_role("button", name="New notebook in project analysis")
    on_kernel = actions.get_by_role("button", name="New notebook on this kernel (analysis)")
    expect(in_project).to_have_text("New notebook in project")
    expect(on_kernel).to_have_text("New notebook on this kernel")
    expect(in_project).to_have_attribute("title", re.compile("any clone of the project"))
    # The one that travels with the project is the primary action.
    expect(in_project).to_have_class(re.compile("jp-mod-accept"))
    expect(on_kernel).not_to_have_class(re.compile("jp-mod-accept"))
    # The accessible name of each "New notebook" button begins with its visible label.
    mismatched = actions.evaluate(
        """el => [...el.querySelectorAll('button')]
              .filter(b => b.textContent.trim().startsWith('New notebook'))
              .filter(b => !b.getAttribute('aria-label').startsWith(b.textContent.trim()))
              .map(b => [b.textContent, b.getAttribute('aria-label')])"""
    )
    assert mismatched == []
    screenshot(page, artifacts, "project-kernel-buttons", panel_only=True)

    in_project.click()
    expect(notebook(page).locator(".jp-KernelName")).to_have_text(
        PROJECT_KERNEL_DISPLAY_NAME, timeout=30_000
    )
    path = current_path(page)
    assert path.startswith("studies/analysis/") and path.endswith(".ipynb"), path

    output = run_in_first_cell(page, "import sys; print(sys.prefix)")
    expect(output).to_have_text(str(project / ".venv"), timeout=KERNEL_TIMEOUT_MS)
    screenshot(page, artifacts, "project-kernel-notebook")


def test_given_a_notebook_on_the_project_kernel_when_saved_then_it_records_the_lock_and_versions(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    project = lab.root / "studies" / "report"
    new_notebook_in_project(page, "report")
    ipynb = lab.root / current_path(page)
    assert ipynb.parent == project

    output = run_in_first_cell(page, "print('first')")
    expect(output).to_have_text("first", timeout=KERNEL_TIMEOUT_MS)
    save(page)
    saved = read_when(ipynb, lambda nb: "uv_kernels" in nb["metadata"] and "first" in sources(nb))
    assert saved["metadata"]["uv_kernels"] == {
        "kernel": PROJECT_KERNEL,
        "project": "studies/report",  # relative to the git repository, never absolute
        "lock_sha256": sha256(project / "uv.lock"),
        "python": python_version(project / ".venv"),
        "uv": uv("--version").stdout.split()[1],
    }

    # Saving again with nothing changed writes the same bytes: no timestamps, no churn.
    before = ipynb.read_bytes()
    save(page)
    time.sleep(1)
    assert ipynb.read_bytes() == before

    # The lock changes (a `uv add` in a terminal); the next save records the new one.
    old_sha = saved["metadata"]["uv_kernels"]["lock_sha256"]
    uv("add", "--no-sync", "--project", str(project), "--", "six")
    new_sha = sha256(project / "uv.lock")
    assert new_sha != old_sha
    # The first edit after a save asks again, so the save that follows records the new lock.
    answers: list[Any] = []
    page.on(
        "response", lambda r: answers.append(r) if is_provenance_reply(PROJECT_KERNEL)(r) else None
    )
    run_in_first_cell(page, "print('second')")
    deadline = time.monotonic() + 30
    while not any(new_sha in a.text() for a in answers):
        assert time.monotonic() < deadline, "the panel did not ask for the provenance again"
        page.wait_for_timeout(100)
    save(page)
    saved = read_when(ipynb, lambda nb: "second" in sources(nb))
    assert saved["metadata"]["uv_kernels"]["lock_sha256"] == new_sha


def test_given_recording_is_turned_off_when_a_notebook_is_saved_then_no_provenance_is_written(
    browser: Any, lab: Lab, artifacts: Path
) -> None:
    lab.api(SETTINGS_URL, "PUT", {"raw": json.dumps({"recordProvenance": False})})
    page = open_lab(browser, lab, artifacts)
    try:
        open_view(page, "quiet").get_by_role("button", name="New notebook in project quiet").click()
        expect(notebook(page).locator(".jp-KernelName")).to_have_text(
            PROJECT_KERNEL_DISPLAY_NAME, timeout=30_000
        )
        ipynb = lab.root / current_path(page)
        output = run_in_first_cell(page, "print('kept to itself')")
        expect(output).to_have_text("kept to itself", timeout=KERNEL_TIMEOUT_MS)
        save(page)
        saved = read_when(ipynb, lambda nb: "kept to itself" in sources(nb))
        assert "uv_kernels" not in saved["metadata"]
        assert saved["metadata"]["kernelspec"]["name"] == PROJECT_KERNEL
        assert not page._uv_errors
    finally:
        lab.api(SETTINGS_URL, "PUT", {"raw": "{}"})
        page.context.close()


def test_given_a_venv_when_expanded_then_only_new_notebook_is_offered(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    record = lab.environments()["tools"]
    assert record["kind"] == "venv" and record["kernel"]
    item = open_view(page, "tools")
    actions = item.get_by_role("group", name="Actions for tools")
    expect(actions.get_by_role("button", name="New notebook with the tools kernel")).to_have_text(
        "New notebook"
    )
    expect(actions.get_by_role("button", name=re.compile("^New notebook"))).to_have_count(1)
    expect(actions.get_by_text("New notebook in project")).to_have_count(0)


def test_given_a_project_outside_the_server_root_when_expanded_then_only_new_notebook_is_offered(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    record = lab.environments()["outside"]
    assert record["kind"] == "project" and record["kernel"]
    assert not Path(record["path"]).is_relative_to(lab.root)
    item = open_view(page, "outside")
    actions = item.get_by_role("group", name="Actions for outside")
    expect(actions.get_by_role("button", name=re.compile("^New notebook"))).to_have_count(1)
    expect(actions.get_by_role("button", name="New notebook with the outside kernel")).to_have_text(
        "New notebook"
    )
    expect(actions.get_by_role("button", name="Show in file browser (outside)")).to_have_count(0)
    # Still one click to a notebook on the project's own kernel.
    spec = lab.api("api/kernelspecs")["kernelspecs"][record["kernel"]]
    actions.get_by_role("button", name="New notebook with the outside kernel").click()
    expect(notebook(page).locator(".jp-KernelName")).to_have_text(
        spec["spec"]["display_name"], timeout=30_000
    )
    show_panel(page)
    expect(env_item(page, "outside")).to_be_visible()
