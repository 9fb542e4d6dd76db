"""Figure (a): the discovery scan against the floor walk and against nb_venv_kernels, and the
GLADE rows: the same scans under an artificial per-directory latency, serial and parallel."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace

from measure import GE, LE, Row, X, median, seconds, side_by_side
from trees import HERE, Tree
from walks import floor_walk, floor_walk_parallel

from jupyter_uv_kernels import discovery
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.discovery import ScanOptions, scan_roots


def scan_options(root: str, workers: int = 1) -> ScanOptions:
    """The defaults a server would use, without the time budget (we time the whole walk)."""
    opts = ScanOptions.from_config(UvKernels(), [root])
    return replace(opts, time_budget=0.0, workers=workers)


def figure_a(
    tree: Tree, runs: int, peer_runs: int, peers_python: str | None, log: Callable[[str], None]
) -> list[Row]:
    opts = scan_options(tree.root)
    floor = lambda: floor_walk(tree.root, opts.max_depth, opts.prune)  # noqa: E731
    ours_t, floor_t, result, floor_count = side_by_side(lambda: scan_roots(opts), floor, runs)
    found = len(result.environments)
    if found != tree.env_count:
        log(f"  warning: the scan found {found} environments, the tree has {tree.env_count}")
    ours, theirs = median(ours_t), median(floor_t)
    ratio = ours / theirs
    rows = [
        Row(
            "a",
            f"full discovery scan: {result.directories:,} dirs read, {found} envs found "
            f"(tree: {tree.directories:,} dirs, depth limit {opts.max_depth})",
            seconds(ours),
            f"bare pruned `os.scandir` walk (floor, {floor_count:,} dirs)",
            seconds(theirs),
            ratio,
            f"{LE} 1.5{X} the floor",
            runs,
            met=ratio <= 1.5,
        )
    ]
    rows.append(_peer_row(tree, opts, ours, peer_runs, peers_python, log))
    return rows


def _peer_row(
    tree: Tree,
    opts: ScanOptions,
    ours: float,
    runs: int,
    peers_python: str | None,
    log: Callable[[str], None],
) -> Row:
    compared = "nb_venv_kernels `scan --dry-run` (its `scan_environments` API, in-process)"
    if peers_python is None:
        return Row(
            "a",
            "full discovery scan",
            seconds(ours),
            compared,
            "skipped",
            None,
            f"{GE} 10{X} faster",
            0,
            notes=["peers venv not installed"],
        )
    with tempfile.TemporaryDirectory(prefix="uvk-bench-peer-") as home:
        env = {
            **os.environ,
            "HOME": home,
            "JUPYTER_SERVER_ROOT": tree.root,
            "JUPYTER_CONFIG_DIR": os.path.join(home, ".jupyter"),
            "JUPYTER_DATA_DIR": os.path.join(home, ".local/share/jupyter"),
        }
        env.pop("VIRTUAL_ENV", None)
        proc = subprocess.run(
            [peers_python, str(HERE / "peer_scan.py"), tree.root, str(opts.max_depth), str(runs)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        log(f"  peer scan failed: {proc.stderr[-1000:]}")
        return Row(
            "a",
            "full discovery scan",
            seconds(ours),
            compared,
            "failed",
            None,
            f"{GE} 10{X} faster",
            0,
        )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    theirs = median(data["times"])
    speedup = theirs / ours
    return Row(
        "a",
        "full discovery scan (same tree, same depth limit)",
        seconds(ours),
        f"{compared}; it found {data['found']} envs",
        seconds(theirs),
        ours / theirs,
        f"{GE} 10{X} faster",
        runs,
        met=speedup >= 10,
        ratio_text=f"{speedup:.1f}{X} faster",
    )


def figure_glade(
    tree: Tree, runs: int, latency: float, workers: int, log: Callable[[str], None]
) -> list[Row]:
    """Per-directory latency through ``discovery.set_directory_hook``; the floor gets the same."""

    def hook(_path: str) -> None:
        time.sleep(latency)

    serial = scan_options(tree.root)
    parallel = scan_options(tree.root, workers=workers)
    depth, prune = serial.max_depth, serial.prune
    discovery.set_directory_hook(hook)
    try:
        s_ours, s_floor, _, _ = side_by_side(
            lambda: scan_roots(serial),
            lambda: floor_walk(tree.root, depth, prune, hook),
            runs,
            warmup=0,  # the tree is warm from figure (a); each pass is long
        )
        p_ours, p_floor, _, _ = side_by_side(
            lambda: scan_roots(parallel),
            lambda: floor_walk_parallel(tree.root, depth, prune, workers, hook),
            runs,
            warmup=0,
        )
    finally:
        discovery.set_directory_hook(None)
    lat = f"{latency * 1000:g} ms"
    so, sf, po, pf = median(s_ours), median(s_floor), median(p_ours), median(p_floor)
    budget = UvKernels().scan_time_budget
    notes = []
    if so > budget:
        notes.append(
            f"the serial scan ({seconds(so)}) exceeds the default scan_time_budget "
            f"({budget:g} s): with that latency a serial server scan returns a partial result"
        )
    return [
        Row(
            "a/GLADE",
            f"serial scan, +{lat} per directory (`set_directory_hook`)",
            seconds(so),
            f"floor walk with the same +{lat} per directory",
            seconds(sf),
            so / sf,
            f"{LE} 1.5{X} the floor",
            runs,
            met=so / sf <= 1.5,
            notes=notes,
        ),
        Row(
            "a/GLADE",
            f"parallel scan, `scan_workers={workers}`, +{lat} per directory "
            f"({so / po:.1f}{X} faster than serial)",
            seconds(po),
            f"floor walk on {workers} threads, same latency",
            seconds(pf),
            po / pf,
            f"{LE} 1.5{X} the floor",
            runs,
            met=po / pf <= 1.5,
        ),
    ]
