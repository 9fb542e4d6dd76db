"""Runs on one environment go one after another; different environments run in parallel."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import build_concurrently, make_project

from .conftest import Api


def spans(ops: list[dict[str, Any]]) -> list[tuple[datetime, datetime]]:
    return sorted(
        (datetime.fromisoformat(o["started_at"]), datetime.fromisoformat(o["finished_at"]))
        for o in ops
    )


def most_at_once(ops: list[dict[str, Any]]) -> int:
    events = []
    for start, end in spans(ops):
        events += [(start, 1), (end, -1)]
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


async def start_all(api: Api, requests: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    """Send the POSTs concurrently, then follow every operation to its end."""
    replies = await asyncio.gather(*(api.post(*parts, expect=202) for parts in requests))
    finals = await asyncio.gather(*(api.wait_op(r.body["operation"]["id"]) for r in replies))
    for op, log in finals:
        assert op["state"] == "succeeded", log
    return [op for op, _ in finals]


async def test_given_ten_syncs_on_one_env_then_they_run_one_after_another(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "p", "six")
    env = await api.env_at(project, rescan=True)

    ops = await start_all(api, [("environments", env["id"], "sync")] * 10)

    ordered = spans(ops)
    for (_, previous_end), (next_start, _) in itertools.pairwise(ordered):
        assert next_start >= previous_end, "two syncs of one environment overlapped"
    assert most_at_once(ops) == 1


@pytest.fixture
def three_projects(uv_root: Path) -> list[Path]:
    projects = [uv_root / f"p{i}" for i in range(3)]
    build_concurrently(*(partial(make_project, p, "ipykernel") for p in projects))
    # Without their .venv, each sync has real work to do (recreate and install).
    for p in projects:
        shutil.rmtree(p / ".venv")
    return projects


async def test_given_syncs_on_three_envs_then_they_overlap(
    api: Api, three_projects: list[Path]
) -> None:
    await api.rescan()
    envs = [await api.env_at(p) for p in three_projects]
    assert {e["status"] for e in envs} == {"no-environment"}

    ops = await start_all(api, [("environments", e["id"], "sync") for e in envs])

    assert most_at_once(ops) == 3
    listing = await api.wait_for_scan()
    assert {e["status"] for e in listing["environments"]} == {"ready"}


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], request: pytest.FixtureRequest) -> dict:
    if "limit" in request.node.name:
        return {**uv_kernels_config, "max_concurrent_operations": 2}
    return uv_kernels_config


async def test_given_a_concurrency_limit_when_runs_are_parallel_then_the_limit_holds(
    api: Api, three_projects: list[Path]
) -> None:
    await api.rescan()
    envs = [await api.env_at(p) for p in three_projects]

    ops = await start_all(api, [("environments", e["id"], "sync") for e in envs])

    assert most_at_once(ops) == 2
