"""The uv environments panel in a real JupyterLab, driven by a real Chromium.

One JupyterLab serves the whole module over a root of real uv environments; each test
works on environments of its own, so the tests do not depend on one another's order.
Every check is on what a user sees: badges, tooltips, notifications, the launcher.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_concurrently, make_project, make_venv, uv

from .conftest import (
    OPERATION_TIMEOUT_MS,
    Lab,
    badge,
    env_item,
    env_view,
    open_lab,
    open_view,
    panel,
    running_lab,
    screenshot,
)

pytestmark = pytest.mark.timeout(240)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


def make_slow_package(path: Path) -> Path:
    """A local package whose wheel build sleeps: an operation slow enough to cancel.

    Its build backend is in-tree with no build requirements, so uv needs no network.
    """
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = []
            build-backend = "slow_backend"
            backend-path = ["."]

            [project]
            name = "slowpkg"
            version = "0.1"
            """
        )
    )
    (path / "slow_backend.py").write_text(
        textwrap.dedent(
            """\
            import time

            def get_requires_for_build_wheel(config_settings=None):
                return []

            def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
                time.sleep(600)
                raise RuntimeError("slowpkg never builds")
            """
        )
    )
    return path


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
) -> Iterator[Lab]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("work")))

    def drifted() -> None:
        # out-of-sync: a dependency added to the lock but not installed
        make_project(root / "projects" / "drifted", "ipykernel")
        uv("add", "--no-sync", "--project", str(root / "projects" / "drifted"), "--", "six")

    def gone() -> None:
        # broken: the interpreter is gone
        broken = make_venv(root / "envs" / "gone")
        for python in (broken / "bin").glob("python*"):
            python.unlink()

    def unsynced() -> None:
        # no-environment: locked, never synced
        make_project(root / "unsynced", sync=False)
        uv("lock", "--project", str(root / "unsynced"))

    build_concurrently(
        # ready: a project with ipykernel
        lambda: make_project(root / "analysis", "ipykernel"),
        drifted,
        # needs-ipykernel: two uv venvs without it
        lambda: make_venv(root / "envs" / "plain-tools"),
        lambda: make_venv(root / "envs" / "side-tools"),
        gone,
        # a plain venv (python -m venv): listed, unless the user setting hides plain venvs
        lambda: make_venv(root / "envs" / "legacy", plain=True),
        unsynced,
    )
    (root / "new").mkdir()

    with running_lab(root, lab_home, uv_cache_dir) as server:
        yield server


def notification(page: Any, text: str) -> Any:
    """A toast containing ``text`` (JupyterLab's Notification)."""
    return page.locator(".Toastify__toast", has_text=text)


# -- tests ----------------------------------------------------------------------------------


def test_panel_lists_environments_by_root_with_badges(page: Any, lab: Lab, artifacts: Path) -> None:
    records = lab.environments()
    expected = {
        "analysis": "ready",
        "drifted": "out-of-sync",
        "plain-tools": "needs-ipykernel",
        "gone": "broken",
        "unsynced": "no-environment",
    }
    for name, status in expected.items():
        assert records[name]["status"] == status, records[name]  # the fixture is what we think

    group = page.locator("#jp-uv-kernels .jp-UvKernels-root")
    expect(group.locator(".jp-UvKernels-root-path")).to_contain_text(str(lab.root))
    for name, status in expected.items():
        expect(badge(page, name)).to_have_attribute("data-status", status)
        expect(badge(page, name)).to_have_text(status.replace("-", " "))
    # The tooltip of a badge is the record's problem, word for word.
    expect(badge(page, "gone")).to_have_attribute("title", records["gone"]["problem"])
    expect(badge(page, "drifted")).to_have_attribute("title", records["drifted"]["problem"])
    # Name, path relative to its root, kind and Python version are on the row.
    drifted = env_item(page, "drifted")
    expect(drifted.locator(".jp-UvKernels-relpath")).to_have_text("projects/drifted")
    expect(drifted.locator(".jp-UvKernels-kind")).to_have_text("project")
    expect(drifted.locator(".jp-UvKernels-python")).to_have_text(
        f"Python {records['drifted']['python']}"
    )
    expect(env_item(page, "plain-tools").locator(".jp-UvKernels-kind")).to_have_text("venv")
    screenshot(page, artifacts, "panel-list")

    # The filter narrows the list; clearing it brings everything back.
    page.get_by_label("Filter environments").fill("tools")
    expect(env_item(page, "plain-tools")).to_be_visible()
    expect(env_item(page, "analysis")).to_have_count(0)
    page.get_by_label("Filter environments").fill("")
    expect(env_item(page, "analysis")).to_be_visible()

    # Keyboard: Enter on an environment opens its view in the main area.
    header = env_item(page, "gone").locator(".jp-UvKernels-env-header")
    header.focus()
    page.keyboard.press("Enter")
    expect(env_view(page, "gone").locator(".jp-UvKernels-problem")).to_have_text(
        records["gone"]["problem"]
    )

    # Every control in the panel has an accessible name.
    open_view(page, "analysis")
    page.get_by_role("button", name="New environment").click()
    unnamed = panel(page).evaluate(
        """el => [...el.querySelectorAll('button, input, select, textarea, [tabindex]')]
              .filter(c => !(c.getAttribute('aria-label') || c.getAttribute('title')
                             || (c.labels && c.labels.length) || c.textContent.trim()))
              .map(c => c.outerHTML.slice(0, 120))"""
    )
    assert unnamed == []
    page.get_by_role("button", name="Cancel creating an environment").click()

    # The refresh button rescans: the indicator shows, then the list is back, unchanged.
    panel(page).get_by_role("button", name="Rescan the roots for environments").click()
    expect(page.locator("#jp-uv-kernels .jp-UvKernels-scanning")).to_have_count(0, timeout=30_000)
    expect(badge(page, "analysis")).to_have_attribute("data-status", "ready")


