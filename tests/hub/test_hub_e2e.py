"""End to end on a real JupyterHub, as on NCAR's: hub, configurable-http-proxy, spawner.

Given a JupyterHub on 127.0.0.1 (DummyAuthenticator with users a and b, a local-process
spawner that runs each single-user server as this user with its own HOME, the
configurable-http-proxy from npm) and user a's server started with the extension and a root
of real uv environments, when user a works only through the hub's public URL with an API
token, then a can list environments, create a venv with a package (following the operation
at the ``Location`` the 202 gives, under ``/user/a/``), see its kernel in
``/user/a/api/kernelspecs``, start it and import the package over the kernel websocket.
And with b's token every route of a's server is refused (never 2xx) and nothing of a's
changes.

configurable-http-proxy is installed with npm into ``test-artifacts/`` (ignored by git) on
the first run and reused after; set UV_KERNELS_TEST_CHP_DIR to keep it elsewhere.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import websocket

from tests.conftest import REPO, make_project
from tests.reliability.figures import record
from tests.reliability.live_server import (
    changed_paths,
    descendants,
    free_port,
    kill_pids,
    snapshot,
)

CHP_VERSION = "5"
#: Passed from the test's environment to the single-user server, as a site's spawner config
#: passes its proxy and CA settings (uv must reach the index the way the tests' uv does).
NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "UV_INDEX_URL",
    "UV_DEFAULT_INDEX",
    "UV_NATIVE_TLS",
)
FINAL_STATES = ("succeeded", "failed", "cancelled")


def configurable_http_proxy() -> str:
    """The proxy's executable, installed from npm into a reusable cache dir if needed."""
    prefix = Path(
        os.environ.get("UV_KERNELS_TEST_CHP_DIR") or REPO / "test-artifacts" / "chp"
    ).absolute()
    exe = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    if exe.exists():
        return str(exe)
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to install configurable-http-proxy (apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "npm_config_cache": str(prefix / ".npm-cache")}
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(prefix),
            "--no-audit",
            "--no-fund",
            f"configurable-http-proxy@{CHP_VERSION}",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=300,
    )
    assert exe.exists()
    return str(exe)


@dataclass
class Hub:
    url: str  # public URL, through the proxy
    admin_token: str
    proc: subprocess.Popen[bytes]
    log: Path
    homes: dict[str, Path]

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {"Authorization": f"token {self.admin_token}"}
        return requests.request(
            method, f"{self.url}hub/api/{path}", headers=headers, timeout=30, **kw
        )

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-60:])


@pytest.fixture
def hub(tmp_path: Path, uv_cache_dir: Path) -> Iterator[Hub]:
    chp = configurable_http_proxy()
    work = Path(os.path.realpath(tmp_path))
    public, hub_port, proxy_api = free_port(), free_port(), free_port()
    admin_token = secrets.token_hex(16)
    homes = {u: work / f"home-{u}" for u in ("a", "b")}
    for home in homes.values():
        # Each user's own Jupyter config, as in ~/.jupyter on NCAR: the roots to search.
        (home / ".jupyter").mkdir(parents=True)
        (home / "work").mkdir()
        config = {
            "ServerApp": {
                "jpserver_extensions": {
                    "jupyterlab": False,
                    "jupyter_lsp": False,
                    "notebook_shim": False,
                    "jupyter_server_terminals": False,
                    "jupyter_uv_kernels": True,
                }
            },
            "UvKernels": {
                "roots": [str(home / "work")],
                "rescan_interval": 0.0,
                "compile_bytecode": False,
            },
        }
        (home / ".jupyter" / "jupyter_server_config.json").write_text(json.dumps(config))
    config_py = work / "jupyterhub_config.py"
    config_py.write_text(
        f"""
c = get_config()  # noqa
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {public}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{work}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{work}/cookie_secret"
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.pid_file = "{work}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"a", "b"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{work}/home-{{username}}"
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]
c.Spawner.env_keep = [
    "PATH", "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP", *{NETWORK_VARIABLES!r}
]
c.Spawner.environment = {{
    "UV_CACHE_DIR": {str(uv_cache_dir)!r},
    "UV_PYTHON_DOWNLOADS": "never",
    "UV_NO_PROGRESS": "1",
}}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
c.JupyterHub.services = [{{"name": "e2e-admin", "api_token": {admin_token!r}}}]
c.JupyterHub.load_roles = [
    {{
        "name": "e2e-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "read:users"],
        "services": ["e2e-admin"],
    }}
]
"""
    )
    log = work / "hub.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA_", "JUPYTER"))}
    env["CONFIGPROXY_AUTH_TOKEN"] = secrets.token_hex(16)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config_py)],
            cwd=work,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(f"http://127.0.0.1:{public}/", admin_token, proc, log, homes)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, hub.log_tail()
            try:
                if hub.api("GET", "").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, hub.log_tail()
            time.sleep(0.2)
        yield hub
    finally:
        for p in descendants(proc.pid):
            seen[p.pid] = p
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        kill_pids([p for p in seen.values() if p.is_running()])


