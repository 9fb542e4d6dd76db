"""Discovery on demand (issue 14): what a server costs the filesystem per hour, how fresh the
launcher's list is, one walk shared by a user's processes, and scan_workers' default.

- (g) steady state: metadata calls per simulated hour, counted through discovery's directory
  hook (``metadata_counter.py``) in real servers, with time compressed: every interval is
  divided by ``compress`` and the servers run 3600/compress seconds.
- (h) freshness: an environment made in a "terminal" (real uv, outside the server), then the
  launcher's fetch of ``/api/kernelspecs``: how long until the kernel is listed (or, for a
  deleted environment, gone).
- (i) one walk for all of a user's processes: a second server (and ``jupyter uvkernel
  refresh``) started after the first, sharing its Jupyter data dir.
- (j) scan_workers' default on the filesystem of the trees, and the GLADE rows with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import GE, LE, Row, X, median, percentile, seconds
from server_figures import wait_for_scan
from servers import Server, jupyter_server
from trees import CACHE, HERE, UV, Tree, uv_environment

from jupyter_uv_kernels.config import UvKernels

Log = Callable[[str], None]

#: JupyterLab's KernelSpecManager polls /api/kernelspecs every 61 s
#: (@jupyterlab/services 7.x, lib/kernelspec/manager.js: ``interval: 61 * 1000``).
LAUNCHER_POLL = 61.0


def _count(server: Server) -> int:
    return int(server.get("/bench-metadata")["count"])


def _reset(server: Server) -> None:
    server.request("POST", "/bench-metadata")


# -- (g) steady state ------------------------------------------------------------------------


def figure_steady(tree: Tree, compress: float, log: Log) -> list[Row]:
    """Metadata calls per simulated hour: today's schedule (a full walk every 300 s) against
    the new defaults, with nobody looking and with the launcher open."""
    d = UvKernels()
    hour = 3600.0 / compress
    # scan_share_seconds=0 on every side: sharing walks between processes is figure (i).
    common = ["--UvKernels.scan_share_seconds=0"]

    def scaled(name: str, value: float) -> str:
        return f"--UvKernels.{name}={value / compress:g}"

    # Today's behaviour, with the same walk code: a full walk every 300 s, no checks.
    today_args = [
        *common,
        scaled("full_rescan_interval", 300.0),
        "--UvKernels.rescan_interval=0",
        "--UvKernels.demand_interval=0",
    ]
    new_args = [
        *common,
        scaled("full_rescan_interval", d.full_rescan_interval),
        scaled("rescan_interval", d.rescan_interval),
        scaled("demand_interval", d.demand_interval),
    ]
    with jupyter_server(
        extension=True, roots=[tree.root], counter=True, label="g-today", extra_args=today_args
    ) as today:
        wait_for_scan(today, tree.env_count)
        _reset(today)
        time.sleep(hour)
        today_count = _count(today)
    with jupyter_server(
        extension=True, roots=[tree.root], counter=True, label="g-new", extra_args=new_args
    ) as new:
        wait_for_scan(new, tree.env_count)
        # One full walk's calls, to amortise the rare background walk.
        _reset(new)
        new.request("POST", "/uv-kernels/refresh")
        time.sleep(0.05)
        wait_for_scan(new, tree.env_count)
        walk = _count(new)
        # Nobody looking: only the background checks.
        _reset(new)
        time.sleep(hour)
        quiet = _count(new)
        # JupyterLab open, the panel closed: the launcher fetches /api/kernelspecs.
        _reset(new)
        started = time.monotonic()
        fetches = 0
        while time.monotonic() - started < hour:
            new.get("/api/kernelspecs")
            fetches += 1
            time.sleep(max(0.0, started + fetches * LAUNCHER_POLL / compress - time.monotonic()))
        looking = _count(new)
    walks_per_hour = 3600.0 / d.full_rescan_interval if d.full_rescan_interval > 0 else 0.0
    amortised = walk * walks_per_hour
    quiet_h = quiet + amortised
    looking_h = looking + amortised
    how = (
        f"time compressed {compress:g}{X} (every interval / {compress:g}, "
        f"{hour:.0f} s per simulated hour)"
    )
    schedule = (
        f"checks every rescan_interval={d.rescan_interval:g} s, a full walk every "
        f"full_rescan_interval={d.full_rescan_interval:g} s amortised "
        f"({walk:,} calls {X} {walks_per_hour:.2f}/h)"
    )
    notes = [
        f"counted through discovery's directory hook: every directory a walk reads, every "
        f"stat and directory read of a check; a walk's reads of the environments' own marker "
        f"files are not counted, on either side. {how}. One full walk: {walk:,} calls; "
        f"today's hour held {today_count / walk if walk else 0:.1f} walks.",
    ]
    rows = []
    for label, value, extra in (
        ("nobody looking, nothing changing", quiet_h, ""),
        (
            f"JupyterLab open, panel closed (the launcher fetches /api/kernelspecs every "
            f"{LAUNCHER_POLL:g} s: {fetches} fetches)",
            looking_h,
            f", demand_interval={d.demand_interval:g} s",
        ),
    ):
        ratio = today_count / value if value else float("inf")
        rows.append(
            Row(
                "g",
                f"metadata calls per hour on the main tree ({tree.directories:,} dirs, "
                f"{tree.env_count} envs), {label}: new defaults ({schedule}{extra})",
                f"{value:,.0f}",
                "today's schedule: a full walk every 300 s (12 an hour)",
                f"{today_count:,}",
                ratio,
                f"{GE} 20{X} fewer",
                1,
                met=ratio >= 20,
                ratio_text=f"{ratio:,.0f}{X} fewer",
                notes=notes if not rows else [],
            )
        )
    return rows


# -- (h) freshness ---------------------------------------------------------------------------


def _uv(*args: str, cwd: str | None = None) -> None:
    proc = subprocess.run(
        [UV, *args], cwd=cwd, env=uv_environment(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args)}: {proc.stderr[-800:]}")


def _make_in_terminal(kind: str, path: Path, python: str) -> None:
    """What a user types: uv init + uv add ipykernel, or uv venv + uv pip install ipykernel."""
    if kind == "project":
        _uv("init", "--no-workspace", "--python", python, str(path))
        _uv("add", "--project", str(path), "ipykernel")
    else:
        _uv("venv", "--python", python, str(path))
        _uv("pip", "install", "--python", str(path / "bin" / "python"), "ipykernel")


def _listed(server: Server, path: Path) -> bool:
    specs = server.get("/api/kernelspecs")["kernelspecs"]
    needle = str(path)
    return any(needle in json.dumps(s) for s in specs.values())


def _until(server: Server, path: Path, present: bool, timeout: float = 120) -> float:
    """The launcher's fetch, then fetches every 100 ms until the kernel is (or is no longer)
    listed: seconds from the first fetch."""
    started = time.perf_counter()
    while _listed(server, path) != present:
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{path}: not {'listed' if present else 'gone'} in {timeout:g} s")
        time.sleep(0.1)
    return time.perf_counter() - started


def figure_fresh(tries: int, python: str, log: Log) -> list[Row]:
    root = Path(os.path.realpath(CACHE)) / "fresh"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    d = UvKernels()
    times: dict[str, list[float]] = {"project": [], "venv": [], "deleted": []}
    try:
        with jupyter_server(extension=True, roots=[str(root)], label="h-fresh") as server:
            wait_for_scan(server)
            for i in range(tries):
                for kind in ("project", "venv"):
                    path = root / f"{kind}-{i}"
                    _make_in_terminal(kind, path, python)
                    times[kind].append(_until(server, path, True))
                    if kind == "venv":
                        shutil.rmtree(path)
                        times["deleted"].append(_until(server, path, False))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    what = {
        "project": "`uv init` + `uv add ipykernel` in a terminal",
        "venv": "`uv venv` + `uv pip install ipykernel` in a terminal",
        "deleted": "`rm -rf` of such a venv in a terminal (its kernel gone)",
    }
    for kind, ts in times.items():
        p50, p95 = percentile(ts, 50), percentile(ts, 95)
        rows.append(
            Row(
                "h",
                f"freshness: {what[kind]}, then the launcher's fetch of /api/kernelspecs: "
                f"time until the kernel is {'gone' if kind == 'deleted' else 'listed'}, "
                f"p50 / p95 (fetches every 100 ms after the first; demand_interval="
                f"{d.demand_interval:g} s, defaults otherwise)",
                f"{seconds(p50)} / {seconds(p95)}",
                "the launcher's own next fetch (JupyterLab polls every 61 s)",
                f"{LAUNCHER_POLL:g} s",
                p95 / LAUNCHER_POLL,
                f"{LE} 5 s p95",
                len(ts),
                met=p95 <= 5.0,
                ratio_text=f"{LAUNCHER_POLL / p95:.0f}{X} sooner" if p95 else "n/a",
            )
        )
    return rows


# -- (i) one walk for all of a user's processes --------------------------------------------


def _first_walk(
    tree: Tree, label: str, data_dir: Path | None, extra: list[str]
) -> tuple[float, int, Any]:
    """Start a server (sharing ``data_dir`` when given), time to its first complete list and
    the directories its discovery read; the server's home is kept for the next."""
    env = {"JUPYTER_DATA_DIR": str(data_dir)} if data_dir else None
    with jupyter_server(
        extension=True,
        roots=[tree.root],
        counter=True,
        label=label,
        wait=False,
        env_extra=env,
        extra_args=extra,
    ) as server:
        started = time.perf_counter()
        server.wait_ready()
        data = wait_for_scan(server, tree.env_count)
        took = time.perf_counter() - started
        count = _count(server)
        return took, count, data


