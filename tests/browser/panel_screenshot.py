"""Take the README's screenshots from a real JupyterLab: the panel beside an environment's
view (docs/panel.png) and the main-area environment view alone (docs/environment-view.png).

    uv run --no-sync python -m tests.browser.panel_screenshot [--out docs/panel.png]
        [--view-out docs/environment-view.png]

Builds demo-like uv environments in a temporary root (a project with direct dependencies
in two groups and an older idna that its constraints let move, a venv, a colleague's
clone without .venv, a project without ipykernel and a ready project whose kernel was
unregistered), starts ``jupyter lab`` on it as the browser tests do, syncs the clone from
its view, starts a slow install so the Operations section shows a live log, opens the
project's view with its tree and its updates, and saves a screenshot of the whole window
and one of the main area. Look at them before committing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from tests.conftest import PYTHON, REPO, make_project, make_venv, uv

from .conftest import CHROMIUM, CHROMIUM_ARGS, Lab, open_lab, open_view, start_lab, stop_lab
from .test_panel import make_slow_package


def make_environments(root: Path) -> None:
    analysis = root / "weather-model"
    uv("init", "-q", "--no-workspace", "--vcs", "none", "--python", PYTHON, str(analysis))
    uv("add", "--project", str(analysis), "--", "ipykernel", "numpy")
    uv("add", "--project", str(analysis), "--dev", "--", "pytest")
    # An older idna in the lock that pyproject.toml lets move: something to upgrade.
    uv("add", "--project", str(analysis), "--", "idna==3.4")
    pyproject = analysis / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"idna==3.4"', '"idna>=3"'))
    uv("lock", "--project", str(analysis))
    uv("sync", "--frozen", "--project", str(analysis))
    make_venv(root / "scratch-venv", "ipykernel", "six")
    make_project(root / "colleague-project", "ipykernel", "packaging", sync=False)
    make_project(root / "no-kernel-yet")
    make_project(root / "papers" / "figures-2024", "ipykernel")


def unregister(lab: Lab, name: str) -> None:
    env_id = lab.environments()[name]["id"]
    lab.api(f"uv-kernels/environments/{env_id}/kernel", "DELETE")


def take(page: Any, lab: Lab, slow: Path, out: Path, view_out: Path) -> None:
    # A colleague's clone, synced from its view: a finished operation.
    clone = open_view(page, "colleague-project")
    clone.get_by_role("button", name="Sync colleague-project").click()
    done = page.locator("#jp-uv-kernels .jp-UvKernels-operation", has_text="Sync colleague")
    done.wait_for()
    page.wait_for_function(
        """() => document.querySelector('#jp-uv-kernels .jp-UvKernels-operation')
                 ?.dataset.state === 'succeeded'""",
        timeout=120_000,
    )

    # A slow install into the venv: a running operation with its live log.
    venv = open_view(page, "scratch-venv")
    venv.get_by_label("Add packages to scratch-venv").fill(f"slowpkg @ {slow.as_uri()}")
    venv.get_by_role("button", name="Add the packages to scratch-venv").click()
    running = page.locator("#jp-uv-kernels .jp-UvKernels-operation", has_text="Add slowpkg")
    running.locator(".jp-UvKernels-log", has_text="Building").wait_for(timeout=60_000)

    # The project's view: direct dependencies by group, its tree and its updates.
    view = open_view(page, "weather-model")
    view.locator('.jp-UvKernels-package[data-package="pytest"]').wait_for()
    view.locator('[data-fact="size"] [data-complete]').wait_for(timeout=60_000)
    view.get_by_role("button", name="Tree", exact=True).click()
    view.locator(".jp-UvKernels-tree-node").first.wait_for(timeout=60_000)
    view.get_by_role("button", name="Unfold pytest").click()
    view.get_by_role("button", name="Updates", exact=True).click()
    view.get_by_role("button", name="Check for updates (weather-model)").click()
    view.locator('.jp-UvKernels-outdated tr[data-package="idna"]').wait_for(timeout=60_000)
    page.locator(".Toastify__toast").first.wait_for()
    page.wait_for_timeout(1000)  # the sections are refitted on the next frames
    page.locator("#jp-uv-kernels .jp-UvKernels-section").first.evaluate("s => (s.scrollTop = 0)")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    # The view alone, without the toasts, tall enough for its updates.
    page.add_style_tag(content=".Toastify { display: none !important; }")
    page.set_viewport_size({"width": 1280, "height": 1300})
    page.wait_for_timeout(500)
    page.locator("#jp-main-dock-panel").screenshot(path=str(view_out))
    running.get_by_role("button", name="Cancel Add").click()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "panel.png")
    parser.add_argument("--view-out", type=Path, default=REPO / "docs" / "environment-view.png")
    parser.add_argument("--width", type=int, default=380, help="sidebar width in px")
    parser.add_argument("--height", type=int, default=1160, help="window height in px")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="uvk-shot-") as tmp:
        base = Path(os.path.realpath(tmp))
        home = base / "home"
        home.mkdir()
        cache = Path(os.environ.get("UV_CACHE_DIR") or Path.home() / ".cache" / "uv")
        os.environ["UV_CACHE_DIR"] = str(cache)
        root = base / "work"
        make_environments(root)
        slow = make_slow_package(base / "slowpkg")
        lab = start_lab(root, home, cache, base / "jupyter-lab.log")
        try:
            lab.wait_scanned()
            unregister(lab, "figures-2024")
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = open_lab(browser, lab, base, width=args.width)
                    page.set_viewport_size({"width": 1280, "height": args.height})
                    take(page, lab, slow, args.out, args.view_out)
                finally:
                    browser.close()
        finally:
            stop_lab(lab)
    print(f"wrote {args.out} and {args.view_out}")


if __name__ == "__main__":
    main()
