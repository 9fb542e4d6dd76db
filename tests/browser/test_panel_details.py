"""The panel's detail view, form and layout in a real JupyterLab and Chromium.

Direct dependencies apart from the rest, refusals shown where the user acted, problem texts
that name the panel's buttons, the sidebar at JupyterLab's default width, and accessible
names that contain the visible labels. One JupyterLab serves the module; each test works on
environments of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, build_concurrently, make_project, make_venv, uv

from .conftest import (
    OPERATION_TIMEOUT_MS,
    Lab,
    badge,
    env_item,
    label_in_name_violations,
    open_lab,
    open_view,
    panel,
    running_lab,
    screenshot,
)

pytestmark = pytest.mark.timeout(240)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

LONG_NAME = "colleague-project-with-a-long-name"


def make_layered_project(path: Path) -> Path:
    """A packaged project (its own package is installed) with dependencies in three places:
    [project] (ipykernel, six), the dev group (packaging) and the extra "io" (idna)."""
    uv("init", "-q", "--package", "--no-workspace", "--vcs", "none", "--python", PYTHON, str(path))
    uv("add", "--project", str(path), "--", "ipykernel", "six")
    uv("add", "--project", str(path), "--dev", "--", "packaging")
    uv("add", "--project", str(path), "--optional", "io", "--", "idna")
    return path


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
) -> Iterator[Lab]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("details")))

    def fresh_clone() -> None:
        make_project(root / "fresh-clone", sync=False)  # no-environment
        uv("lock", "--project", str(root / "fresh-clone"))

    build_concurrently(
        lambda: make_layered_project(root / "layered"),
        lambda: make_venv(root / "envs" / "toolbox", "ipykernel"),
        lambda: make_venv(root / "envs" / "bare"),  # needs-ipykernel
        fresh_clone,
        lambda: make_project(root / "a" / "twin", "ipykernel"),
        lambda: make_project(root / "b" / "twin", "ipykernel"),
        lambda: make_venv(root / LONG_NAME),
    )
    with running_lab(root, lab_home, uv_cache_dir) as server:
        yield server


def env_by_path(page: Any, lab: Lab, path: Path) -> Any:
    """The row of the environment at ``path`` (for environments that share a name)."""
    records = lab.api("uv-kernels/environments")["environments"]
    env_id = next(e["id"] for e in records if e["path"] == str(path))
    return page.locator(f'#jp-uv-kernels .jp-UvKernels-env[data-env-id="{env_id}"]')


def view_by_path(page: Any, lab: Lab, path: Path) -> Any:
    """Open the main-area view of the environment at ``path`` from its row; returns it."""
    env_by_path(page, lab, path).locator(".jp-UvKernels-env-header").click()
    records = lab.api("uv-kernels/environments")["environments"]
    env_id = next(e["id"] for e in records if e["path"] == str(path))
    view = page.locator(f'#jp-main-dock-panel .jp-UvKernels-view[data-env-id="{env_id}"]')
    view.locator(".jp-UvKernels-detail").wait_for()
    return view


def package_row(item: Any, name: str) -> Any:
    return item.locator(f'.jp-UvKernels-package[data-package="{name}"]')


def confirm_remove(page: Any) -> None:
    page.locator(".jp-Dialog").get_by_role("button", name="Remove").click()


# -- tests ----------------------------------------------------------------------------------


def test_direct_dependencies_come_first_by_group_and_only_they_can_be_removed(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    project = lab.root / "layered"
    item = open_view(page, "layered")
    direct = item.locator(".jp-UvKernels-direct .jp-UvKernels-package")
    # [project] dependencies first, then the dev group, then the extra; by name within.
    expect(direct).to_have_count(4)
    assert direct.evaluate_all("rows => rows.map(r => r.dataset.package)") == [
        "ipykernel",
        "six",
        "packaging",
        "idna",
    ]
    expect(package_row(item, "six").locator(".jp-UvKernels-tag")).to_have_text("main")
    expect(package_row(item, "packaging").locator(".jp-UvKernels-tag")).to_have_text("dev")
    expect(package_row(item, "idna").locator(".jp-UvKernels-tag")).to_have_text("extra io")
    for name in ("ipykernel", "six", "packaging", "idna"):
        expect(item.get_by_role("button", name=f"Remove {name}", exact=True)).to_be_visible()

    # The rest is folded away, and none of it has a remove button; nor has the project's
    # own package.
    toggle = item.get_by_role("button", name=re.compile(r"^Other installed packages \(\d+\)"))
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(item.locator(".jp-UvKernels-others")).to_have_count(0)
    toggle.click()
    others = item.locator(".jp-UvKernels-others")
    expect(package_row(item, "traitlets")).to_be_visible()
    expect(package_row(item, "layered").locator(".jp-UvKernels-tag")).to_have_text("this project")
    expect(others.locator(".jp-UvKernels-remove")).to_have_count(0)
    expect(item.get_by_role("button", name="Remove traitlets")).to_have_count(0)
    screenshot(page, artifacts, "direct-dependencies", panel_only=True)

    # packaging stops being direct behind the panel's back (a `uv remove` in a terminal).
    # Removing it from the (now stale) list is refused; the reason shows under the package.
    uv("remove", "--no-sync", "--project", str(project), "--dev", "--", "packaging")
    pyproject = (project / "pyproject.toml").read_bytes()
    item.get_by_role("button", name="Remove packaging", exact=True).click()
    confirm_remove(page)
    alert = item.locator(".jp-UvKernels-package-error [role=alert]")
    expect(alert).to_contain_text("packaging is not a direct dependency")
    expect(alert).to_contain_text("ipykernel")
    expect(alert.get_by_role("button", name="Remove anyway")).to_have_count(0)
    assert (project / "pyproject.toml").read_bytes() == pyproject
    assert not [
        op for op in lab.api("uv-kernels/operations")["operations"] if op["path"] == str(project)
    ]
    screenshot(page, artifacts, "remove-refused-project", panel_only=True)


def test_a_venv_refuses_removing_a_needed_package_until_remove_anyway(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    item = open_view(page, "toolbox")
    rows = item.locator(".jp-UvKernels-package")
    expect(package_row(item, "comm")).to_be_visible()
    # In a venv every package keeps its remove button.
    expect(item.locator(".jp-UvKernels-remove")).to_have_count(rows.count())

    item.get_by_role("button", name="Remove comm", exact=True).click()
    confirm_remove(page)
    alert = item.locator(".jp-UvKernels-package-error [role=alert]")
    expect(alert).to_contain_text("comm is required by ipykernel")
    expect(alert).to_contain_text("use Remove anyway")
    expect(alert).not_to_contain_text("force=true")  # the API's words stay in the tooltip
    toolbox_view = '#jp-main-dock-panel .jp-UvKernels-view[data-env-name="toolbox"]'
    # "Remove anyway" and "Dismiss" included.
    assert label_in_name_violations(page, toolbox_view) == []
    screenshot(page, artifacts, "remove-refused-venv", panel_only=True)

    alert.get_by_role("button", name="Remove anyway").click()
    op = panel(page).locator(".jp-UvKernels-operation", has_text="Remove comm from toolbox")
    expect(op).to_have_attribute("data-state", "succeeded", timeout=OPERATION_TIMEOUT_MS)
    expect(package_row(item, "comm")).to_have_count(0)
    expect(package_row(item, "ipykernel")).to_be_visible()


def test_refused_and_failed_creates_keep_the_form_and_say_why_next_to_the_cause(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    panel(page).get_by_role("button", name="New environment").click()
    form = page.get_by_role("form", name="New environment")
    name = form.get_by_label("Environment name")

    # Refused by the server (the folder exists): said under the name, the form stays.
    name.fill("layered")
    form.get_by_role("button", name="Create the environment").click()
    name_error = form.locator("#jp-UvKernels-create-name-error")
    expect(name_error).to_contain_text("already exists")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_value("layered")

    # Accepted, then uv fails: the form stays open with everything typed, and says why.
    name.fill("doomed")
    expect(name_error).to_have_count(0)
    form.get_by_label("venv", exact=True).check()
    packages = form.get_by_label("Initial packages")
    packages.fill("nonexistent-pkg-zzz")
    form.get_by_role("button", name="Create the environment").click()
    form_error = form.locator("#jp-UvKernels-create-error")
    expect(form_error).to_contain_text("Create venv doomed failed", timeout=OPERATION_TIMEOUT_MS)
    expect(form_error).to_contain_text("nonexistent-pkg-zzz")
    expect(form).to_be_visible()
    expect(name).to_have_value("doomed")
    expect(packages).to_have_value("nonexistent-pkg-zzz")
    expect(form.get_by_label("venv", exact=True)).to_be_checked()
    expect(form.get_by_role("button", name="Create the environment")).to_be_enabled()
    assert not (lab.root / "doomed").exists()
    assert label_in_name_violations(page) == []
    screenshot(page, artifacts, "create-failed-in-form", panel_only=True)


def test_problems_name_the_button_that_fixes_them(page: Any, lab: Lab, artifacts: Path) -> None:
    records = lab.environments()

    bare = open_view(page, "bare")
    problem = bare.locator(".jp-UvKernels-problem")
    expect(problem).to_contain_text("ipykernel is not installed.")
    expect(problem).to_contain_text("Use Register kernel below")
    expect(problem).not_to_contain_text("jupyter uvkernel")
    # The command stays in the tooltips, word for word.
    expect(problem).to_have_attribute("title", records["bare"]["problem"])
    expect(badge(page, "bare")).to_have_attribute("title", records["bare"]["problem"])
    register = bare.get_by_role("button", name="Register kernel for bare")
    expect(register).to_have_class(re.compile("jp-mod-accept"))

    clone = open_view(page, "fresh-clone")
    problem = clone.locator(".jp-UvKernels-problem")
    expect(problem).to_contain_text("The project has no .venv yet.")
    expect(problem).to_contain_text("Use Sync below")
    expect(problem).not_to_contain_text("`uv sync")
    assert "uv sync --frozen" in records["fresh-clone"]["problem"]
    expect(problem).to_have_attribute("title", records["fresh-clone"]["problem"])
    expect(clone.get_by_role("button", name="Sync fresh-clone")).to_have_class(
        re.compile("jp-mod-accept")
    )
    screenshot(page, artifacts, "problems-name-buttons", panel_only=True)


def test_at_the_default_sidebar_width_names_and_operations_read_in_full(
    browser: Any, lab: Lab, artifacts: Path
) -> None:
    page = open_lab(browser, lab, artifacts, width=None)
    try:
        width = panel(page).bounding_box()["width"]
        assert width < 350, width  # JupyterLab's default, not a widened sidebar

        # A long name wraps instead of being cut.
        name = env_item(page, LONG_NAME).locator(".jp-UvKernels-env-name")
        expect(name).to_have_text(LONG_NAME)
        fits = name.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        assert fits, "the name is cut"
        screenshot(page, artifacts, "default-width-list")

        # Two operations on two environments of the same name: each says where it runs.
        status = panel(page).locator(".jp-UvKernels-scan-time")
        before = status.inner_text()
        for folder in ("a", "b"):
            view = view_by_path(page, lab, lab.root / folder / "twin")
            view.get_by_role("button", name="Sync twin").click()
        ops = panel(page).locator(".jp-UvKernels-operation")
        expect(ops).to_have_count(2)
        for i in range(2):
            expect(ops.nth(i)).to_have_attribute(
                "data-state", "succeeded", timeout=OPERATION_TIMEOUT_MS
            )
        texts = [ops.nth(i).locator(".jp-UvKernels-operation-toggle").inner_text() for i in (0, 1)]
        assert texts[0] != texts[1], texts
        assert sorted("a/twin" in t for t in texts) == [False, True], texts
        assert sorted("b/twin" in t for t in texts) == [False, True], texts
        title = ops.first.locator(".jp-UvKernels-operation-toggle").get_attribute("title")
        assert title.startswith("Sync twin\n") and str(lab.root) in title, title

        # With both logs open, the Operations section grows to show them (up to half the
        # sidebar), not a fixed quarter of it.
        for i in range(2):
            ops.nth(i).locator(".jp-UvKernels-operation-toggle").click()
        expect(ops.locator(".jp-UvKernels-log")).to_have_count(2)
        page.wait_for_timeout(500)  # the sections are refitted on the next frame
        sections = panel(page).locator(".jp-UvKernels-section")
        heights = sections.evaluate_all("ss => ss.map(s => s.getBoundingClientRect().height)")
        content = sections.nth(1).evaluate("s => s.firstElementChild.offsetHeight")
        assert heights[1] >= min(content, 0.45 * sum(heights)) - 2, (heights, content)

        # "updated" moved on when the operations settled their environments.
        finished = max(
            op["finished_at"]
            for op in lab.api("uv-kernels/operations")["operations"]
            if op["path"].endswith("/twin")
        )
        when = page.evaluate("iso => new Date(iso).toLocaleTimeString()", finished)
        expect(status).to_contain_text(f"updated {when}")
        assert status.inner_text() != before
        screenshot(page, artifacts, "default-width-operations")
        assert not page._uv_errors
    finally:
        page.context.close()


def test_every_control_s_accessible_name_contains_its_visible_label(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    """WCAG 2.5.3 (label in name), for every button, link and field of the panel: with the
    form open, a project's packages unfolded, an environment without a kernel, and an
    operation listed."""
    twin = view_by_path(page, lab, lab.root / "b" / "twin")
    twin.get_by_role("button", name="Sync twin").click()
    layered = open_view(page, "layered")
    layered.get_by_role("button", name=re.compile("^Other installed packages")).click()
    open_view(page, "bare")
    panel(page).get_by_role("button", name="New environment").click()
    expect(page.get_by_role("form", name="New environment")).to_be_visible()
    expect(panel(page).locator(".jp-UvKernels-operation")).not_to_have_count(0)
    screenshot(page, artifacts, "label-in-name", panel_only=True)

    assert label_in_name_violations(page) == []
    expect(panel(page).locator(".jp-UvKernels-operation").first).to_have_attribute(
        "data-state", "succeeded", timeout=OPERATION_TIMEOUT_MS
    )
    assert label_in_name_violations(page) == []
    # The main-area view too, with its tree and its updates unfolded.
    view = open_view(page, "layered")
    view.get_by_role("button", name="Tree", exact=True).click()
    view.locator(".jp-UvKernels-tree-node").first.wait_for()
    view.get_by_role("button", name="Updates", exact=True).click()
    layered_view = '#jp-main-dock-panel .jp-UvKernels-view[data-env-name="layered"]'
    assert label_in_name_violations(page, layered_view) == []
