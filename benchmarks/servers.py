"""Real ``jupyter server`` subprocesses for the server figures, hermetic and on loopback.

Each server gets its own temporary HOME and JUPYTER_* dirs, a random token, a free port on
127.0.0.1 and ``--allow-root``. "With the extension" and "without" differ only in
``--ServerApp.jpserver_extensions``; everything else (JupyterLab and friends enabled by the
dev venv's config) is the same for both.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from trees import HERE, UV, UV_CACHE

VENV_BIN = Path(sys.executable).parent
LAB_EXTENSIONS = ("jupyterlab", "jupyter_lsp", "notebook_shim")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One running server; ``request`` talks to it over one keep-alive connection."""

    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, token: str, home: Path, label: str
    ) -> None:
        self.label = label
        self.proc = proc
        self.port = port
        self.token = token
        self.home = home
        self._conn: http.client.HTTPConnection | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 60) -> None:
        """Until ``GET /api/status`` answers; raises with the server's log if it died."""
        log_path = self.home / "server.log"
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited at start:\n{log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
                self.get("/api/status")
                return
            except (OSError, RuntimeError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.label} did not start in {timeout:g} s:\n"
                        + log_path.read_text()[-3000:]
                    ) from None
                time.sleep(0.05)

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 120
    ) -> tuple[int, Any]:
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"token {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self._conn.request(method, path, body=payload, headers=headers)
            resp = self._conn.getresponse()
            raw = resp.read()
        except (ConnectionError, http.client.HTTPException):
            self._conn.close()
            self._conn = None
            raise
        data: Any = None
        if raw:
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw.decode("utf-8", "replace")
        return resp.status, data

    def get(self, path: str) -> Any:
        status, data = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} -> {status}: {data}")
        return data

    def rss_bytes(self) -> int:
        """Resident set size of the server process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def jupyter_server(
    *,
    extension: bool,
    roots: list[str] | None = None,
    extra_args: list[str] | None = None,
    probe: bool = False,
    counter: bool = False,
    python: str | None = None,
    kernel_spec_manager: str | None = None,
    env_extra: dict[str, str] | None = None,
    label: str = "server",
    prepare: Callable[[Path], None] | None = None,
    wait: bool = True,
) -> Iterator[Server]:
    """Start a server; stop it and remove its temporary dirs on exit.

    ``probe`` also loads ``benchmarks/lag_probe.py`` (the event-loop lag probe), ``counter``
    ``benchmarks/metadata_counter.py`` (discovery's metadata calls, counted).
    ``python`` runs the server from another environment (the peers venv).
    ``prepare`` is called with the server's HOME before it starts (to write kernelspecs).
    ``wait=False`` returns as soon as the process is spawned (start several at once, then
    call ``wait_ready`` on each).
    """
    home = Path(tempfile.mkdtemp(prefix=f"uvk-bench-{label}-"))
    (home / ".jupyter").mkdir()
    (home / ".local/share/jupyter/kernels").mkdir(parents=True)
    (home / "root").mkdir()
    if prepare is not None:
        prepare(home)
    port = free_port()
    token = secrets.token_hex(16)
    extensions = {"jupyter_uv_kernels": extension}
    # JupyterLab's server side (and its helpers) is not what we measure: off in every
    # server, with or without our extension, so that starts are short and equal.
    extensions.update(dict.fromkeys(LAB_EXTENSIONS, False))
    if probe:
        extensions["lag_probe"] = True
    if counter:
        extensions["metadata_counter"] = True
    argv = [
        python or sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={home / 'root'}",
        f"--ServerApp.jpserver_extensions={extensions!r}",
    ]
    if extension:
        if not any(a.startswith("--UvKernels.uv=") for a in extra_args or []):
            argv.append(f"--UvKernels.uv={UV}")
        argv.append(f"--UvKernels.uv_cache_dir={UV_CACHE}")
        # A List trait on the command line: one occurrence per item.
        argv += [f"--UvKernels.roots={r}" for r in roots or []]
    if kernel_spec_manager:
        argv.append(f"--ServerApp.kernel_spec_manager_class={kernel_spec_manager}")
    extra = extra_args or []
    if not any(a.startswith("--ServerApp.log_level") for a in extra):
        argv.append("--ServerApp.log_level=WARN")
    argv += extra
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONDA_", "JUPYTER_")) and k not in ("VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local/share/jupyter"),
        JUPYTER_RUNTIME_DIR=str(home / ".local/share/jupyter/runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        UV_CACHE_DIR=str(UV_CACHE),
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_PROGRESS="1",
        PATH=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", os.defpath)]),
        PYTHONPATH=str(HERE),
    )
    env.update(env_extra or {})
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        # cwd is the server's HOME: `python -m` puts the cwd first on sys.path, and a server
        # started from the repository must import the package PYTHONPATH names (--baseline).
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(home))
    server = Server(proc, port, token, home, label)
    try:
        if wait:
            server.wait_ready()
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def server_log(server: Server) -> str:
    try:
        return (server.home / "server.log").read_text()[-5000:]
    except OSError:
        return ""