def test_sync_makes_an_out_of_sync_project_ready(page: Any, lab: Lab, artifacts: Path) -> None:
    item = open_view(page, "drifted")
    # The detail view runs the exact check (uv sync --check), not only the mtime estimate.
    expect(item.locator('[data-check="drift"]')).to_contain_text("out of sync with uv.lock")
    item.get_by_role("button", name="Sync drifted").click()
    expect(page.locator("#jp-uv-kernels .jp-UvKernels-operation").first).to_contain_text(
        "Sync drifted"
    )
    expect(badge(page, "drifted")).to_have_attribute(
        "data-status", "ready", timeout=OPERATION_TIMEOUT_MS
    )
    expect(notification(page, "Sync drifted: done.")).to_be_visible()
    expect(item.locator('[data-check="drift"]')).to_contain_text("in sync with uv.lock")
    expect(item.locator(".jp-UvKernels-package-name", has_text="six")).to_be_visible()
    assert lab.environments()["drifted"]["status"] == "ready"
    screenshot(page, artifacts, "sync-done")

    # The project lies under the server root, so the file browser can show it.
    item.get_by_role("button", name="Show in file browser (drifted)").click()
    expect(page.locator("#filebrowser")).to_be_visible()
    expect(page.locator("#filebrowser .jp-BreadCrumbs")).to_contain_text("drifted")
    expect(page.locator("#filebrowser .jp-DirListing-item", has_text="uv.lock")).to_be_visible()