def start_server(hub: Hub, user: str) -> None:
    r = hub.api("POST", f"users/{user}/server")
    assert r.status_code in (201, 202), (r.status_code, r.text, hub.log_tail())
    deadline = time.monotonic() + 90
    while True:
        model = hub.api("GET", f"users/{user}").json()
        server = model.get("servers", {}).get("")
        if server and server.get("ready"):
            return
        assert time.monotonic() < deadline, hub.log_tail()
        time.sleep(0.2)


def token_for(hub: Hub, user: str) -> str:
    r = hub.api("POST", f"users/{user}/tokens", json={"note": "e2e", "expires_in": 3600})
    assert r.status_code == 201, r.text
    token: str = r.json()["token"]
    return token


class Client:
    def __init__(self, hub: Hub, token: str | None) -> None:
        self.hub = hub
        self.token = token

    def request(self, method: str, path: str, body: Any = None) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        data = None if body is None else json.dumps(body)
        return requests.request(
            method,
            self.hub.url + path.lstrip("/"),
            headers=headers,
            data=data,
            timeout=60,
            allow_redirects=False,
        )

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        r = self.request(method, path, body)
        assert r.status_code == expect, (method, path, r.status_code, r.text[:500])
        return r.json()


def execute(hub: Hub, token: str, kernel_id: str, code: str) -> str:
    """Run ``code`` over the kernel's websocket, through the proxy; returns its stdout."""
    ws_url = hub.url.replace("http://", "ws://") + f"user/a/api/kernels/{kernel_id}/channels"
    ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=60)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "username": "a",
                        "session": uuid.uuid4().hex,
                        "version": "5.3",
                        "date": "",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        out: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)
        raise AssertionError(f"no reply in time; got {out}")
    finally:
        ws.close()


