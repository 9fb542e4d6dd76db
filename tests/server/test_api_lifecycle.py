"""Every route's happy path, followed to what a user checks: lists, kernelspecs, a real kernel."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project

from .conftest import Api, run_in_kernel

PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


async def kernelspecs(api: Api) -> dict[str, Any]:
    reply = await api.fetch("api", "kernelspecs")
    specs: dict[str, Any] = json.loads(reply.body)["kernelspecs"]
    return specs


async def package_names(api: Api, env_id: str) -> set[str]:
    detail = (await api.get("environments", env_id, expect=200)).body
    return {p["name"] for p in detail["packages"]}


async def test_given_the_server_when_pythons_are_listed_then_they_are_usable(api: Api) -> None:
    pythons = (await api.get("pythons", expect=200)).body["pythons"]
    assert pythons, "no interpreter found"
    assert all(os.access(p["path"], os.X_OK) for p in pythons)
    assert any(p["version"].startswith(PY_VERSION) for p in pythons)


async def test_given_a_project_when_created_added_removed_synced_unregistered_then_each_works(
    api: Api, uv_root: Path
) -> None:
    # Given a root with nothing in it, when a project is created through the API
    reply = await api.post(
        "environments",
        body={"path": "analysis", "python": PY_VERSION, "packages": ["six"]},
        expect=202,
    )
    queued = reply.body["operation"]
    assert queued["action"] == "create" and queued["state"] in ("queued", "running")
    assert queued["path"] == str(uv_root / "analysis")
    created = await api.wait_op(queued["id"])
    op = created[0]
    assert op["state"] == "succeeded", created[1]
    assert any(e["stream"] == "stderr" for e in created[1]), "uv's output is in the log"
    for stamp in ("created_at", "started_at", "finished_at"):
        datetime.fromisoformat(op[stamp])

    # then it is listed ready, with a kernel that Jupyter lists too
    env = await api.env_at(uv_root / "analysis")
    assert env["id"] == op["env_id"] == op["environment"]["id"]
    assert env["kind"] == "project" and env["status"] == "ready", env
    assert env["python"].startswith(PY_VERSION)
    kernel = env["kernel"]
    specs = await kernelspecs(api)
    assert kernel in specs
    assert "analysis" in specs[kernel]["spec"]["display_name"]

    # When a package is added, a kernel started from the spec imports it
    added = await api.run(
        "POST", "environments", env["id"], "packages", body={"packages": ["iniconfig"]}
    )
    assert added["state"] == "succeeded", added["_log"]
    assert "iniconfig" in (uv_root / "analysis" / "pyproject.toml").read_text()
    out = await run_in_kernel(
        api,
        kernel,
        "import sys, six, iniconfig; print(sys.prefix); print(six.__name__, iniconfig.__name__)",
    )
    prefix, modules = out.strip().splitlines()
    assert os.path.realpath(prefix) == os.path.realpath(uv_root / "analysis" / ".venv")
    assert modules == "six iniconfig"

    # The detail view has the installed packages, the exact drift and pip check
    detail = (await api.get("environments", env["id"], expect=200)).body
    names = {p["name"] for p in detail["packages"]}
    assert {"six", "iniconfig", "ipykernel"} <= names
    assert detail["drift"]["checked"] and detail["drift"]["in_sync"] is True
    assert detail["pip_check"]["ok"] is True

    # When the package is removed, it is gone from pyproject.toml and the environment
    removed = await api.run("DELETE", "environments", env["id"], "packages", "iniconfig")
    assert removed["state"] == "succeeded", removed["_log"]
    assert "iniconfig" not in (uv_root / "analysis" / "pyproject.toml").read_text()
    assert "iniconfig" not in await package_names(api, env["id"])

    # Sync (frozen by default, or relocking) succeeds and leaves the env ready
    for body in (None, {"relock": True}):
        synced = await api.run("POST", "environments", env["id"], "sync", body=body)
        assert synced["state"] == "succeeded", synced["_log"]
        assert synced["environment"]["status"] == "ready"

    # Unregistering removes the kernelspec; registering brings it back with a chosen label
    gone = (await api.delete("environments", env["id"], "kernel", expect=200)).body
    assert gone["removed"] == [kernel] and gone["environment"]["kernel"] is None
    assert kernel not in await kernelspecs(api)
    registered = await api.run(
        "POST", "environments", env["id"], "kernel", body={"display_name": "My analysis"}
    )
    assert registered["state"] == "succeeded", registered["_log"]
    assert registered["environment"]["kernel"] == kernel
    assert (await kernelspecs(api))[kernel]["spec"]["display_name"] == "My analysis"

    # Every operation is in the history, oldest first
    history = (await api.get("operations", expect=200)).body["operations"]
    ids = [o["id"] for o in history]
    mine = [op["id"], added["id"], removed["id"], registered["id"]]
    assert [i for i in ids if i in mine] == mine

    # The log can be read from an offset
    full = (await api.get("operations", op["id"], expect=200)).body
    tail = (await api.get("operations", op["id"], params={"since": 2}, expect=200)).body
    assert tail["log"] == full["log"][2:] and tail["next"] == full["next"] == op["log_length"]
    past_end = (await api.get("operations", op["id"], params={"since": 10**6}, expect=200)).body
    assert past_end["log"] == [] and past_end["next"] == op["log_length"]


async def test_given_a_venv_when_taken_through_its_lifecycle_then_uv_pip_is_used(
    api: Api, uv_root: Path
) -> None:
    (uv_root / "envs").mkdir()
    op = await api.run(
        "POST",
        "environments",
        body={"path": "envs/tools", "kind": "venv", "python": sys.executable, "packages": ["six"]},
    )
    assert op["state"] == "succeeded", op["_log"]
    env = await api.env_at(uv_root / "envs" / "tools")
    assert env["kind"] == "venv" and env["status"] == "ready" and env["kernel"]
    assert not (uv_root / "envs" / "tools" / "pyproject.toml").exists()

    added = await api.run(
        "POST", "environments", env["id"], "packages", body={"packages": ["iniconfig>=1"]}
    )
    assert added["state"] == "succeeded", added["_log"]
    out = await run_in_kernel(api, env["kernel"], "import iniconfig, six; print('both')")
    assert out.strip() == "both"

    removed = await api.run("DELETE", "environments", env["id"], "packages", "six")
    assert removed["state"] == "succeeded", removed["_log"]
    assert "six" not in await package_names(api, env["id"])

    # A venv has no lock: syncing it is a 400 with a hint, and no operation is queued
    reply = await api.post("environments", env["id"], "sync", expect=400)
    assert "uv pip" in reply.body["message"]
    detail = (await api.get("environments", env["id"], expect=200)).body
    assert detail["drift"]["checked"] is False


async def test_given_no_ipykernel_when_registered_then_it_is_installed_as_a_dev_dependency(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "bare", "six")
    env = await api.env_at(project, rescan=True)
    assert env["status"] == "needs-ipykernel" and env["kernel"] is None

    # Refusing the install is a conflict, and nothing is changed
    before = (project / "pyproject.toml").read_bytes()
    reply = await api.post(
        "environments", env["id"], "kernel", body={"add_ipykernel": False}, expect=409
    )
    assert "ipykernel" in reply.body["message"]
    assert (project / "pyproject.toml").read_bytes() == before

    op = await api.run("POST", "environments", env["id"], "kernel")
    assert op["state"] == "succeeded", op["_log"]
    assert op["environment"]["status"] == "ready"
    kernel = op["environment"]["kernel"]
    assert kernel in await kernelspecs(api)
    # `uv add --dev`, so that the next `uv sync` keeps it
    assert "[dependency-groups]" in (project / "pyproject.toml").read_text()
    listed = await api.env_at(project)
    assert listed["kernel"] == kernel and listed["status"] == "ready"


@pytest.fixture
def held_scans(uv_root: Path) -> Iterator[threading.Event]:
    """Every directory read of a scan waits for the returned event (a slow GLADE metadata
    server). Requested before ``api``, so it holds the server's first scan too."""
    from jupyter_uv_kernels.discovery import set_directory_hook

    gate = threading.Event()
    for i in range(5):
        (uv_root / f"d{i}").mkdir()
    set_directory_hook(lambda path: gate.wait(30))
    try:
        yield gate
    finally:
        gate.set()
        set_directory_hook(None)


