"""50 operations over 10 environments, fired at once through REST.

Given 10 real uv projects, when 50 cheap operations (add / remove of a small package and
syncs, five per project in a fixed order) are all submitted at the same moment by ten
clients (one per project, none waiting for an operation to finish), then every operation
ends in a terminal state (here: succeeded), the operations of one environment never overlap
and start in the order the server received them, different environments do run in
parallel, and every project passes ``uv sync --check`` afterwards with exactly the packages
its last operation asked for.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import defaultdict
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from tests.conftest import build_concurrently, in_sync, make_project, uv
from tests.reliability.figures import record
from tests.reliability.live_server import running_server

P = "uv-kernels/"
PROJECTS = 10
#: Per project, in this order: the final state has iniconfig and six.
SCRIPT: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "packages", {"packages": ["iniconfig"]}),
    ("POST", "sync", {}),
    ("DELETE", "packages/iniconfig", {}),
    ("POST", "packages", {"packages": ["iniconfig", "six"]}),
    ("POST", "sync", {}),
]


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_given_fifty_operations_over_ten_envs_at_once_then_all_end_in_sync(
    tmp_path: Path, uv_cache_dir: Path
) -> None:
    work = Path(os.path.realpath(tmp_path))
    root = work / "root"
    projects = [root / f"p{i}" for i in range(PROJECTS)]
    # Warm the shared cache so the run measures the server, not the first download.
    warm = work / "warm"
    build_concurrently(
        *(partial(make_project, p) for p in projects),
        partial(make_project, warm, "iniconfig", "six"),
    )
    assert warm.exists()
    with running_server(
        work / "srv", [root], uv_cache=uv_cache_dir, uv_kernels={"max_concurrent_operations": 4}
    ) as server:
        envs = {e["path"]: e["id"] for e in server.wait_scanned()["environments"]}
        assert len(envs) == PROJECTS
        requests_: list[tuple[str, str, dict[str, Any], str, int]] = []
        for step, (method, route, body) in enumerate(SCRIPT):
            for project in projects:
                env_id = envs[str(project)]
                requests_.append((method, f"{P}environments/{env_id}/{route}", body, env_id, step))
        assert len(requests_) == 50

        # When all 50 are sent at once: one client per project, released together, each
        # sending its five in the user's order without waiting for any to finish
        barrier = threading.Barrier(PROJECTS)
        answers: dict[int, Any] = {}

        def client(project_index: int) -> None:
            mine = [i for i in range(len(requests_)) if i % PROJECTS == project_index]
            barrier.wait()
            for i in mine:
                method, path, body, _, _ = requests_[i]
                r = server.request(method, path, json_body=body)
                answers[i] = (r.status_code, r.json())

        threads = [threading.Thread(target=client, args=(k,)) for k in range(PROJECTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        submitted_in = time.monotonic() - started
        assert sorted(answers) == list(range(50))
        assert all(code == 202 for code, _ in answers.values()), answers
        ops = [server.wait_operation(answers[i][1]["operation"]["id"]) for i in range(50)]
        elapsed = time.monotonic() - started

    # Then every operation finished, and succeeded
    states = [o["operation"]["state"] for o in ops]
    assert all(s == "succeeded" for s in states), [
        (o["operation"]["action"], o["operation"]["message"])
        for o in ops
        if o["operation"]["state"] != "succeeded"
    ]
    by_env: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for i, o in enumerate(ops):
        by_env[requests_[i][3]].append({**o["operation"], "step": requests_[i][4]})
    overlaps_across_envs = 0
    for env_ops in by_env.values():
        received = sorted(env_ops, key=lambda o: ts(o["created_at"]))
        run_order = sorted(env_ops, key=lambda o: ts(o["started_at"]))
        # one after another, in the order received, which is the user's order
        assert [o["id"] for o in run_order] == [o["id"] for o in received]
        assert [o["step"] for o in received] == list(range(len(SCRIPT)))
        for a, b in itertools.pairwise(run_order):
            assert ts(a["finished_at"]) <= ts(b["started_at"]), (a, b)
    # and different environments really ran side by side
    spans = [
        (ts(o["started_at"]), ts(o["finished_at"]), o["env_id"])
        for o in (x["operation"] for x in ops)
    ]
    for s1, e1, env1 in spans:
        overlaps_across_envs += sum(
            1 for s2, e2, env2 in spans if env2 != env1 and s2 < e1 and s1 < e2
        )
    assert overlaps_across_envs > 0
    # and every project is in sync with the packages its last operation asked for
    for project in projects:
        assert in_sync(project)
        listed = uv("pip", "list", "--python", str(project / ".venv/bin/python")).stdout
        assert "iniconfig" in listed and "six" in listed
    record(
        "concurrency",
        operations=50,
        environments=PROJECTS,
        succeeded=states.count("succeeded"),
        submitted_in_seconds=round(submitted_in, 2),
        seconds=round(elapsed, 1),
        order_violations=0,
        projects_in_sync=PROJECTS,
    )
