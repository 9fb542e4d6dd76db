"""Real ``jupyter server`` subprocesses with the extension, on 127.0.0.1, and what tests need
around them: a token client, operation polling, process-tree cleanup, filesystem snapshots.

A subprocess (rather than pytest-jupyter's in-process server) because these tests do what a
user's machine does to a server: SIGKILL it, run it without root's capabilities
(``unshare -U``), run two of them on one $HOME, and slow its filesystem down.

Every server gets its own HOME and Jupyter dirs under the test's tmp dir and listens on a
free 127.0.0.1 port; nothing reaches the real ``~``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil
import requests

from tests.conftest import subprocess_environ

FINAL_STATES = frozenset({"succeeded", "failed", "cancelled"})

#: Server extensions installed in the dev venv that these tests do not need: off, so a
#: server starts in about a second and only our routes are under test.
OTHER_EXTENSIONS_OFF = {
    "jupyterlab": False,
    "jupyter_lsp": False,
    "notebook_shim": False,
    "jupyter_server_terminals": False,
}

#: Runs the server; with UVK_TEST_DIRECTORY_DELAY set, discovery sleeps that many seconds
#: before each directory it reads (the documented ``set_directory_hook``), which is how a
#: slow parallel filesystem looks to the scan.
_BOOT = """
import os, sys, time
delay = float(os.environ.get("UVK_TEST_DIRECTORY_DELAY") or 0)
if delay:
    from jupyter_uv_kernels.discovery import set_directory_hook
    set_directory_hook(lambda path: time.sleep(delay))
from jupyter_server.serverapp import main
sys.exit(main())
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (connections are refused at once)."""
    return free_port()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_pids(procs: list[psutil.Process]) -> None:
    """SIGKILL exactly these processes (by pid) and reap them."""
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    psutil.wait_procs(procs, timeout=10)


@dataclass
class LiveServer:
    """One running server. ``request`` sends the token unless told otherwise."""

    base_url: str
    token: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    home: Path
    kernelspec_dir: Path
    roots: list[Path]
    #: Every process this server started that is still known (kernels, uv): killed at stop.
    seen_children: dict[int, psutil.Process] = field(default_factory=dict)

    # -- HTTP ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + path.lstrip("/")

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = "",
        timeout: float = 30,
    ) -> requests.Response:
        """``token=""`` sends this server's token, ``None`` sends none, else that token."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"token {token or self.token}"
        if json_body is not None:
            data = json.dumps(json_body)
            hdrs.setdefault("Content-Type", "application/json")
        self.remember_children()
        return requests.request(
            method, self.url(path), data=data, headers=hdrs, timeout=timeout, allow_redirects=False
        )

    def get_json(self, path: str) -> Any:
        r = self.request("GET", path)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return r.json()

    def post_json(self, path: str, body: Any = None, expect: int = 202) -> Any:
        r = self.request("POST", path, json_body=body if body is not None else {})
        assert r.status_code == expect, (path, r.status_code, r.text[:500], self.log_tail())
        return r.json()

    def environments(self) -> dict[str, Any]:
        listing: dict[str, Any] = self.get_json("uv-kernels/environments")
        return listing

    def wait_scanned(self, timeout: float = 60) -> dict[str, Any]:
        """The listing once a scan has finished and none is running."""
        deadline = time.monotonic() + timeout
        while True:
            listing = self.environments()
            if listing["scanned_at"] and not listing["scanning"]:
                return listing
            assert time.monotonic() < deadline, f"no scan finished in {timeout} s"
            time.sleep(0.05)

    def rescan(self, timeout: float = 60) -> dict[str, Any]:
        before = self.environments()["scanned_at"]
        r = self.request("POST", "uv-kernels/refresh")
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + timeout
        while True:
            listing = self.environments()
            if listing["scanned_at"] != before and not listing["scanning"]:
                return listing
            assert time.monotonic() < deadline, f"no rescan finished in {timeout} s"
            time.sleep(0.05)

    def env_by_path(self, path: Path | str) -> dict[str, Any]:
        envs = {e["path"]: e for e in self.environments()["environments"]}
        assert str(path) in envs, (str(path), sorted(envs))
        found: dict[str, Any] = envs[str(path)]
        return found

    def wait_operation(self, op_id: str, timeout: float = 180) -> dict[str, Any]:
        """Poll ``GET operations/{op}`` until the operation is final; returns it with its log."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.request("GET", f"uv-kernels/operations/{quote(op_id, safe='')}")
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["operation"]["state"] in FINAL_STATES:
                return body
            assert time.monotonic() < deadline, f"operation {op_id} still {body['operation']}"
            time.sleep(0.1)

    # -- process --------------------------------------------------------------------------

    def remember_children(self) -> None:
        for p in descendants(self.proc.pid):
            self.seen_children.setdefault(p.pid, p)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL the server process itself (its children are left as a crash leaves them)."""
        self.remember_children()
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (clean shutdown), SIGKILL if it lingers; then any child left behind."""
        self.remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        left = [p for p in self.seen_children.values() if _running(p)]
        kill_pids(left)


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def server_environment(home: Path, uv_cache: Path | str, extra: Mapping[str, str | None]) -> dict:
    """The server's process environment: hermetic HOME and Jupyter dirs, the given uv cache."""
    return subprocess_environ(home, uv_cache, extra)


