"""Why does the server's event loop wake late during figure (c)? A diagnostic, not a figure.

    .venv/bin/python benchmarks/lag_diagnose.py [--quick] [--windows both,creates,refresh]
                                                [--pyspy] [--extra --UvKernels.x=y ...]

Starts one server with the lag probe in trace mode (``UVK_LAG_TRACE=1``, see
``lag_probe.py``) and runs the (c) window: a refresh plus creates, then the creates alone and
the refresh alone, each with the external probe beside it. For each window it prints the
probe's p99 against the external one, the loop callbacks slower than 2 ms, and the CPU time
each server thread used. ``--pyspy`` also records the server with
``py-spy record --gil --threads`` (samples only of the thread holding the GIL) into
``.cache/lag-gil-<window>.txt`` (``PY_SPY`` names another py-spy binary) and prints
the share of GIL samples per thread.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trees  # noqa: E402
from server_figures import (  # noqa: E402
    FINAL,
    _external_probe,
    _external_summary,
    ops_root,
    post_202,
    wait_for_scan,
)
from servers import Server, jupyter_server  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def window(server: Server, ops: Path, n_ops: int, refresh: bool, tag: str) -> dict[str, object]:
    external = _external_probe()
    server.request("POST", "/bench-lag-probe")
    started = time.perf_counter()
    if refresh:
        server.request("POST", "/uv-kernels/refresh")
    ids = []
    for k in range(n_ops):
        kind = "project" if k % 2 == 0 else "venv"
        body = {"path": str(ops / f"{tag}-{k}"), "kind": kind, "python": trees.BASE_PYTHON}
        ids.append(post_202(server, "/uv-kernels/environments", body)["operation"]["id"])
    pending = set(ids)
    offsets = dict.fromkeys(ids, 0)
    while pending:
        for op_id in list(pending):
            data = server.get(f"/uv-kernels/operations/{op_id}?since={offsets[op_id]}")
            offsets[op_id] = data["next"]
            if data["operation"]["state"] in FINAL:
                pending.discard(op_id)
        time.sleep(0.2)
    wait_for_scan(server)
    took = time.perf_counter() - started
    lag = server.get("/bench-lag-probe")
    ext = _external_summary(external)
    for k in range(n_ops):
        shutil.rmtree(ops / f"{tag}-{k}", ignore_errors=True)
    return {"window_s": round(took, 1), "server": lag, "external": ext}


def gil_shares(raw: Path) -> Counter[str]:
    """py-spy raw output: ``thread (tid);frame;frame count`` per line -> samples per thread."""
    shares: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0]
        leaf = ";".join(f.split(" (")[0] for f in frames[-3:])
        shares[f"{thread} :: {leaf}"] += int(count)
    return shares


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--ops", type=int, default=10)
    p.add_argument("--windows", default="both,creates,refresh")
    p.add_argument("--pyspy", action="store_true")
    p.add_argument("--extra", nargs="*", default=[])
    args = p.parse_args()
    tree = trees.work_tree(3000 if args.quick else 80_000, 8 if args.quick else 60, log)
    ops = ops_root()
    with jupyter_server(
        extension=True,
        roots=[tree.root, str(ops)],
        probe=True,
        label="lag-diag",
        env_extra={"UVK_LAG_TRACE": "1"},
        extra_args=args.extra,
    ) as server:
        wait_for_scan(server, expect_at_least=tree.env_count)
        # Warm uv's cache for the creates once (the figure's first run does the same).
        window(server, ops, 2, False, "warm")
        for name in args.windows.split(","):
            spy = None
            raw = trees.CACHE / f"lag-gil-{name}.txt"
            if args.pyspy:
                spy = subprocess.Popen(
                    [
                        os.environ.get("PY_SPY") or str(trees.CACHE / "peers-venv/bin/py-spy"),
                        "record",
                        "--gil",
                        "--threads",
                        "--nonblocking",
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        str(raw),
                        "-p",
                        str(server.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(1.0)
            n = 0 if name == "refresh" else args.ops
            result = window(server, ops, n, name != "creates", name)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            print(f"== {name}: {json.dumps(result, indent=1)}")
            if spy is not None and raw.exists():
                shares = gil_shares(raw)
                total = sum(shares.values()) or 1
                print(f"   GIL samples: {total}")
                for what, count in shares.most_common(25):
                    print(f"   {100 * count / total:5.1f}%  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
