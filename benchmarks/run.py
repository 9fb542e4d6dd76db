"""The benchmark runner (issue #5): one table of side-by-side ratios, written to results/.

    .venv/bin/python benchmarks/run.py            # full size: ~80,000 dirs, 60 envs
    .venv/bin/python benchmarks/run.py --quick    # every figure on a small tree, < 60 s warm

Each figure is measured against its comparison in the same run, alternating the two, and
reported as the median of several runs after a warm-up. The table goes to stdout and to
``benchmarks/results/latest.md`` (``--quick`` writes ``results/quick.md`` instead, so a CI
run never overwrites the committed full-size results). No thresholds fail the run: a missed
target is reported in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trees  # noqa: E402
from measure import Row, X, markdown_table  # noqa: E402

FIGURES = ("a", "glade", "b", "c", "d", "e", "f", "size", "g", "h", "i", "j", "script")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="small tree and few runs: proves the runner works (CI)"
    )
    p.add_argument(
        "--dirs", type=int, help="directories in the main tree (default 80000; quick 3000)"
    )
    p.add_argument("--envs", type=int, help="environments in the main tree (default 60; quick 8)")
    p.add_argument(
        "--runs", type=int, help="timed runs per figure after the warm-up (default 5; quick 2)"
    )
    p.add_argument(
        "--many",
        type=int,
        help="environments discovered for (e), in hundreds (default 10; quick 1)",
    )
    p.add_argument(
        "--latency",
        type=float,
        default=0.0005,
        help="GLADE rows: seconds of added latency per directory (default 0.0005)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="GLADE rows: scan_workers of the parallel row (default: what scan_workers=0 "
        "picks on GPFS, see row j)",
    )
    p.add_argument(
        "--compress",
        type=float,
        help="(g) divide every interval by this and run 3600/compress s per simulated hour "
        "(default 100; quick 3600)",
    )
    p.add_argument("--tries", type=int, help="(h) environments made per kind (default 20; quick 1)")
    p.add_argument("--only", help=f"comma-separated subset of {','.join(FIGURES)}")
    p.add_argument(
        "--baseline",
        metavar="GIT_REF",
        help="(c) also on a server running the package as of GIT_REF, side by side "
        "(alternating runs); both servers then run with rescan_interval=0",
    )
    p.add_argument("--out", type=Path, help="where to write the markdown report")
    args = p.parse_args(argv)
    q = args.quick
    # (c) is a long figure: 3 runs unless --runs says otherwise (quick: 1).
    args.c_runs = args.runs or (1 if q else 3)
    args.dirs = args.dirs or (3000 if q else 80_000)
    args.envs = args.envs or (8 if q else 60)
    args.runs = args.runs or (2 if q else 5)
    args.many = args.many or (1 if q else 10)
    args.compress = args.compress or (3600.0 if q else 100.0)
    args.tries = args.tries or (1 if q else 20)
    args.only = set(args.only.split(",")) if args.only else set(FIGURES)
    unknown = args.only - set(FIGURES)
    if unknown:
        p.error(f"unknown figures {sorted(unknown)}; choose from {','.join(FIGURES)}")
    args.out = args.out or (trees.CACHE / "quick.md" if q else HERE / "results" / "latest.md")
    return args


def baseline_package(ref: str) -> tuple[Path, str]:
    """The package as of git ``ref``, extracted once under the cache: (the directory to put
    on PYTHONPATH, the commit)."""
    sha = subprocess.run(
        ["git", "-C", str(HERE.parent), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = trees.CACHE / f"baseline-{sha[:12]}"
    if not (target / "jupyter_uv_kernels" / "__init__.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(HERE.parent), "archive", sha, "jupyter_uv_kernels"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target, sha


def machine_summary() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    uv_version = subprocess.run([trees.UV, "--version"], capture_output=True, text=True).stdout
    import jupyter_client
    import jupyter_server

    fs = "unknown"
    try:
        out = subprocess.run(["df", "-T", str(HERE)], capture_output=True, text=True).stdout
        fs = out.splitlines()[1].split()[1]
    except (OSError, IndexError):
        pass
    return [
        f"- cores: {os.cpu_count()} ({cpu}); memory: {_mem_gib()} GiB; "
        f"filesystem of the trees: {fs}",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"- {uv_version.strip()}; jupyter_server {jupyter_server.__version__}; "
        f"jupyter_client {jupyter_client.__version__}",
    ]


def _mem_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f}"
    except OSError:
        pass
    return "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    failed: list[str] = []

    def section(name: str, fn: Callable[[], list[Row]]) -> None:
        if name not in args.only:
            return
        log(f"== {name}")
        t = time.perf_counter()
        try:
            new = fn()
        except Exception as e:  # report it, keep the other figures, exit non-zero at the end
            log(traceback.format_exc())
            failed.append(name)
            new = [Row(name, "failed", f"{type(e).__name__}: {e}"[:200], "", "", None, "", 0)]
        rows.extend(new)
        for r in new:
            log("   " + " | ".join(r.cells()))
        log(f"   ({time.perf_counter() - t:.1f} s)")

    tree = trees.work_tree(args.dirs, args.envs, log)
    peers = trees.peers_python(log) if args.only & {"a", "b"} else None

    from kernel_figure import figure_d
    from scan_figures import figure_a, figure_glade
    from server_figures import (
        figure_b,
        figure_c,
        figure_e,
        figure_f,
        niced_uv,
        ops_root,
        wait_for_scan,
    )
    from servers import jupyter_server

    # The peer scans the whole tree once per run (seconds each): three runs are plenty.
    section("a", lambda: figure_a(tree, args.runs, min(args.runs, 3), peers, log))
    glade_runs = 1 if args.quick else min(args.runs, 3)
    gpfs_workers = [args.workers or 8]
    if args.only & {"j", "glade"}:
        from discovery_figures import figure_workers

        def workers_row() -> list[Row]:
            found, on_gpfs = figure_workers(tree, log)
            gpfs_workers[0] = args.workers or on_gpfs
            return found

        if "j" in args.only:
            section("j", workers_row)
        else:
            workers_row()
    section("glade", lambda: figure_glade(tree, glade_runs, args.latency, gpfs_workers[0], log))
    if args.only & {"g", "h", "i"}:
        from discovery_figures import figure_fresh, figure_share, figure_steady

        section("g", lambda: figure_steady(tree, args.compress, log))
        section("h", lambda: figure_fresh(args.tries, trees.BASE_PYTHON, log))
        section("i", lambda: figure_share(tree, 1 if args.quick else 3, log))
    if args.only & {"b", "e"}:
        groups = trees.many_envs(args.many, log)
        section("b", lambda: figure_b(groups[:2], 40 if args.quick else 200, peers, log))
        section("e", lambda: figure_e(groups, 1 if args.quick else 3, log))
    if "d" in args.only:
        project = trees.kernel_project(log)
        section("d", lambda: figure_d(project, 1 if args.quick else args.runs, log))
    if "script" in args.only:
        from script_figure import figure_script

        kproject = trees.kernel_project(log)
        section("script", lambda: figure_script(kproject, 3 if args.quick else args.runs, log))
    if "size" in args.only:
        from size_figure import figure_size

        venv = os.path.join(trees.kernel_project(log), ".venv")
        size_runs = args.runs
        section("size", lambda: figure_size(venv, size_runs, args.latency, log))
    if args.only & {"c", "f"}:
        ops = ops_root()
        # With a baseline, neither server rescans on its own while the other is measured.
        quiet = ["--UvKernels.rescan_interval=0"] if args.baseline else []
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(
                jupyter_server(
                    extension=True,
                    roots=[tree.root, str(ops)],
                    probe=True,
                    label="cf",
                    extra_args=quiet,
                )
            )
            baseline = None
            if args.baseline and "c" in args.only:
                code, sha = baseline_package(args.baseline)
                base = stack.enter_context(
                    jupyter_server(
                        extension=True,
                        roots=[tree.root, str(ops)],
                        probe=True,
                        label="c-base",
                        extra_args=quiet,
                        env_extra={"PYTHONPATH": os.pathsep.join([str(code), str(HERE)])},
                    )
                )
                wait_for_scan(base, expect_at_least=tree.env_count)
                baseline = (f", baseline: the package as of {sha[:10]} (report only)", base)
            wait_for_scan(server, expect_at_least=tree.env_count)
            # (c) first: its creates also warm uv's cache for the lock (f) resolves, so that
            # (f) compares warm with warm even in quick mode, where it has no warm-up pair.
            # Quick mode: 4 operations instead of 10, to stay inside CI's minute.
            n_ops = 4 if args.quick else 10
            c_runs = args.c_runs
            section("c", lambda: figure_c(server, tree, ops, c_runs, n_ops, log, baseline=baseline))
            section(
                "f",
                lambda: figure_f(
                    server, ops, 1 if args.quick else 5, 0.1, log, warmup=0 if args.quick else 1
                ),
            )
        if "c" in args.only and not args.quick and not args.baseline:
            # What running uv at a lower CPU priority would buy (not the default): the same
            # (c) with UvKernels.uv pointing at a `nice -n 19 uv` wrapper.
            with jupyter_server(
                extension=True,
                roots=[tree.root, str(ops)],
                probe=True,
                label="c-nice",
                extra_args=[f"--UvKernels.uv={niced_uv()}"],
            ) as server:
                wait_for_scan(server, expect_at_least=tree.env_count)
                variant = ", uv run at nice 19 (a `UvKernels.uv` wrapper; not the default)"
                section("c", lambda: figure_c(server, tree, ops, 3, 10, log, variant=variant))

    elapsed = time.perf_counter() - started
    # Figures run in the order that shares servers best; the table reads in issue order.
    rows.sort(key=lambda r: r.fig)
    table = markdown_table(rows)
    print(table)
    report(args, argv, rows, table, tree, elapsed)
    log(f"wrote {args.out} ({elapsed:.0f} s in all)")
    if failed:
        log(f"figures that failed to run: {', '.join(failed)}")
        return 1
    return 0


def report(
    args: argparse.Namespace,
    argv: list[str] | None,
    rows: list[Row],
    table: str,
    tree: trees.Tree,
    elapsed: float,
) -> None:
    command = " ".join(
        [".venv/bin/python", "benchmarks/run.py", *map(shlex.quote, argv or sys.argv[1:])]
    )
    notes = [f"- **{r.fig}** {n}" for r in rows for n in r.notes]
    missed = [r for r in rows if r.met is False]
    lines = [
        "# jupyter_uv_kernels benchmark results",
        "",
        f"`{command}` on {dt.date.today().isoformat()}, {elapsed:.0f} s in all.",
        "",
        *machine_summary(),
        f"- main tree: {tree.directories:,} directories, {tree.files:,} files, "
        f"{tree.env_count} environments (built once in {tree.built_in:.0f} s, then reused)",
        "",
        "Ratios are ours / theirs, each side the median of `runs` timed runs after a warm-up, "
        "measured alternately in this one run. See benchmarks/README.md for what each row does.",
        "",
        table,
        "",
    ]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    if missed:
        lines += ["## Missed targets", ""]
        lines += [
            f"- **{r.fig}** {r.figure}: {r.ours} ({r.ratio_text or f'{r.ratio:.2f}{X}'} vs "
            f"{r.theirs}) against {r.target}"
            for r in missed
        ]
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