def figure_share(tree: Tree, runs: int, log: Log) -> list[Row]:
    shared = Path(os.path.realpath(CACHE)) / "share-data"
    reuse_t: list[float] = []
    walk_t: list[float] = []
    reuse_n: list[int] = []
    walk_n: list[int] = []
    cli_t: list[float] = []
    cli_n: list[int] = []
    first_n = 0
    for r in range(runs):
        shutil.rmtree(shared, ignore_errors=True)
        (shared / "kernels").mkdir(parents=True)
        # The first server walks and writes its walk to the shared data dir.
        _, first_n, _ = _first_walk(tree, "i-first", shared, [])
        pair = [
            ("reuse", shared, []),
            ("walk", shared, ["--UvKernels.scan_share_seconds=0"]),
        ]
        for name, data_dir, extra in pair if r % 2 == 0 else pair[::-1]:
            took, count, _ = _first_walk(tree, f"i-{name}", data_dir, extra)
            (reuse_t if name == "reuse" else walk_t).append(took)
            (reuse_n if name == "reuse" else walk_n).append(count)
        took, count = _cli_refresh(tree, shared)
        cli_t.append(took)
        cli_n.append(count)
    shutil.rmtree(shared, ignore_errors=True)
    rt, wt = median(reuse_t), median(walk_t)
    return [
        Row(
            "i",
            f"a second server after the first (same user, same Jupyter data dir, same roots): "
            f"start to its first complete list, and directories read (the first read "
            f"{first_n:,}); scan_share_seconds={UvKernels().scan_share_seconds:g}",
            f"{seconds(rt)}, {median(reuse_n):,.0f} dirs",
            "the same server walking on its own (scan_share_seconds=0)",
            f"{seconds(wt)}, {median(walk_n):,.0f} dirs",
            rt / wt,
            "report",
            runs,
        ),
        Row(
            "i",
            "`jupyter uvkernel refresh` after the first server (process start to exit, "
            "directories read)",
            f"{seconds(median(cli_t))}, {median(cli_n):,.0f} dirs",
            "the second server walking on its own, as above",
            f"{seconds(wt)}, {median(walk_n):,.0f} dirs",
            median(cli_t) / wt,
            "report",
            runs,
        ),
    ]


