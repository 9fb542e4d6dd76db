"""Operations that fail, time out or are cancelled leave the user's files as they were."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_sync, make_project, project_files

from .conftest import Api, PackageIndex, listed_with_files, make_indexed_project, tree_snapshot

UNRESOLVABLE = "nonexistent-package-xyz-123==9.9"


async def wait_for(event: Any, timeout: float) -> bool:
    """Wait for a threading.Event without blocking the server's loop."""
    deadline = time.monotonic() + timeout
    while not event.is_set():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def stalling_project(
    api: Api, uv_root: Path, package_index: PackageIndex
) -> tuple[Path, dict[str, Any], dict[str, bytes]]:
    """A project whose next `slowpkg` download from the local index stalls; returns the
    project, its record and its files as they were."""
    project = make_indexed_project(uv_root / "p", package_index, "slowpkg")
    env, before = await listed_with_files(api, project)
    package_index.stall_next_download()
    return project, env, before


async def add_until_stalled(
    api: Api, env: dict[str, Any], package_index: PackageIndex
) -> dict[str, Any]:
    """Start adding `slowpkg` and wait until uv is stuck in its download; the operation."""
    reply = await api.post(
        "environments", env["id"], "packages", body={"packages": ["slowpkg"]}, expect=202
    )
    assert await wait_for(package_index.stalling, 60), "uv never started the download"
    return reply.body["operation"]


async def test_given_an_add_that_fails_then_pyproject_and_lock_stay_byte_identical(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "p", "ipykernel")
    env, before = await listed_with_files(api, project)

    op = await api.run(
        "POST", "environments", env["id"], "packages", body={"packages": [UNRESOLVABLE]}
    )

    assert op["state"] == "failed"
    assert "nonexistent-package-xyz-123" in op["message"]
    assert project_files(project) == before
    # and the env matches the restored lock (uv had rebuilt the project's own package)
    assert in_sync(project)
    assert op["environment"]["status"] == "ready"


async def test_given_no_such_dependency_when_removed_then_it_is_refused_and_nothing_changes(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "p", "ipykernel")
    env, before = await listed_with_files(api, project)
    operations = len((await api.get("operations", expect=200)).body["operations"])

    reply = await api.delete("environments", env["id"], "packages", "not-a-dependency", expect=409)

    assert "not a dependency" in reply.body["message"]
    assert len((await api.get("operations", expect=200)).body["operations"]) == operations
    assert project_files(project) == before and in_sync(project)


@pytest.mark.parametrize("kind", ["project", "venv"])
async def test_given_a_create_that_fails_then_it_removes_only_what_it_made(
    api: Api, uv_root: Path, kind: str
) -> None:
    (uv_root / "keep.txt").write_text("the user's file")
    (uv_root / "empty").mkdir()  # an existing empty directory is allowed as a target
    before = tree_snapshot(uv_root)

    for target in ("new-dir", "empty"):
        op = await api.run(
            "POST",
            "environments",
            body={
                "path": target,
                "kind": kind,
                "python": sys.executable,
                "packages": [UNRESOLVABLE],
            },
        )
        assert op["state"] == "failed", op["_log"]
        assert op["environment"] is None

    assert not (uv_root / "new-dir").exists()
    assert (uv_root / "empty").is_dir() and not os.listdir(uv_root / "empty")
    after = tree_snapshot(uv_root)
    assert set(after) == set(before)
    assert (uv_root / "keep.txt").read_text() == "the user's file"
    listing = await api.rescan()
    assert listing["environments"] == []


