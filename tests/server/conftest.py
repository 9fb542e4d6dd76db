"""A real Jupyter server with the extension, and a client that checks every answer.

- ``jp_server_config`` enables the extension with ``allow_unauthenticated_access: False``,
  a fixed token, and one tmp root (``uv_root``). Tests change UvKernels traits by overriding
  the ``uv_kernels_config`` fixture.
- ``api`` wraps ``jp_fetch``: every response, success or error, is validated against the
  served OpenAPI document's schema for that route, method and status.
- ``package_index`` is a tiny PEP 503 index on 127.0.0.1 whose wheel download can be made to
  stall, so cancel and timeout are exercised on a real uv mid-download.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import os
import re
import select
import socket
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from jupyter_uv_kernels.handlers import openapi_document
from tests.conftest import PYTHON, project_files, uv

TOKEN = "uv-kernels-test-token"
SPEC_URI = "urn:uv-kernels:openapi"
FINAL_STATES = ("succeeded", "failed", "cancelled")


# -- server configuration ---------------------------------------------------------------


@pytest.fixture
def uv_root(tmp_path: Path) -> Path:
    """The configured root, resolved (tmp_path may sit behind a symlink)."""
    root = tmp_path / "work"
    root.mkdir()
    return Path(os.path.realpath(root))


@pytest.fixture
def uv_kernels_config(uv_root: Path, jp_data_dir: Path) -> dict[str, Any]:
    return {
        "roots": [str(uv_root)],
        "kernelspec_dir": str(jp_data_dir / "kernels"),
        # Bytecode compilation triples install times; one lifecycle test turns it back on.
        "compile_bytecode": False,
        # Periodic rescans off unless a test is about them: results stay deterministic.
        "rescan_interval": 0.0,
        "operation_timeout": 300.0,
    }


@pytest.fixture
def jp_server_config(uv_kernels_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            # Terminals off: pytest-jupyter adds them otherwise, and their websocket handler
            # trips the same auth warning our check_auth test looks for.
            "jpserver_extensions": {"jupyter_uv_kernels": True, "jupyter_server_terminals": False},
            "allow_root": True,
            "allow_unauthenticated_access": False,
        },
        "IdentityProvider": {"token": TOKEN},
        "UvKernels": uv_kernels_config,
    }


# -- the OpenAPI-checking client ----------------------------------------------------------


@pytest.fixture(scope="session")
def openapi_spec() -> dict[str, Any]:
    from openapi_spec_validator import validate

    document = openapi_document()
    validate(document)
    return document


def _route_regex(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
    return re.compile(f"^{pattern}$")


class SpecChecker:
    """Validates a response body against the schema the spec gives for it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
        )
        self.routes = [(_route_regex(t), t) for t in spec["paths"]]
        #: (method, template, status) of every response checked in this test
        self.seen: set[tuple[str, str, int]] = set()

    def template_for(self, path: str) -> str:
        for regex, template in self.routes:
            if regex.match(path):
                return template
        raise AssertionError(f"{path} is not described by the OpenAPI document")

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        template = self.template_for(path)
        operation = self.spec["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not in the OpenAPI document"
        responses = operation["responses"]
        assert str(status) in responses, (
            f"{method} {template} answered {status}, which the document does not list: {body}"
        )
        ref = "/".join(
            p.replace("~", "~0").replace("/", "~1")
            for p in ("paths", template, method.lower(), "responses", str(status))
        )
        response = responses[str(status)]
        if "$ref" in response:
            ref = response["$ref"].lstrip("#/")
        schema = {"$ref": f"{SPEC_URI}#/{ref}/content/application~1json/schema"}
        Draft202012Validator(schema, registry=self.registry).validate(body)
        self.seen.add((method.upper(), template, status))


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Api:
    """``uv-kernels`` client: JSON in, validated JSON out."""

    def __init__(self, fetch: Any, checker: SpecChecker, serverapp: Any) -> None:
        self.fetch = fetch
        self.checker = checker
        self.serverapp = serverapp

    async def call(
        self,
        method: str,
        *parts: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> Reply:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            kwargs["body"] = b""
        if method == "DELETE" and body is not None:
            kwargs["allow_nonstandard_methods"] = True
        response = await self.fetch("uv-kernels", *parts, params=params, headers=headers, **kwargs)
        text = response.body.decode("utf-8") if response.body else ""
        try:
            data = json.loads(text)
        except ValueError:
            raise AssertionError(
                f"{method} {'/'.join(parts)} answered {response.code} with non-JSON {text[:300]!r}"
            ) from None
        assert response.headers.get("Content-Type", "").startswith("application/json")
        assert "Traceback" not in text
        self.checker.check(method, "/" + "/".join(parts), response.code, data)
        if expect is not None:
            assert response.code == expect, f"{method} {'/'.join(parts)}: {response.code} {data}"
        return Reply(response.code, data, dict(response.headers))

    async def get(self, *parts: str, **kw: Any) -> Reply:
        return await self.call("GET", *parts, **kw)

    async def post(self, *parts: str, **kw: Any) -> Reply:
        return await self.call("POST", *parts, **kw)

    async def delete(self, *parts: str, **kw: Any) -> Reply:
        return await self.call("DELETE", *parts, **kw)

    # -- helpers built on the routes ------------------------------------------------------

    async def wait_for_scan(self, timeout: float = 60) -> dict[str, Any]:
        """Wait until a scan has finished and none is running; returns the listing."""
        deadline = time.monotonic() + timeout
        while True:
            listing = (await self.get("environments", expect=200)).body
            if listing["scanned_at"] is not None and not listing["scanning"]:
                return listing  # type: ignore[no-any-return]
            assert time.monotonic() < deadline, "the scan did not finish"
            await asyncio.sleep(0.05)

    async def rescan(self) -> dict[str, Any]:
        await self.post("refresh", expect=202)
        return await self.wait_for_scan()

    async def env_at(self, path: Path | str, *, rescan: bool = False) -> dict[str, Any]:
        listing = await (self.rescan() if rescan else self.wait_for_scan())
        real = os.path.realpath(path)
        for env in listing["environments"]:
            if os.path.realpath(env["path"]) == real:
                return env  # type: ignore[no-any-return]
        listed = [e["path"] for e in listing["environments"]]
        raise AssertionError(f"{path} is not listed: {listed}")

    async def wait_op(self, op_id: str, timeout: float = 240) -> tuple[dict[str, Any], list]:
        """Follow an operation to its end, reading the log incrementally like the panel."""
        deadline = time.monotonic() + timeout
        since = 0
        log: list[dict[str, str]] = []
        while True:
            reply = await self.get("operations", op_id, params={"since": since}, expect=200)
            log += reply.body["log"]
            since = reply.body["next"]
            assert since == len(log)
            op = reply.body["operation"]
            if op["state"] in FINAL_STATES:
                return op, log
            assert time.monotonic() < deadline, f"operation still {op['state']}: {log[-5:]}"
            await asyncio.sleep(0.05)

    async def run(self, method: str, *parts: str, body: Any = None) -> dict[str, Any]:
        """Start an operation (202) and wait for it; returns the final operation."""
        reply = await self.call(method, *parts, body=body, expect=202)
        op = reply.body["operation"]
        assert reply.headers["Location"].endswith(f"/uv-kernels/operations/{op['id']}")
        final, log = await self.wait_op(op["id"])
        final["_log"] = log
        return final


@pytest.fixture
def api(jp_fetch: Any, openapi_spec: dict[str, Any], jp_serverapp: Any) -> Api:
    return Api(jp_fetch, SpecChecker(openapi_spec), jp_serverapp)


# -- filesystem snapshots ---------------------------------------------------------------


async def listed_with_files(api: Api, project: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The server's record of ``project`` after a rescan, and its files as they are now."""
    env = await api.env_at(project, rescan=True)
    return env, project_files(project)


def tree_snapshot(*roots: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry below ``roots`` with type, size, mtime and link target.

    Inside ``site-packages`` only the top-level entries are recorded: installing or removing
    anything adds or removes one of them, and walking thousands of package files per
    request would dominate the test time.
    """
    out: dict[str, tuple[Any, ...]] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                link = os.readlink(full) if os.path.islink(full) else None
                out[full] = (st.st_mode, st.st_size, st.st_mtime_ns, link)
            if os.path.basename(dirpath) == "site-packages":
                dirnames[:] = []
    return out


# -- kernels ----------------------------------------------------------------------------


async def run_in_kernel(
    api: Api, kernel_name: str, code: str, timeout: float = 90, path: str | None = None
) -> str:
    """Start ``kernel_name`` through /api/kernels, run ``code`` over ZMQ, return its stdout.

    ``path`` (relative to the server's root_dir) is the kernel's working directory, as
    JupyterLab sends the notebook's folder."""
    body = {"name": kernel_name, **({"path": path} if path is not None else {})}
    reply = await api.fetch(
        "api",
        "kernels",
        method="POST",
        body=json.dumps(body),
        request_timeout=timeout,
    )
    kernel_id = json.loads(reply.body)["id"]
    manager = api.serverapp.kernel_manager.get_kernel(kernel_id)
    client = manager.client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=timeout)

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR: " + "\n".join(msg["content"]["traceback"]))

        reply_msg = await client.execute_interactive(code, output_hook=hook, timeout=timeout)
        assert reply_msg["content"]["status"] == "ok", "".join(out)
    finally:
        client.stop_channels()
        await api.fetch("api", "kernels", kernel_id, method="DELETE")
    return "".join(out)


# -- a local package index whose downloads can stall -------------------------------------


def _wheel(name: str, version: str) -> tuple[bytes, bytes]:
    """A minimal pure-Python wheel and its METADATA."""
    dist = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/METADATA": metadata,
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return buf.getvalue(), metadata


class PackageIndex:
    """PEP 503 simple index on 127.0.0.1 serving wheels built on the fly.

    ``stall_next_download()`` makes the next wheel download send part of the file and then
    hang until the client goes away (``client_gone`` is set) or ``release()`` is called.
    """

    def __init__(self, packages: dict[str, str]) -> None:
        self.wheels = {}
        for name, version in packages.items():
            wheel, metadata = _wheel(name, version)
            self.wheels[name] = (f"{name}-{version}-py3-none-any.whl", wheel, metadata)
        self.stall = threading.Event()
        self.stalling = threading.Event()
        self.client_gone = threading.Event()
        self._release = threading.Event()
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                index.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def stall_next_download(self) -> None:
        self.stalling.clear()
        self.client_gone.clear()
        self._release.clear()
        self.stall.set()

    def release(self) -> None:
        self._release.set()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = [p for p in req.path.split("?")[0].split("/") if p]
        if len(parts) == 2 and parts[0] == "simple" and parts[1] in self.wheels:
            filename, wheel, metadata = self.wheels[parts[1]]
            sha = hashlib.sha256(wheel).hexdigest()
            msha = hashlib.sha256(metadata).hexdigest()
            page = (
                f'<html><body><a href="/files/{filename}#sha256={sha}" '
                f'data-dist-info-metadata="sha256={msha}" data-core-metadata="sha256={msha}">'
                f"{filename}</a></body></html>"
            ).encode()
            return self._send(req, page, "text/html")
        if len(parts) == 2 and parts[0] == "files":
            for filename, wheel, metadata in self.wheels.values():
                if parts[1] == filename + ".metadata":
                    return self._send(req, metadata, "application/octet-stream")
                if parts[1] == filename:
                    if self.stall.is_set():
                        self.stall.clear()
                        return self._stall(req, wheel)
                    return self._send(req, wheel, "application/octet-stream")
        req.send_error(404)

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, data: bytes, ctype: str) -> None:
        req.send_response(200)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _stall(self, req: BaseHTTPRequestHandler, data: bytes) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data[:64])
        req.wfile.flush()
        self.stalling.set()
        conn: socket.socket = req.connection
        deadline = time.monotonic() + 120
        while not self._release.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([conn], [], [], 0.05)
            if readable:
                with contextlib.suppress(OSError):
                    if conn.recv(1, socket.MSG_PEEK) != b"":
                        continue
                self.client_gone.set()  # EOF or reset: the downloading process is gone
                return
        with contextlib.suppress(OSError):
            req.wfile.write(data[64:])

    def __enter__(self) -> PackageIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def package_index() -> Iterator[PackageIndex]:
    with PackageIndex({"slowpkg": "1.0"}) as index:
        yield index


def make_indexed_project(path: Path, index: PackageIndex, *packages: str) -> Path:
    """A uv project with ipykernel whose ``packages`` come from the local index (configured
    in pyproject.toml before locking, as a user would), in sync with its lock."""
    uv("init", "--no-workspace", "--vcs", "none", "--python", PYTHON, str(path))
    sources = "\n".join(f'{p} = {{ index = "local" }}' for p in packages)
    with open(path / "pyproject.toml", "a") as f:
        f.write(
            f'\n[[tool.uv.index]]\nname = "local"\nurl = "{index.url}"\nexplicit = true\n'
            f"\n[tool.uv.sources]\n{sources}\n"
        )
    uv("add", "--project", str(path), "ipykernel")
    return path