def start_server(
    workdir: Path,
    roots: list[Path],
    *,
    uv_cache: Path | str,
    uv_kernels: Mapping[str, Any] | None = None,
    env: Mapping[str, str | None] | None = None,
    unprivileged: bool = False,
    home: Path | None = None,
    name: str = "server",
    startup_timeout: float = 60,
) -> LiveServer:
    """Start ``jupyter server`` with the extension and wait until it answers.

    ``unprivileged`` runs it in a new user namespace (``unshare -U``): still the owner of
    its files, but without root's CAP_DAC_OVERRIDE, so a chmod 0555 directory really is
    read-only to it and a chmod 000 one really unreadable, as for an NCAR user.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    home = home or workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token = secrets.token_hex(16)
    settings: dict[str, Any] = {
        "roots": [str(r) for r in roots],
        "rescan_interval": 0.0,
        "compile_bytecode": False,
    }
    settings.update(uv_kernels or {})
    kernelspec_dir = Path(settings.get("kernelspec_dir") or home / ".local/share/jupyter/kernels")
    config = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "allow_root": True,
            "root_dir": str(workdir),
            "jpserver_extensions": {**OTHER_EXTENSIONS_OFF, "jupyter_uv_kernels": True},
        },
        "IdentityProvider": {"token": token},
        "UvKernels": settings,
    }
    config_file = workdir / f"{name}-config.json"
    config_file.write_text(json.dumps(config, indent=1))
    argv = [sys.executable, "-c", _BOOT, f"--config={config_file}"]
    if unprivileged and os.geteuid() == 0:
        argv = ["unshare", "-U", *argv]
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=server_environment(home, uv_cache, env or {}),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(
        base_url=f"http://127.0.0.1:{port}/",
        token=token,
        proc=proc,
        log_path=log_path,
        home=home,
        kernelspec_dir=kernelspec_dir,
        roots=list(roots),
    )
    deadline = time.monotonic() + startup_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(requests.ConnectionError):
            if server.request("GET", "api/status", timeout=5).status_code == 200:
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server did not answer in {startup_timeout} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running_server(workdir: Path, roots: list[Path], **kwargs: Any) -> Iterator[LiveServer]:
    server = start_server(workdir, roots, **kwargs)
    try:
        yield server
    finally:
        server.stop()


# -- filesystem snapshots -----------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, int, str]]


def snapshot(*paths: Path) -> Snapshot:
    """Every entry below ``paths``: (type, size, mtime_ns, sha256 of a file / a link's target).

    Directories count too (their mtime changes when an entry is added or removed). Symlinks
    are recorded, not followed, so a link out of a root does not pull its target in.
    """
    out: Snapshot = {}

    def record(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if os.path.islink(path):
            out[path] = ("link", st.st_size, st.st_mtime_ns, os.readlink(path))
        elif os.path.isdir(path):
            out[path] = ("dir", 0, st.st_mtime_ns, "")
        elif os.path.isfile(path):
            digest = hashlib.sha256()
            try:
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                content = digest.hexdigest()
            except OSError as e:
                content = f"unreadable: {e.errno}"
            out[path] = ("file", st.st_size, st.st_mtime_ns, content)
        else:
            out[path] = ("other", st.st_size, st.st_mtime_ns, "")

    for top in paths:
        record(str(top))
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for name in dirnames + filenames:
                record(os.path.join(dirpath, name))
    return out


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths added, removed or changed in any recorded attribute."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
