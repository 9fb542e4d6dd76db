"""Background discovery and an event loop that never waits on the filesystem or uv."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project, make_venv

from .conftest import Api

LAG_LIMIT = 0.2


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], request: pytest.FixtureRequest) -> dict:
    if "rescan_interval" in request.node.name:
        return {**uv_kernels_config, "rescan_interval": 0.5}
    if "fall_back" in request.node.name:
        return {**uv_kernels_config, "roots": []}
    return uv_kernels_config


async def kernel_names(api: Api) -> set[str]:
    reply = await api.fetch("api", "kernelspecs")
    return set(json.loads(reply.body)["kernelspecs"])


async def test_given_an_env_made_outside_the_api_when_refreshed_then_it_appears(
    api: Api, uv_root: Path
) -> None:
    first = await api.wait_for_scan()
    assert first["environments"] == []

    # A researcher makes a venv in a terminal...
    make_venv(uv_root / "terminal-env", "ipykernel")
    # ...and presses refresh: the env and its kernel appear, without a server restart.
    refreshed = (await api.post("refresh", expect=202)).body
    assert refreshed == {"scanning": True, "scanned_at": first["scanned_at"]}
    env = await api.env_at(uv_root / "terminal-env")
    assert env["status"] == "ready" and env["kernel"]
    assert env["kernel"] in await kernel_names(api)

    # Removing it on disk removes it from the list and its kernel from Jupyter.
    shutil.rmtree(uv_root / "terminal-env")
    reply = await api.get("environments", env["id"], expect=404)
    assert "refresh" in reply.body["message"]
    listing = await api.rescan()
    assert listing["environments"] == []
    assert env["kernel"] not in await kernel_names(api)


async def test_given_an_env_made_outside_the_api_when_the_rescan_interval_passes_then_it_appears(
    api: Api, uv_root: Path
) -> None:
    await api.wait_for_scan()
    make_venv(uv_root / "later", "ipykernel")

    deadline = time.monotonic() + 30
    while True:  # no refresh request: only the periodic rescan can find it
        listing = (await api.get("environments", expect=200)).body
        found = [e for e in listing["environments"] if e["path"] == str(uv_root / "later")]
        if found and found[0]["kernel"]:
            break
        assert time.monotonic() < deadline, "the periodic rescan never found the new env"
        await asyncio.sleep(0.1)
    assert found[0]["kernel"] in await kernel_names(api)


def build_large_tree(root: Path, count: int = 20000) -> None:
    per_dir = 100
    for i in range(count // per_dir):
        group = root / "data" / f"run{i:03d}"
        for j in range(per_dir):
            os.makedirs(group / f"member{j:03d}" / "output", exist_ok=True)


async def test_given_a_large_scan_and_an_operation_then_the_loop_stays_responsive(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "p", "ipykernel")
    shutil.rmtree(project / ".venv")  # the sync below has real work to do
    await asyncio.to_thread(build_large_tree, uv_root)
    env = await api.env_at(project, rescan=True)

    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.005)
            lags.append(time.monotonic() - before - 0.005)

    prober = asyncio.create_task(probe())
    try:
        started = time.monotonic()
        op = (await api.post("environments", env["id"], "sync", expect=202)).body["operation"]
        rescans = []
        for _ in range(2):
            before = time.monotonic()
            await api.rescan()
            rescans.append(time.monotonic() - before)
        final, log = await api.wait_op(op["id"])
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        await prober

    assert final["state"] == "succeeded", log
    listing = await api.wait_for_scan()
    assert [e["status"] for e in listing["environments"]] == ["ready"]
    assert elapsed > 0.3, "the scans were too quick to measure anything"
    assert len(lags) > 20
    # A walk on the loop would block it for a whole rescan. Under load (two test workers on
    # two cores) everything stretches, the rescans too: the limit is half the shortest one,
    # never under LAG_LIMIT.
    limit = max(LAG_LIMIT, min(rescans) / 2)
    assert max(lags) < limit, f"event loop blocked for {max(lags):.3f} s (rescans: {rescans})"


async def test_given_empty_roots_then_they_fall_back_to_the_server_root_dir(
    api: Api, jp_root_dir: Path
) -> None:
    from jupyter_uv_kernels.config import glade_work_dir

    if glade_work_dir().is_dir():
        pytest.skip("/glade/work/$USER exists here and is the documented default")
    listing = await api.wait_for_scan()
    assert listing["roots"] == [str(jp_root_dir)]

    make_venv(jp_root_dir / "env", "ipykernel")
    env = await api.env_at(jp_root_dir / "env", rescan=True)
    assert env["status"] == "ready" and env["kernel"] in await kernel_names(api)
