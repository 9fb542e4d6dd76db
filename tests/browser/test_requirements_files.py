"""Requirements files and named indexes from the panel (issue 12), in a real JupyterLab.

One lab serves the module, configured with one named index (the public index uv uses
anyway, so installs work here). Files are chosen through the picker, a dialog over
GET files that only sees the roots; what got installed is checked through the REST API
and in pyproject.toml, as a user would check it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import pytest

from tests.conftest import make_venv

from .conftest import (
    OPERATION_TIMEOUT_MS,
    Lab,
    badge,
    env_item,
    label_in_name_violations,
    open_lab,
    panel,
    running_lab,
    screenshot,
)

pytestmark = pytest.mark.timeout(240)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

#: The index the lab is configured with: the one uv already uses, under a name of ours.
INDEX_NAME = "mirror"
INDEX_URL = (
    os.environ.get("UV_DEFAULT_INDEX")
    or os.environ.get("UV_INDEX_URL")
    or "https://pypi.org/simple"
)


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
) -> Iterator[Lab]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("work")))
    (root / "reqs" / "pinned").mkdir(parents=True)
    (root / "reqs" / "pinned" / "requirements.txt").write_text(
        "# pinned for the paper\nsix==1.16.0\n"
    )
    (root / "reqs" / "more").mkdir()
    (root / "reqs" / "more" / "extra.txt").write_text("idna==3.4\n")
    (root / "reqs" / "bad").mkdir()
    (root / "reqs" / "bad" / "requirements.txt").write_text(
        "--extra-index-url https://example.invalid/simple\nsix\n"
    )
    make_venv(root / "envs" / "tools")
    (root / "new").mkdir()
    indexes = json.dumps({INDEX_NAME: INDEX_URL})
    with running_lab(
        root, lab_home, uv_cache_dir, extra_args=[f"--UvKernels.indexes={indexes}"]
    ) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab, artifacts: Path) -> Iterator[Any]:
    """One JupyterLab page for the module (each load costs seconds); each test leaves no
    form or dialog open. No uncaught page errors."""
    page = open_lab(browser, lab, artifacts)
    yield page
    errors = page._uv_errors
    page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(autouse=True)
def end_screenshot(page: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    screenshot(page, artifacts, f"end-{request.node.name}")
    assert not page._uv_errors, f"uncaught errors in the page: {page._uv_errors}"


def expect_location(page: Any, folder: Path) -> None:
    """The picker shows ``folder`` (between the direction marks that keep a clipped long
    path readable)."""
    shown = re.compile("^\u200e?" + re.escape(str(folder)) + "\u200e?$")
    expect(picker(page).locator(".jp-UvKernels-picker-location")).to_have_text(shown)


def picker(page: Any) -> Any:
    return page.locator(".jp-UvKernels-picker-dialog")


def entry(page: Any, name: str) -> Any:
    """A folder ("name/") or a file of the picker's current folder."""
    label = f"{name} (folder)" if name.endswith("/") else name
    return picker(page).get_by_role("button", name=label, exact=True)


def up(page: Any) -> Any:
    return picker(page).get_by_role("button", name=re.compile(r"^\.\. \(up to "))


def new_form(page: Any) -> Any:
    panel(page).get_by_role("button", name="New environment").click()
    form = page.get_by_role("form", name="New environment")
    expect(form).to_be_visible()
    return form


def packages_of(lab: Lab, name: str) -> dict[str, str]:
    env_id = lab.environments()[name]["id"]
    details = lab.api(f"uv-kernels/environments/{env_id}")
    return {p["name"]: p["version"] for p in details["packages"]}


def env_detail(page: Any, name: str) -> Any:
    """The detail of ``name`` that holds its Add box and its PackageList, wherever the
    panel shows it (the environment's main-area view, or a sidebar detail): opened by
    clicking the environment in the list."""
    found = page.locator(".jp-UvKernels-detail").filter(
        has=page.get_by_label(f"Add packages to {name}", exact=True)
    )
    if not found.first.is_visible():
        env_item(page, name).locator(".jp-UvKernels-env-header").click()
    expect(found.first).to_be_visible()
    expect(found.first.locator(".jp-UvKernels-packages")).to_be_visible()
    return found.first


def refusal_of(lab: Lab, path: str, body: dict[str, Any]) -> str:
    """The server's own message for a refused request."""
    try:
        lab.api(path, "POST", body)
    except urllib.error.HTTPError as error:
        assert 400 <= error.code < 500, error.code
        return str(json.loads(error.read())["message"])
    raise AssertionError(f"POST {path} was accepted: {body}")


# -- tests ----------------------------------------------------------------------------------