def test_given_two_hub_users_then_a_works_through_the_hub_and_b_is_refused_everywhere(
    hub: Hub,
) -> None:
    root_a = hub.homes["a"] / "work"
    existing = make_project(root_a / "analysis", "ipykernel")
    start_server(hub, "a")
    a = Client(hub, token_for(hub, "a"))
    b = Client(hub, token_for(hub, "b"))
    anonymous = Client(hub, None)
    base = "user/a/uv-kernels/"

    # a lists environments through the proxy, under the /user/a/ prefix
    deadline = time.monotonic() + 60
    while True:
        listing = a.json("GET", base + "environments")
        if listing["scanned_at"] and not listing["scanning"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert [e["path"] for e in listing["environments"]] == [str(existing)]
    assert a.json("GET", base + "openapi.json")["servers"][0]["url"] == "/user/a/uv-kernels"

    # a creates a venv with a package and follows the operation where the 202 points
    r = a.request(
        "POST", base + "environments", {"path": "stats", "kind": "venv", "packages": ["iniconfig"]}
    )
    assert r.status_code == 202, r.text
    location = r.headers["Location"]
    assert location.startswith("/user/a/uv-kernels/operations/"), location
    deadline = time.monotonic() + 180
    while True:
        op = a.json("GET", location)["operation"]
        if op["state"] in FINAL_STATES:
            break
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert op["state"] == "succeeded", (op, a.json("GET", location)["log"][-8:])
    kernel = op["environment"]["kernel"]
    assert kernel and op["environment"]["path"] == str(root_a / "stats")

    # the kernel is in a's kernelspecs; a starts it and imports the package over the websocket
    specs = a.json("GET", "user/a/api/kernelspecs")["kernelspecs"]
    assert kernel in specs
    kernel_id = a.json("POST", "user/a/api/kernels", {"name": kernel}, expect=201)["id"]
    probe = "import sys, iniconfig; print(sys.prefix, iniconfig.__name__)"
    output = execute(hub, a.token or "", kernel_id, probe)
    assert output.split() == [str(root_a / "stats"), "iniconfig"], output

    # b (and nobody) can use any route of a's server; nothing of a's changes
    stats_id = op["environment"]["id"]
    op_id = op["id"]
    watched = [root_a, hub.homes["a"] / ".local/share/jupyter/kernels"]
    before = snapshot(*watched)
    kernels_before = a.json("GET", "user/a/api/kernels")
    routes = [
        ("GET", base + "environments", None),
        ("POST", base + "environments", {"path": "b-was-here", "kind": "venv"}),
        ("GET", base + f"environments/{stats_id}", None),
        ("POST", base + f"environments/{stats_id}/sync", {}),
        ("POST", base + f"environments/{stats_id}/packages", {"packages": ["six"]}),
        ("DELETE", base + f"environments/{stats_id}/packages/iniconfig", None),
        ("POST", base + f"environments/{stats_id}/kernel", {"name": "b-kernel"}),
        ("DELETE", base + f"environments/{stats_id}/kernel", None),
        ("GET", base + "operations", None),
        ("GET", base + f"operations/{op_id}?since=0", None),
        ("DELETE", base + f"operations/{op_id}", None),
        ("POST", base + "refresh", None),
        ("GET", base + "pythons", None),
        ("GET", base + "openapi.json", None),
        ("GET", base + "no-such-route", None),
        ("GET", "user/a/api/kernelspecs", None),
        ("GET", "user/a/api/kernels", None),
        ("POST", "user/a/api/kernels", {"name": kernel}),
        ("GET", f"user/a/api/kernels/{kernel_id}", None),
        ("POST", f"user/a/api/kernels/{kernel_id}/interrupt", None),
        ("DELETE", f"user/a/api/kernels/{kernel_id}", None),
        ("GET", "user/a/api/sessions", None),
        ("GET", "user/a/api/contents", None),
        ("GET", "user/a/api/status", None),
    ]
    refused = 0
    for client in (b, anonymous):
        for method, path, body in routes:
            r = client.request(method, path, body)
            assert not 200 <= r.status_code < 300, (client.token, method, path, r.text[:300])
            assert r.status_code in (302, 403, 404, 405), (method, path, r.status_code)
            refused += 1
        ws_url = hub.url.replace("http://", "ws://") + f"user/a/api/kernels/{kernel_id}/channels"
        header = [f"Authorization: token {client.token}"] if client.token else []
        with pytest.raises(websocket.WebSocketBadStatusException):
            websocket.create_connection(ws_url, header=header, timeout=30)
        refused += 1
    assert changed_paths(before, snapshot(*watched)) == []
    assert a.json("GET", "user/a/api/kernels") == kernels_before
    assert a.json("GET", f"user/a/api/kernels/{kernel_id}")["id"] == kernel_id
    assert not (root_a / "b-was-here").exists()
    assert execute(hub, a.token or "", kernel_id, "print(40 + 2)").strip() == "42"
    record("jupyterhub end to end", routes_refused_to_b_and_anonymous=refused, kernel_import="ok")