def test_bad_requirements_are_refused_with_a_clear_message(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    item = open_view(page, "analysis")
    box = item.get_by_label("Add packages to analysis")

    # Option-shaped input never leaves the browser.
    before = len(lab.api("uv-kernels/operations")["operations"])
    box.fill("--index-url=https://example.invalid/simple numpy")
    item.get_by_role("button", name="Add the packages to analysis").click()
    alert = item.locator(".jp-UvKernels-add [role=alert]")
    expect(alert).to_contain_text("looks like a command-line option")
    expect(box).to_have_attribute("aria-invalid", "true")
    assert len(lab.api("uv-kernels/operations")["operations"]) == before

    # Valid PEP 508 that uv cannot resolve: the error notification carries uv's message.
    box.fill("nonexistent-pkg-zzz==1.0")
    item.get_by_role("button", name="Add the packages to analysis").click()
    failed = notification(page, "Add nonexistent-pkg-zzz==1.0 to analysis failed")
    expect(failed).to_be_visible(timeout=OPERATION_TIMEOUT_MS)
    # ... and so does the detail view, under the box, which keeps what was typed.
    expect(alert).to_contain_text("Add nonexistent-pkg-zzz==1.0 to analysis failed")
    expect(alert).to_contain_text("nonexistent-pkg-zzz was not found in the package registry")
    expect(box).to_have_value("nonexistent-pkg-zzz==1.0")
    ops = [
        op
        for op in lab.api("uv-kernels/operations")["operations"]
        if op["action"] == "add" and op["state"] == "failed"
    ]
    assert ops, "the server has no failed add operation"
    message = ops[-1]["message"]
    assert "nonexistent-pkg-zzz" in message
    # The toast shows uv's reason (the operation view shows the whole message).
    expect(failed).to_contain_text("nonexistent-pkg-zzz was not found in the package registry")
    op_item = panel(page).locator(f'.jp-UvKernels-operation[data-operation-id="{ops[-1]["id"]}"]')
    expect(op_item.locator(".jp-UvKernels-operation-message")).to_have_text(message)
    expect(badge(page, "analysis")).to_have_attribute("data-status", "ready")
    screenshot(page, artifacts, "bad-requirement")


def test_create_a_venv_from_the_form(page: Any, lab: Lab, artifacts: Path) -> None:
    panel(page).get_by_role("button", name="New environment").click()
    form = page.get_by_role("form", name="New environment")
    expect(form).to_be_visible()

    # Client-side validation: a name with "/" is refused before anything is sent.
    form.get_by_label("Environment name").fill("bad/name")
    form.get_by_role("button", name="Create the environment").click()
    expect(form.locator("[role=alert]")).to_contain_text('cannot contain "/"')

    form.get_by_label("Subfolder").fill("new")
    form.get_by_label("Environment name").fill("fresh")
    expect(form.locator("[role=alert]")).to_have_count(0)  # fixed, so the error goes
    form.get_by_label("venv", exact=True).check()
    python = form.get_by_label("Python version")
    expect(python.locator("option")).not_to_have_count(1)  # the list from GET pythons arrived
    # The form keeps the server's order (newest first, by version number), unsorted.
    served = [p["path"] for p in lab.api("uv-kernels/pythons")["pythons"]]
    assert python.locator("option").evaluate_all("os => os.map(o => o.value)")[1:] == served
    python.select_option(index=1)
    form.get_by_label("Initial packages").fill("six")
    screenshot(page, artifacts, "create-form", panel_only=True)
    form.get_by_role("button", name="Create the environment").click()

    expect(notification(page, "Create venv fresh")).to_be_visible()
    expect(badge(page, "fresh")).to_have_attribute(
        "data-status", "ready", timeout=OPERATION_TIMEOUT_MS
    )
    expect(notification(page, "Create venv fresh: done.")).to_be_visible()
    record = lab.environments()["fresh"]
    assert record["path"] == str(lab.root / "new" / "fresh") and record["kind"] == "venv"
    spec = lab.api("api/kernelspecs")["kernelspecs"][record["kernel"]]
    display_name = spec["spec"]["display_name"]

    # The new kernel is in the launcher without a reload.
    page.evaluate("async () => { await window.jupyterapp.commands.execute('launcher:create'); }")
    notebook_cards = '.jp-LauncherCard[data-category="Notebook"]'
    card = page.locator(f'{notebook_cards}[title="{display_name}"]:visible')
    expect(card).to_be_visible(timeout=15_000)

    # "New notebook" opens a notebook on that kernel.
    item = open_view(page, "fresh")
    expect(item.locator(".jp-UvKernels-package-name", has_text="six")).to_be_visible()
    item.get_by_role("button", name="New notebook with the fresh kernel").click()
    expect(page.locator(".jp-NotebookPanel .jp-KernelName").first).to_have_text(
        display_name, timeout=30_000
    )
    screenshot(page, artifacts, "created-and-launched")

    # Removing a package asks first, then runs `uv pip uninstall` and the list updates.
    item = open_view(page, "fresh")
    item.get_by_role("button", name="Remove six").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Remove six?")
    dialog.get_by_role("button", name="Remove").click()
    expect(notification(page, "Remove six from fresh: done.")).to_be_visible(
        timeout=OPERATION_TIMEOUT_MS
    )
    expect(item.locator(".jp-UvKernels-package-name", has_text="six")).to_have_count(0)
    expect(item.locator(".jp-UvKernels-package-name", has_text="ipykernel")).to_be_visible()


def test_cancel_a_slow_operation_while_another_runs(
    page: Any, lab: Lab, artifacts: Path, tmp_path: Path
) -> None:
    slow = make_slow_package(tmp_path / "slowpkg")
    plain = open_view(page, "plain-tools")
    plain.get_by_label("Add packages to plain-tools").fill(f"slowpkg @ {slow.as_uri()}")
    plain.get_by_role("button", name="Add the packages to plain-tools").click()
    slow_op = page.locator("#jp-uv-kernels .jp-UvKernels-operation", has_text="Add slowpkg")
    expect(slow_op).to_have_attribute("data-state", "running", timeout=30_000)

    # A second operation on another environment runs alongside and finishes on its own.
    side = open_view(page, "side-tools")
    side.get_by_role("button", name="Register kernel for side-tools").click()
    side_op = page.locator(
        "#jp-uv-kernels .jp-UvKernels-operation", has_text="Register kernel for side-tools"
    )
    expect(side_op).to_have_attribute("data-state", "succeeded", timeout=OPERATION_TIMEOUT_MS)
    expect(badge(page, "side-tools")).to_have_attribute("data-status", "ready")
    expect(slow_op).to_have_attribute("data-state", "running")
    screenshot(page, artifacts, "two-operations")

    slow_op.get_by_role("button", name="Cancel Add").click()
    expect(slow_op).to_have_attribute("data-state", "cancelled", timeout=30_000)
    expect(notification(page, "cancelled")).to_be_visible()
    # Nothing was installed, and the environment is as it was.
    expect(badge(page, "plain-tools")).to_have_attribute("data-status", "needs-ipykernel")
    details = lab.api(f"uv-kernels/environments/{lab.environments()['plain-tools']['id']}")
    assert "slowpkg" not in {p["name"] for p in details["packages"]}


def test_unregister_asks_first_then_removes_the_kernel(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    kernel = lab.environments()["analysis"]["kernel"]
    assert kernel in lab.api("api/kernelspecs")["kernelspecs"]
    item = open_view(page, "analysis")
    expect(item.locator(".jp-UvKernels-nokernel")).to_have_count(0)
    item.get_by_role("button", name="Unregister kernel of analysis").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Unregister the kernel of analysis?")
    dialog.get_by_role("button", name="Cancel").click()
    assert kernel in lab.api("api/kernelspecs")["kernelspecs"]

    item.get_by_role("button", name="Unregister kernel of analysis").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Unregister").click()
    register = item.get_by_role("button", name="Register kernel for analysis")
    expect(register).to_be_visible()
    assert kernel not in lab.api("api/kernelspecs")["kernelspecs"]
    # Still "ready", but the row and the detail say there is no kernel, and Register is the
    # primary action (the only way to a notebook from here).
    expect(badge(page, "analysis")).to_have_attribute("data-status", "ready")
    marker = env_item(page, "analysis").locator(".jp-UvKernels-env-header .jp-UvKernels-nokernel")
    expect(marker).to_have_text("no kernel")
    expect(item.locator(".jp-UvKernels-kernel-none")).to_contain_text("none")
    expect(register).to_have_class(re.compile("jp-mod-accept"))
    expect(item.get_by_role("button", name=re.compile("^New notebook"))).to_have_count(0)
    screenshot(page, artifacts, "ready-without-kernel", panel_only=True)
    # Register brings the kernel back, and the marker goes.
    register.click()
    expect(item.get_by_role("button", name="Unregister kernel of analysis")).to_be_visible(
        timeout=OPERATION_TIMEOUT_MS
    )
    expect(marker).to_have_count(0)


def test_plain_venvs_can_be_hidden_by_a_setting(browser: Any, lab: Lab, artifacts: Path) -> None:
    assert lab.environments()["legacy"]["uv_managed"] is False
    settings_url = "lab/api/settings/jupyter-uv-kernels:plugin"
    lab.api(settings_url, "PUT", {"raw": json.dumps({"showPlainVenvs": False})})
    page = open_lab(browser, lab, artifacts)
    try:
        expect(env_item(page, "analysis")).to_be_visible()
        expect(env_item(page, "legacy")).to_have_count(0)
        expect(panel(page).locator(".jp-UvKernels-status")).to_contain_text("1 plain venv hidden")
        lab.api(settings_url, "PUT", {"raw": json.dumps({"showPlainVenvs": True})})
        # Reloaded (no ?reset), the layout restorer brings the panel back by itself.
        page.wait_for_timeout(1500)  # the workspace is saved with a short debounce
        page.goto(f"{lab.url}lab")
        expect(page.locator("#jp-uv-kernels .jp-UvKernels-environments")).to_be_visible(
            timeout=60_000
        )
        expect(env_item(page, "legacy")).to_be_visible()
        expect(badge(page, "legacy")).to_have_attribute("data-status", "needs-ipykernel")
    finally:
        lab.api(settings_url, "PUT", {"raw": "{}"})
        page.context.close()


def test_panel_follows_the_theme(browser: Any, lab: Lab, artifacts: Path) -> None:
    page = open_lab(browser, lab, artifacts)
    try:
        open_view(page, "drifted")
        background = "el => getComputedStyle(el).backgroundColor"
        light = page.locator("#jp-uv-kernels").evaluate(background)
        screenshot(page, artifacts, "panel-light", panel_only=True)
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'}); }"
        )
        expect(page.locator("body[data-jp-theme-light='false']")).to_have_count(1)
        dark = page.locator("#jp-uv-kernels").evaluate(background)

        def brightness(css: str) -> int:
            return sum(int(x) for x in css[css.index("(") + 1 : -1].split(",")[:3])

        # The panel takes its colours from the theme: light on light, dark on dark.
        assert brightness(light) > 3 * 200 and brightness(dark) < 3 * 100, (light, dark)
        screenshot(page, artifacts, "panel-dark", panel_only=True)
    finally:
        # The theme is a user setting: put it back for whatever runs next on this server.
        page.evaluate(
            "async () => { await window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Light'}); }"
        )
        page.context.close()
