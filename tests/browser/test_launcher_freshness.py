"""Opening a launcher shows an environment made (or deleted) in a terminal, without a
rescan: the launcher's opening is a look, the server checks in the background, and the
launcher re-reads its kernelspecs once the check is over (issue 14).

A real JupyterLab (rescans off: only looks check), real uv run the way a terminal would,
Debian's Chromium. The sidebar panel is not shown: the launcher alone must do it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, make_project, uv

from .conftest import Lab, running_lab, screenshot

pytestmark = pytest.mark.timeout(240)

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

#: The issue's figure is p95 ≤ 5 s (benchmarks/, row h); a browser on a loaded CI machine
#: gets some room, and the test records what it saw.
SHOWN_WITHIN_MS = 10_000


@pytest.fixture(scope="module")
def lab(
    lab_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
    uv_cache_dir: Path,
    served_labextension: Path,
) -> Iterator[Lab]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("launcher-root")))
    make_project(root / "existing", "ipykernel")
    with running_lab(root, lab_home, uv_cache_dir) as server:
        yield server


def launcher_cards(page: Any, name: str) -> Any:
    return page.locator(f'.jp-LauncherCard[data-category="Notebook"][title$="({name})"]:visible')


def open_launcher(page: Any) -> float:
    page.evaluate("async () => { await window.jupyterapp.commands.execute('launcher:create'); }")
    return time.monotonic()


def test_a_launcher_opened_after_a_terminal_made_env_shows_it_and_drops_it_once_deleted(
    browser: Any, lab: Lab, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{lab.url}lab?token={lab.token}&reset")
    page.locator("#jp-main-dock-panel .jp-Launcher").first.wait_for(timeout=60_000)
    expect(launcher_cards(page, "existing").first).to_be_visible()
    # The page's own first looks (its launcher, the panel's first read), the few reads that
    # follow their checks, and the checks those reads asked for: over within about 9 s.
    time.sleep(10)

    # In a terminal: `uv venv termenv` then `uv pip install ipykernel`
    venv = lab.root / "termenv"
    uv("venv", "--python", PYTHON, str(venv))
    uv("pip", "install", "--python", str(venv / "bin" / "python"), "ipykernel")
    time.sleep(1)
    # Nobody looked since: no check ran, no kernel was written (read from disk: asking the
    # server would itself be a look)
    kernels = Path(lab.env["JUPYTER_DATA_DIR"]) / "kernels"
    assert not [k for k in os.listdir(kernels) if "termenv" in k]
    expect(launcher_cards(page, "termenv")).to_have_count(0)

    # Opening a launcher shows it
    opened = open_launcher(page)
    expect(launcher_cards(page, "termenv").first).to_be_visible(timeout=SHOWN_WITHIN_MS)
    shown_after = time.monotonic() - opened
    screenshot(page, artifacts, "launcher-terminal-env")

    # `rm -rf termenv` in the terminal, once that look's checks are over: the kernel stays
    # until someone looks; the next launcher opened no longer offers it
    time.sleep(10)
    shutil.rmtree(venv)
    time.sleep(1)
    assert [k for k in os.listdir(kernels) if "termenv" in k]
    opened = open_launcher(page)
    expect(launcher_cards(page, "termenv")).to_have_count(0, timeout=SHOWN_WITHIN_MS)
    gone_after = time.monotonic() - opened
    print(f"launcher: terminal env shown after {shown_after:.1f} s, gone after {gone_after:.1f} s")
    assert errors == []
    context.close()