async def test_given_a_stalled_download_when_cancelled_then_uv_stops_and_a_sync_repairs(
    api: Api, uv_root: Path, package_index: PackageIndex
) -> None:
    project, env, before = await stalling_project(api, uv_root, package_index)

    op_id = (await add_until_stalled(api, env, package_index))["id"]
    assert (await api.get("operations", op_id, expect=200)).body["operation"]["state"] == "running"

    cancelled = (await api.delete("operations", op_id, expect=200)).body["operation"]

    assert cancelled["state"] == "cancelled", cancelled
    assert cancelled["finished_at"] is not None
    # uv (the process holding the download) is gone: the index saw its connection close.
    assert await wait_for(package_index.client_gone, 10)
    # uv was killed before it could undo its edit: the files are put back as they were,
    # and the env matches them, so the badge's "ready" is true.
    assert project_files(project) == before
    assert in_sync(project) and cancelled["environment"]["status"] == "ready"
    # Cancelling again is harmless.
    again = (await api.delete("operations", op_id, expect=200)).body["operation"]
    assert again["state"] == "cancelled"

    # A fresh sync makes the environment match its lock again, and it works.
    synced = await api.run("POST", "environments", env["id"], "sync")
    assert synced["state"] == "succeeded", synced["_log"]
    assert synced["environment"]["status"] == "ready"
    python = project / ".venv" / "bin" / "python"
    check = subprocess.run(
        [str(python), "-c", "import ipykernel, importlib.util as u; print(u.find_spec('slowpkg'))"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == "None"


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], request: pytest.FixtureRequest) -> dict:
    if "timeout" in request.node.name:
        # Long enough for uv to reach the stalling download on a loaded 2-core runner.
        return {**uv_kernels_config, "operation_timeout": 10.0}
    return uv_kernels_config


async def test_given_an_operation_timeout_when_exceeded_then_the_run_fails_with_a_message(
    api: Api, uv_root: Path, package_index: PackageIndex
) -> None:
    project, env, before = await stalling_project(api, uv_root, package_index)

    op = await api.run(
        "POST", "environments", env["id"], "packages", body={"packages": ["slowpkg"]}
    )

    assert op["state"] == "failed"
    assert "operation_timeout" in op["message"] and "stopped after 10" in op["message"]
    assert await wait_for(package_index.client_gone, 10)
    assert project_files(project) == before
    assert in_sync(project) and op["environment"]["status"] == "ready"


async def test_given_a_queued_operation_when_cancelled_then_it_never_runs(
    api: Api, uv_root: Path, package_index: PackageIndex
) -> None:
    _, env, _ = await stalling_project(api, uv_root, package_index)
    first = await add_until_stalled(api, env, package_index)
    queued = (await api.post("environments", env["id"], "sync", expect=202)).body["operation"]
    assert (await api.get("operations", queued["id"], expect=200)).body["operation"][
        "state"
    ] == "queued"

    cancelled = (await api.delete("operations", queued["id"], expect=200)).body["operation"]

    assert cancelled["state"] == "cancelled" and cancelled["started_at"] is None
    assert (await api.get("operations", first["id"], expect=200)).body["operation"][
        "state"
    ] == "running"
    package_index.release()
    done, log = await api.wait_op(first["id"])
    assert done["state"] == "succeeded", log


async def test_given_a_running_create_when_cancelled_then_it_removes_what_it_made(
    api: Api, uv_root: Path, package_index: PackageIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    # slowpkg comes from the local index (UV_INDEX reaches uv through the server's env).
    monkeypatch.setenv("UV_INDEX", f"local={package_index.url}")
    await api.wait_for_scan()
    before = tree_snapshot(uv_root)
    package_index.stall_next_download()

    reply = await api.post(
        "environments",
        body={"path": "new-env", "kind": "venv", "python": sys.executable, "packages": ["slowpkg"]},
        expect=202,
    )
    op_id = reply.body["operation"]["id"]
    assert await wait_for(package_index.stalling, 60), "uv never started the download"
    assert (uv_root / "new-env" / "pyvenv.cfg").exists()
    # A second create of the same path while the first runs is a conflict.
    await api.post("environments", body={"path": "new-env"}, expect=409)

    cancelled = (await api.delete("operations", op_id, expect=200)).body["operation"]

    assert cancelled["state"] == "cancelled" and cancelled["environment"] is None
    assert await wait_for(package_index.client_gone, 10)
    assert not (uv_root / "new-env").exists()
    assert tree_snapshot(uv_root) == before


async def test_given_running_operations_when_the_server_stops_then_they_are_cancelled(
    api: Api, uv_root: Path, package_index: PackageIndex
) -> None:
    project, env, before = await stalling_project(api, uv_root, package_index)
    started = await add_until_stalled(api, env, package_index)
    extension = api.serverapp.extension_manager.extension_points["jupyter_uv_kernels"].app

    await extension.stop_extension()

    op = extension.service.operations.get(started["id"])
    assert op.state == "cancelled"
    assert await wait_for(package_index.client_gone, 10)
    assert project_files(project) == before
    # A stopped server queues nothing new.
    reply = await api.post("environments", env["id"], "sync", expect=503)
    assert "shutting down" in reply.body["message"]