def test_create_a_venv_from_a_requirements_file_chosen_in_the_picker(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    form = new_form(page)
    form.get_by_label("Subfolder").fill("new")
    form.get_by_label("Environment name").fill("from-file")
    form.get_by_label("venv", exact=True).check()
    python = form.get_by_label("Python version")
    expect(python.locator("option")).not_to_have_count(1, timeout=30_000)
    python.select_option(index=1)

    # A relative path is refused before anything is sent.
    field = form.get_by_label("Requirements file")
    field.fill("requirements.txt")
    form.get_by_role("button", name="Create the environment").click()
    expect(form.locator("#jp-UvKernels-create-requirements-error")).to_contain_text("full path")
    field.fill("")

    # The picker opens at the chosen root and shows folders and requirements files only.
    form.get_by_role("button", name="Browse…").click()
    expect(picker(page)).to_be_visible()
    expect_location(page, lab.root)
    expect(entry(page, "reqs/")).to_be_visible()
    entry(page, "reqs/").click()
    entry(page, "more/").click()
    expect(entry(page, "extra.txt")).to_be_visible()
    # ".." goes back up; the keyboard opens a folder (Enter) and selects a file.
    up(page).click()
    expect_location(page, lab.root / "reqs")
    entry(page, "pinned/").focus()
    page.keyboard.press("Enter")
    expect(up(page)).to_be_focused()  # an opened folder puts the focus on its first entry
    page.keyboard.press("ArrowDown")
    requirements = entry(page, "requirements.txt")
    expect(requirements).to_be_focused()
    page.keyboard.press("Enter")
    expect(requirements).to_have_attribute("aria-pressed", "true")
    expect(picker(page).get_by_role("status")).to_contain_text("Selected: ")
    # Every control of the picker and of the form is named by what it shows.
    assert label_in_name_violations(page, ".jp-UvKernels-picker-dialog") == []
    screenshot(page, artifacts, "requirements-picker")
    expect(requirements).to_be_focused()
    page.keyboard.press("Enter")  # Enter on the selected file chooses it
    expect(picker(page)).to_have_count(0)
    chosen = str(lab.root / "reqs" / "pinned" / "requirements.txt")
    expect(field).to_have_value(chosen)
    assert label_in_name_violations(page) == []

    form.get_by_role("button", name="Create the environment").click()
    expect(badge(page, "from-file")).to_have_attribute(
        "data-status", "ready", timeout=OPERATION_TIMEOUT_MS
    )
    assert packages_of(lab, "from-file").get("six") == "1.16.0"


def test_a_requirements_file_with_an_option_line_is_refused_in_the_form(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    bad = str(lab.root / "reqs" / "bad" / "requirements.txt")
    message = refusal_of(
        lab,
        "uv-kernels/environments",
        {"path": str(lab.root / "new" / "api-probe"), "kind": "venv", "requirements_file": bad},
    )
    form = new_form(page)
    form.get_by_label("Subfolder").fill("new")
    form.get_by_label("Environment name").fill("refused")
    form.get_by_label("venv", exact=True).check()
    form.get_by_label("Requirements file").fill(bad)
    form.get_by_role("button", name="Create the environment").click()
    alert = form.locator("#jp-UvKernels-create-requirements-error")
    expect(alert).to_have_text(message)
    expect(form.get_by_label("Requirements file")).to_have_attribute("aria-invalid", "true")
    # Nothing was created; the form keeps what was typed.
    assert not (lab.root / "new" / "refused").exists()
    expect(form.get_by_label("Environment name")).to_have_value("refused")
    screenshot(page, artifacts, "requirements-file-refused", panel_only=True)
    form.get_by_role("button", name="Cancel creating an environment").click()
    expect(form).to_have_count(0)


def test_add_from_a_requirements_file_in_the_add_box(page: Any, lab: Lab, artifacts: Path) -> None:
    detail = env_detail(page, "tools")
    detail.get_by_role("button", name="Add from requirements file…").click()
    # It opens next to the venv, in its folder.
    expect_location(page, lab.root / "envs")
    up(page).click()
    entry(page, "reqs/").click()
    entry(page, "more/").click()
    entry(page, "extra.txt").dblclick()  # double-click chooses
    expect(picker(page)).to_have_count(0)
    expect(detail.locator(".jp-UvKernels-package-name", has_text="idna")).to_be_visible(
        timeout=OPERATION_TIMEOUT_MS
    )
    assert packages_of(lab, "tools").get("idna") == "3.4"
    ops = [op for op in lab.api("uv-kernels/operations")["operations"] if op["action"] == "add"]
    assert ops and ops[-1]["state"] == "succeeded"
    screenshot(page, artifacts, "added-from-requirements-file")


def test_the_configured_index_is_offered_and_recorded_in_pyproject(
    page: Any, lab: Lab, artifacts: Path
) -> None:
    assert lab.api("uv-kernels/indexes")["indexes"] == [
        {"name": INDEX_NAME, "url": INDEX_URL, "source": "config"}
    ]
    form = new_form(page)
    form.get_by_label("Subfolder").fill("new")
    form.get_by_label("Environment name").fill("indexed")
    form.get_by_label("uv project", exact=True).check()
    python = form.get_by_label("Python version")
    expect(python.locator("option")).not_to_have_count(1, timeout=30_000)
    python.select_option(index=1)
    index = form.get_by_label("Index", exact=True)
    expect(index.locator("option")).to_have_text(["Default index", INDEX_NAME])
    index.select_option(INDEX_NAME)
    # An index alone installs nothing: said at once, at the Index field.
    form.get_by_role("button", name="Create the environment").click()
    expect(form.locator("#jp-UvKernels-create-index-error")).to_contain_text(
        "give packages or a requirements file"
    )
    form.get_by_label("Initial packages").fill("iniconfig")
    screenshot(page, artifacts, "create-form-with-index", panel_only=True)
    form.get_by_role("button", name="Create the environment").click()
    expect(badge(page, "indexed")).to_have_attribute(
        "data-status", "ready", timeout=OPERATION_TIMEOUT_MS
    )

    pyproject = tomllib.loads((lab.root / "new" / "indexed" / "pyproject.toml").read_text())
    recorded = pyproject["tool"]["uv"]["index"]
    assert {(i["name"], i["url"].rstrip("/")) for i in recorded} == {
        (INDEX_NAME, INDEX_URL.rstrip("/"))
    }
    assert "iniconfig" in packages_of(lab, "indexed")

    # The project's Add box offers the index too (its pyproject names it now).
    detail = env_detail(page, "indexed")
    options = detail.locator(".jp-UvKernels-index-select option")
    expect(options).to_contain_text([INDEX_NAME])