async def test_given_a_slow_first_scan_then_the_server_answers_before_it_ends(
    held_scans: threading.Event, api: Api, uv_root: Path
) -> None:
    listing = (await api.get("environments", expect=200)).body
    assert listing["scanning"] is True and listing["scanned_at"] is None
    assert listing["roots"] == [str(uv_root)]
    # A request for an id before the first scan says so.
    reply = await api.get("environments", "0123456789abcdef", expect=404)
    assert "first scan" in reply.body["message"]

    held_scans.set()
    done = await api.wait_for_scan()
    assert done["scanned_at"] is not None and done["partial"] is False


async def test_given_the_server_then_its_openapi_document_is_served_and_valid(
    api: Api, openapi_spec: dict
) -> None:
    from openapi_spec_validator import validate

    served = (await api.get("openapi.json", expect=200)).body
    validate(served)
    # The checker validates every response against this same document.
    assert served["paths"] == openapi_spec["paths"]
    assert served["components"] == openapi_spec["components"]
    assert served["servers"][0]["url"].endswith("/uv-kernels")


def test_given_the_openapi_document_then_it_documents_exactly_the_routes() -> None:
    from jupyter_uv_kernels.handlers import default_handlers, openapi_document

    def normalise(pattern: str) -> str:
        import re

        return re.sub(r"\(\?P<[^>]+>[^)]+\)", "{}", pattern.replace("\\.", "."))

    served = {normalise(p).removeprefix("/uv-kernels") for p, _ in default_handlers}
    documented = {__import__("re").sub(r"\{[^}]+\}", "{}", p) for p in openapi_document()["paths"]}
    assert served == documented
    for pattern, handler in default_handlers:
        path = normalise(pattern).removeprefix("/uv-kernels")
        doc_path = next(
            p
            for p in openapi_document()["paths"]
            if __import__("re").sub(r"\{[^}]+\}", "{}", p) == path
        )
        documented_methods = {m for m in openapi_document()["paths"][doc_path] if m != "parameters"}
        implemented = {
            m.lower() for m in handler.SUPPORTED_METHODS if m.lower() in handler.__dict__
        }
        assert implemented == documented_methods, (pattern, implemented, documented_methods)