def _cli_refresh(tree: Tree, data_dir: Path) -> tuple[float, int]:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import metadata_counter; "
        "metadata_counter.install_for_cli(); from jupyter_uv_kernels.cli import main; "
        "sys.argv = ['jupyter-uvkernel', 'refresh', '--root', sys.argv[2]]; main()"
    )
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir), "UV_CACHE_DIR": str(CACHE / "uv-cache")}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), tree.root],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter uvkernel refresh: {proc.stderr[-1500:]}")
    count = json.loads(proc.stderr.strip().splitlines()[-1])["count"]
    return took, int(count)


# -- (j) scan_workers' default ---------------------------------------------------------------


def figure_workers(tree: Tree, log: Log) -> tuple[list[Row], int]:
    """What statfs says about the trees' filesystem and what ``scan_workers=0`` picks there;
    also what it picks on GPFS (GLADE), returned for the GLADE rows."""
    from jupyter_uv_kernels import filesystems

    magic = filesystems.statfs_magic(tree.root)
    kind = filesystems.filesystem_type(tree.root)
    here, why = filesystems.workers_for([tree.root], 0)
    why = why.replace(tree.root, "the tree")  # no machine paths in the results
    real_type = filesystems.filesystem_type
    try:
        filesystems.filesystem_type = lambda _path: "gpfs"  # type: ignore[assignment]
        on_gpfs, gpfs_why = filesystems.workers_for(["/glade/work/jdoe"], 0)
    finally:
        filesystems.filesystem_type = real_type  # type: ignore[assignment]
    shown = f"0x{magic:x}" if magic is not None else "unavailable"
    return [
        Row(
            "j",
            f"scan_workers=0 (the default) on the trees' filesystem: statfs f_type {shown} "
            f"({kind}) -> {here} worker{'' if here == 1 else 's'} ({why}); on GPFS (f_type "
            f"0x47504653, as GLADE) it picks {on_gpfs} ({gpfs_why})",
            f"{here}",
            "the GLADE rows below: serial is what it picks here, parallel what it picks on GPFS",
            f"{on_gpfs}",
            None,
            "report",
            1,
            ratio_text="n/a",
        )
    ], on_gpfs
