"""A real ``jupyter lab`` on 127.0.0.1 over a root of real uv environments, and Chromium.

- ``lab`` (module scope) builds the root once per module, starts JupyterLab with the
  extension and a token in hermetic HOME/Jupyter dirs (the session uv cache is shared), and
  stops it at the end.
- ``page`` opens JupyterLab in a fresh browser context and shows the uv environments panel.
- Screenshots go to ``test-artifacts/browser/`` (gitignored); CI keeps them as artifacts.

The browser is Debian's Chromium at /usr/bin/chromium (``playwright install`` downloads are
not used); without it the tests are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, subprocess_environ

CHROMIUM = os.environ.get("UV_KERNELS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "browser"
TOKEN = "uv-kernels-browser-test"
#: How long a uv operation started from the panel may take in these tests, in ms.
OPERATION_TIMEOUT_MS = 120_000


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not os.path.exists(CHROMIUM):
        reason = (
            f"Chromium not found at {CHROMIUM}; install it (Debian: apt-get install -y "
            "--no-install-recommends chromium) or set UV_KERNELS_CHROMIUM"
        )
        for item in items:
            if "browser" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=reason))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hermetic_environ(home: Path, uv_cache_dir: Path) -> dict[str, str]:
    """The environment of the lab server: tmp HOME and Jupyter dirs, the session uv cache."""
    return subprocess_environ(home, uv_cache_dir)


def quiet_lab_settings(settings_dir: Path) -> None:
    """No "fetch Jupyter news?" toast: the notification area must show only ours."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True, exist_ok=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    home: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: Any = None

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call the server's REST API directly (for checks and setup, not for the UI)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def environments(self) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.api("uv-kernels/environments")["environments"]}

    def wait_scanned(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listing = self.api("uv-kernels/environments")
            if listing["scanned_at"] and not listing["scanning"]:
                return
            time.sleep(0.2)
        raise TimeoutError("the first scan did not finish")

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_lab(
    root: Path,
    home: Path,
    uv_cache_dir: Path,
    log_path: Path,
    extra_args: Sequence[str] = (),
    argv_prefix: Sequence[str] = (),
) -> Lab:
    """``extra_args`` are added to jupyter lab's command line (e.g. another
    ``--UvKernels.roots=DIR``: repeated, a list option gains an item); ``argv_prefix`` runs
    it under another command (e.g. ``unshare -U``, where permission bits apply to root)."""
    env = hermetic_environ(home, uv_cache_dir)
    quiet_lab_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    port = free_port()
    argv = [
        *argv_prefix,
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
        f"--UvKernels.roots={root}",
        "--UvKernels.compile_bytecode=False",
        "--UvKernels.rescan_interval=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # window.jupyterapp: lets tests run commands (open the launcher, change the theme).
        "--LabApp.expose_app_in_browser=True",
        *extra_args,
    ]
    log = log_path.open("wb")
    process = subprocess.Popen(argv, env=env, cwd=str(root), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    lab = Lab(url, TOKEN, root, home, env, process, log_path, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.close()
            raise RuntimeError(f"jupyter lab exited early:\n{lab.server_log()}")
        try:
            lab.api("api/status")
            lab.api("uv-kernels/environments")
            return lab
        except OSError:
            time.sleep(0.25)
    stop_lab(lab)
    raise RuntimeError(f"jupyter lab did not answer within 60 s:\n{lab.server_log()}")


def stop_lab(lab: Lab) -> None:
    lab.process.terminate()
    try:
        lab.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        lab.process.kill()
        lab.process.wait(timeout=5)
    if lab.log_file is not None:
        lab.log_file.close()


@pytest.fixture
def jp_asyncio_loop() -> None:
    """pytest-jupyter's autouse loop fixture, switched off here: these tests talk to a
    server in another process, and Playwright's sync API runs its own loop."""
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    """pytest-jupyter's in-process server cleanup: there is no in-process server here."""
    return None


@pytest.fixture(scope="session")
def served_labextension() -> Path:
    """The built panel JupyterLab will load; fails when it is missing or older than its source."""
    installed = Path(sys.prefix, "share", "jupyter", "labextensions", "jupyter-uv-kernels")
    manifest = installed / "package.json"
    if not manifest.exists():
        pytest.fail(
            f"The labextension is not installed at {installed}; run `uv sync` (it builds it; "
            "Node.js must be on PATH)."
        )
    built = manifest.resolve().stat().st_mtime
    sources = [
        p
        for folder in ("src", "style", "schema")
        for p in (REPO / "labextension" / folder).rglob("*")
        if p.is_file()
    ]
    stale = [p for p in sources if p.stat().st_mtime > built + 1]
    if stale:
        pytest.fail(
            f"The installed labextension is older than {stale[0].relative_to(REPO)}; rebuild it: "
            "`jlpm build` in labextension/ after `jupyter labextension develop --overwrite .`, "
            "or `uv sync --reinstall-package jupyter_uv_kernels`."
        )
    return installed


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running on the main thread
    while it is open, which would break every asyncio test that runs after this module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def lab_home(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Iterator[Path]:
    """HOME for the module's fixtures and server; uv runs in setup use the session cache."""
    home = tmp_path_factory.mktemp("lab-home")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in hermetic_environ(home, uv_cache_dir).items():
            mp.setenv(key, value)
        for key in list(os.environ):
            if key.startswith("CONDA_") or key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
                mp.delenv(key, raising=False)
        yield home


@contextlib.contextmanager
def running_lab(root: Path, lab_home: Path, uv_cache_dir: Path, **kwargs: Any) -> Iterator[Lab]:
    """A lab serving ``root`` whose first scan has finished; stopped afterwards."""
    server = start_lab(root, lab_home, uv_cache_dir, lab_home / "jupyter-lab.log", **kwargs)
    try:
        server.wait_scanned()
        yield server
    finally:
        stop_lab(server)


@pytest.fixture
def page(browser: Any, lab: Lab, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """JupyterLab in a fresh browser context on the module's ``lab``; no uncaught page errors."""
    page = open_lab(browser, lab, artifacts)
    yield page
    screenshot(page, artifacts, f"end-{request.node.name}")
    errors = page._uv_errors
    page.context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def panel(page: Any) -> Any:
    return page.locator("#jp-uv-kernels")


def open_lab(browser: Any, lab: Lab, artifacts: Path, width: int | None = 400) -> Any:
    """A new page on JupyterLab with the uv environments panel shown, the sidebar dragged
    to ``width`` px (None: JupyterLab's default sidebar width)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page._uv_errors = errors  # type: ignore[attr-defined]
    page.goto(f"{lab.url}lab?token={lab.token}&reset")
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=60_000)
    # The launcher opens (and takes the focus) once the layout is restored: wait for it, so
    # it does not take the focus from the panel in the middle of a test.
    page.locator("#jp-main-dock-panel .jp-Launcher").first.wait_for(timeout=60_000)
    show_panel(page, width)
    return page


def show_panel(page: Any, width: int | None = 400) -> None:
    """Open the panel from its sidebar tab, and drag the sidebar to ``width`` px (None:
    leave it at its width)."""
    tab = page.locator('.jp-SideBar [data-id="jp-uv-kernels"]')
    tab.wait_for(timeout=60_000)
    if not page.locator("#jp-uv-kernels").is_visible():
        tab.click()
    page.locator("#jp-uv-kernels .jp-UvKernels-environments").wait_for()
    if width is None:
        return
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:visible").first
    box = handle.bounding_box()
    if box:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(width, box["y"] + box["height"] / 2, steps=4)
        page.mouse.up()


def env_item(page: Any, name: str) -> Any:
    return page.locator(f'#jp-uv-kernels .jp-UvKernels-env[data-env-name="{name}"]')


def badge(page: Any, name: str) -> Any:
    return env_item(page, name).locator(".jp-UvKernels-env-header .jp-UvKernels-badge")


def env_view(page: Any, name: str) -> Any:
    """The main-area view of the environment named ``name`` (open or not)."""
    return page.locator(f'#jp-main-dock-panel .jp-UvKernels-view[data-env-name="{name}"]')


def open_view(page: Any, name: str) -> Any:
    """Open the environment's main-area view by clicking it in the sidebar list (the
    panel is shown first if another sidebar took its place); returns the view."""
    item = env_item(page, name)
    if not item.is_visible():
        show_panel(page, None)
    item.locator(".jp-UvKernels-env-header").click()
    view = env_view(page, name)
    view.locator(".jp-UvKernels-detail").wait_for()
    return view


def screenshot(page: Any, artifacts: Path, name: str, *, panel_only: bool = False) -> Path:
    path = artifacts / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
    if panel_only:
        page.locator("#jp-uv-kernels").screenshot(path=str(path))
    else:
        page.screenshot(path=str(path))
    return path


def copy_screenshot(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


#: The controls of the panel a user can reach: buttons, links, form fields, and anything
#: focusable (the log views, scrollable regions, are not controls and are left out).
_CONTROLS = (
    "button, a[href], input, select, textarea, [role=button], "
    '[tabindex]:not([tabindex="-1"]):not(pre)'
)

_MARK_CONTROLS = """([root, selector]) => {
    const visibleLabel = el => {
        if (el.matches('input, select, textarea')) {
            const labels = [...(el.labels || [])].map(l => l.innerText).join(' ').trim();
            return labels || (el.matches('input[type=search], input[type=text], textarea')
                              ? (el.getAttribute('placeholder') || '') : '');
        }
        return el.innerText || '';
    };
    return [...document.querySelector(root).querySelectorAll(selector)]
        .filter(el => el.getClientRects().length > 0)
        .map((el, i) => {
            el.setAttribute('data-a11y-probe', String(i));
            return {probe: String(i), visible: visibleLabel(el).trim(),
                    html: el.outerHTML.slice(0, 160)};
        });
}"""


def _squash(text: str) -> str:
    """Compare labels as a screen reader user hears them: case, spaces and direction
    marks do not matter."""
    return "".join(ch for ch in text.lower() if not ch.isspace() and ch not in "\u200e\u200f")


def label_in_name_violations(page: Any, root: str = "#jp-uv-kernels") -> list[str]:
    """Every visible control under ``root`` whose accessible name (as Chromium computes it,
    read over CDP) is empty or does not contain its visible label (WCAG 2.5.3)."""
    controls = page.evaluate(_MARK_CONTROLS, [root, _CONTROLS])
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("Accessibility.enable")
        document = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        problems = []
        for control in controls:
            node = cdp.send(
                "DOM.querySelector",
                {"nodeId": document, "selector": f'[data-a11y-probe="{control["probe"]}"]'},
            )["nodeId"]
            if not node:
                continue  # re-rendered away since it was marked
            ax = cdp.send(
                "Accessibility.getPartialAXTree", {"nodeId": node, "fetchRelatives": False}
            )
            name = str(ax["nodes"][0].get("name", {}).get("value", "")) if ax["nodes"] else ""
            visible = control["visible"]
            if not name.strip():
                problems.append(f"no accessible name: {control['html']}")
            elif visible and _squash(visible) not in _squash(name):
                problems.append(f"{name!r} does not contain {visible!r}: {control['html']}")
        return problems
    finally:
        cdp.detach()
        page.evaluate(
            "() => document.querySelectorAll('[data-a11y-probe]')"
            ".forEach(el => el.removeAttribute('data-a11y-probe'))"
        )
