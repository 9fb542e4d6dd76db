"""Figures on real servers: (b) kernelspec listing, (c) event-loop lag, (e) RSS, (f) REST
create + sync against the same uv commands run directly."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import LE, Row, X, median, percentile, seconds
from servers import Server, jupyter_server, server_log
from trees import BASE_PYTHON, CACHE, UV, Tree, uv_environment

from jupyter_uv_kernels.catalog import EnvironmentCatalog
from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.errors import NotAnEnvironment
from jupyter_uv_kernels.uvrunner import UvResult, UvRunner

FINAL = ("succeeded", "failed", "cancelled")
Log = Callable[[str], None]


def wait_for_scan(server: Server, expect_at_least: int = 0, timeout: float = 300) -> dict[str, Any]:
    """Poll ``GET uv-kernels/environments`` until a scan has finished (and found enough)."""
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = server.get("/uv-kernels/environments")
        if (
            data.get("scanned_at")
            and not data.get("scanning")
            and len(data["environments"]) >= expect_at_least
        ):
            return data
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the scan did not finish in {timeout:g} s ({len(data['environments'])} found)\n"
                + server_log(server)
            )
        time.sleep(0.05)


def wait_for_operation(server: Server, op_id: str, poll: float, timeout: float = 600) -> Any:
    """Follow an operation as the panel does: GET operations/{id}?since=N until it ends."""
    since = 0
    deadline = time.monotonic() + timeout
    while True:
        data = server.get(f"/uv-kernels/operations/{op_id}?since={since}")
        since = data["next"]
        op = data["operation"]
        if op["state"] in FINAL:
            if op["state"] != "succeeded":
                raise RuntimeError(f"operation {op_id} {op['state']}: {op['message']}")
            return op
        if time.monotonic() > deadline:
            raise RuntimeError(f"operation {op_id} still {op['state']} after {timeout:g} s")
        time.sleep(poll)


def post_202(server: Server, path: str, body: Any) -> dict[str, Any]:
    status, data = server.request("POST", path, body)
    if status != 202:
        raise RuntimeError(f"POST {path} -> {status}: {data}")
    return data  # type: ignore[no-any-return]


# -- (b) GET /api/kernelspecs -------------------------------------------------------------


def _plain_specs(kernels_dir: Path, envs: list[str]) -> None:
    """What ``python -m ipykernel install --user`` writes in each env: kernel.json + logos."""
    for k, env in enumerate(envs):
        spec_dir = kernels_dir / f"plain-{k:04d}"
        spec_dir.mkdir(parents=True)
        for logo in Path(env).glob("lib/python3*/site-packages/ipykernel/resources/logo-*"):
            shutil.copyfile(logo, spec_dir / logo.name)
        spec = {
            "argv": [f"{env}/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Python 3 ({os.path.basename(env)})",
            "language": "python",
            "metadata": {"debugger": True},
        }
        (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))


def _register_with_peer(peers_python: str, home: Path, envs: list[str]) -> None:
    code = (
        "import sys\nfrom nb_venv_kernels.registry import register_environment\n"
        "for p in sys.argv[1:]:\n    register_environment(p)\n"
    )
    env = {**os.environ, "HOME": str(home)}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run([peers_python, "-c", code, *envs], env=env, check=True, capture_output=True)


def _env_dirs(groups: list[str]) -> list[str]:
    return sorted(
        os.path.join(g, name) for g in groups for name in os.listdir(g) if name.startswith("env-")
    )


def figure_b(groups: list[str], requests: int, peers_python: str | None, log: Log) -> list[Row]:
    envs = _env_dirs(groups)
    n = len(envs)
    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(
            jupyter_server(extension=True, roots=groups, label="b-ours", wait=False)
        )
        stock = stack.enter_context(
            jupyter_server(
                extension=False,
                prepare=lambda home: _plain_specs(_kernels(home), envs),
                label="b-stock",
                wait=False,
            )
        )
        servers = {"ours": ours, "stock": stock}
        if peers_python is not None:
            servers["peer"] = stack.enter_context(
                jupyter_server(
                    extension=False,
                    python=peers_python,
                    kernel_spec_manager="nb_venv_kernels.VEnvKernelSpecManager",
                    prepare=lambda home: _register_with_peer(peers_python, home, envs),
                    label="b-peer",
                    wait=False,
                )
            )
        for server in servers.values():
            server.wait_ready()
        wait_for_scan(ours, expect_at_least=n)
        counts = {k: len(v.get("/api/kernelspecs")["kernelspecs"]) for k, v in servers.items()}
        listed = ours.get("/api/kernelspecs")["kernelspecs"]
        # One kernel per environment, besides the uv-project kernel the reconciler also keeps.
        uv_kernels = sum(1 for name in listed if name.startswith("uv-") and name != "uv-project")
        project_kernel = " + uv-project" if "uv-project" in listed else ""
        if uv_kernels < n:
            log(f"  warning: {uv_kernels} uv kernels listed, expected {n}")
        times = _round_robin(servers, "/api/kernelspecs", requests, warmup=max(5, requests // 10))
    o50, o90 = percentile(times["ours"], 50), percentile(times["ours"], 90)
    s50, s90 = percentile(times["stock"], 50), percentile(times["stock"], 90)
    r50, r90 = o50 / s50, o90 / s90
    rows = [
        Row(
            "b",
            f"`GET /api/kernelspecs` p50 / p90, {uv_kernels} uv kernels{project_kernel} "
            f"({counts['ours']} listed; launcher specs, no provisioner named)",
            f"{seconds(o50)} / {seconds(o90)}",
            f"stock jupyter_server listing {counts['stock']} plain kernelspec files",
            f"{seconds(s50)} / {seconds(s90)}",
            max(r50, r90),
            f"{LE} 1.1{X} stock",
            requests,
            met=max(r50, r90) <= 1.1,
            ratio_text=f"{r50:.2f}{X} / {r90:.2f}{X}",
        )
    ]
    if "peer" in times:
        p50, p90 = percentile(times["peer"], 50), percentile(times["peer"], 90)
        rows.append(
            Row(
                "b",
                "`GET /api/kernelspecs` p50 / p90, same environments",
                f"{seconds(o50)} / {seconds(o90)}",
                f"nb_venv_kernels' VEnvKernelSpecManager ({counts['peer']} kernels listed)",
                f"{seconds(p50)} / {seconds(p90)}",
                max(o50 / p50, o90 / p90),
                "report only",
                requests,
                ratio_text=f"{o50 / p50:.2f}{X} / {o90 / p90:.2f}{X}",
            )
        )
    return rows


def _kernels(home: Path) -> Path:
    return home / ".local/share/jupyter/kernels"


def _round_robin(
    servers: dict[str, Server], path: str, requests: int, warmup: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in servers}
    for i in range(warmup + requests):
        for name, server in servers.items():
            started = time.perf_counter()
            status, _ = server.request("GET", path)
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"{name}: GET {path} -> {status}")
            if i >= warmup:
                times[name].append(elapsed)
    return times


# -- (e) RSS with 1,000 environments ------------------------------------------------------


def figure_e(groups: list[str], runs: int, log: Log) -> list[Row]:
    n = len(_env_dirs(groups))
    with_ext: list[int] = []
    without: list[int] = []
    for _ in range(runs):
        with (
            jupyter_server(extension=True, roots=groups, label="e-ours", wait=False) as ours,
            jupyter_server(extension=False, label="e-stock", wait=False) as stock,
        ):
            ours.wait_ready()
            stock.wait_ready()
            wait_for_scan(ours, expect_at_least=n)
            for server in (ours, stock):
                server.get("/api/kernelspecs")
            ours.get("/uv-kernels/environments")
            time.sleep(0.5)
            with_ext.append(ours.rss_bytes())
            without.append(stock.rss_bytes())
    mib = 1024 * 1024
    o, s = median(with_ext) / mib, median(without) / mib
    delta = o - s
    return [
        Row(
            "e",
            f"server RSS after discovering {n:,} environments ({n:,} kernels written, "
            "kernelspecs and environments listed once)",
            f"{o:.0f} MiB",
            "the same server without the extension",
            f"{s:.0f} MiB",
            o / s,
            f"{LE} +30 MB",
            runs,
            met=delta * mib <= 30e6,
            ratio_text=f"+{delta:.1f} MiB",
        )
    ]


# -- (f) create + sync through REST vs uv directly ----------------------------------------


class _RecordingRunner(UvRunner):
    """Records the uv argv the catalog would run, without running it (parity for (f))."""

    def __init__(self, config: UvKernels) -> None:
        super().__init__(config)
        self.calls: list[list[str]] = []

    async def run(self, args: Any, **_: Any) -> UvResult:  # type: ignore[override]
        self.calls.append(list(args))
        return UvResult([self.uv, *args], 0, "", "", 0.0)


def uv_commands_for_create_and_sync(path: str) -> list[list[str]]:
    """The exact uv command lines a REST create (kind project) + sync runs."""
    config = UvKernels(uv=UV)
    catalog = EnvironmentCatalog(config)
    recorder = _RecordingRunner(config)
    catalog.runner = recorder

    async def record() -> None:
        # Nothing is created (the recorder runs nothing), so the final inspect fails.
        with contextlib.suppress(NotAnEnvironment):
            await catalog.create(path, kind="project", python=BASE_PYTHON, register=False)
        await recorder.sync(path)

    asyncio.run(record())
    return recorder.calls


def figure_f(
    server: Server, ops_root: Path, runs: int, poll: float, log: Log, warmup: int = 1
) -> list[Row]:
    rest: list[float] = []
    direct: list[float] = []

    def through_rest(i: int) -> float:
        started = time.perf_counter()
        op = post_202(
            server,
            "/uv-kernels/environments",
            {"path": str(ops_root / f"f-rest-{i}"), "kind": "project", "python": BASE_PYTHON},
        )["operation"]
        done = wait_for_operation(server, op["id"], poll)
        env_id = done["environment"]["id"]
        op = post_202(server, f"/uv-kernels/environments/{env_id}/sync", {})["operation"]
        wait_for_operation(server, op["id"], poll)
        return time.perf_counter() - started

    def directly(i: int) -> float:
        commands = uv_commands_for_create_and_sync(str(ops_root / f"f-direct-{i}"))
        started = time.perf_counter()
        for args in commands:
            proc = subprocess.run(
                [UV, *args], env=uv_environment(), capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                raise RuntimeError(f"uv {' '.join(args)}: {proc.stderr[-1000:]}")
        return time.perf_counter() - started

    for i in range(warmup + runs):
        # Alternate which goes first: the second of a pair runs while the kernel still
        # writes back the first one's ~1,500 .pyc files, so a fixed order would bias it.
        if i % 2 == 0:
            t_rest, t_direct = through_rest(i), directly(i)
        else:
            t_direct, t_rest = directly(i), through_rest(i)
        if i >= warmup:
            rest.append(t_rest)
            direct.append(t_direct)
        for name in (f"f-rest-{i}", f"f-direct-{i}"):
            shutil.rmtree(ops_root / name, ignore_errors=True)
    o, d = median(rest), median(direct)
    shown = " + ".join("uv " + c[0] for c in uv_commands_for_create_and_sync(str(ops_root / "x")))
    return [
        Row(
            "f",
            "create (kind project, ipykernel) then sync, through the REST API, "
            f"following each operation every {poll * 1000:.0f} ms",
            seconds(o),
            f"the same uv commands run directly ({shown})",
            seconds(d),
            o / d,
            f"{LE} 1.1{X}",
            runs,
            met=o / d <= 1.1,
        )
    ]


# -- (c) event-loop lag during a rescan and 10 operations ---------------------------------


def _external_probe() -> subprocess.Popen[str]:
    """The same 10 ms probe in a process of its own: the lag any process sees right now."""
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("lag_probe.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _external_summary(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate("", timeout=30)
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return summary


@dataclasses.dataclass
class _LagRuns:
    """The raw figures of (c) for one server, one entry per run."""

    idle_p99: list[float] = dataclasses.field(default_factory=list)
    scan_p99: list[float] = dataclasses.field(default_factory=list)
    ops_p99: list[float] = dataclasses.field(default_factory=list)
    ext_p99: list[float] = dataclasses.field(default_factory=list)
    maxima: list[float] = dataclasses.field(default_factory=list)
    windows: list[float] = dataclasses.field(default_factory=list)
    samples: int = 0


def _lag_run(server: Server, ops_root: Path, n_ops: int, tag: str, acc: _LagRuns) -> None:
    """One run of (c) on ``server``: idle, a rescan alone, then a rescan + ``n_ops`` creates."""
    server.request("POST", "/bench-lag-probe")
    time.sleep(1.0)
    acc.idle_p99.append(server.get("/bench-lag-probe")["p99_ms"])

    server.request("POST", "/bench-lag-probe")
    status, _ = server.request("POST", "/uv-kernels/refresh")
    if status != 202:
        raise RuntimeError(f"POST refresh -> {status}")
    time.sleep(0.05)
    wait_for_scan(server)
    acc.scan_p99.append(server.get("/bench-lag-probe")["p99_ms"])

    external = _external_probe()
    server.request("POST", "/bench-lag-probe")
    started = time.perf_counter()
    server.request("POST", "/uv-kernels/refresh")
    ops = []
    for k in range(n_ops):
        kind = "project" if k % 2 == 0 else "venv"
        body = {"path": str(ops_root / f"{tag}-{k}"), "kind": kind, "python": BASE_PYTHON}
        ops.append(post_202(server, "/uv-kernels/environments", body)["operation"]["id"])
    # Follow everything the way the panel would, until all work and the scan are done.
    pending = set(ops)
    offsets = dict.fromkeys(ops, 0)
    while pending:
        for op_id in list(pending):
            data = server.get(f"/uv-kernels/operations/{op_id}?since={offsets[op_id]}")
            offsets[op_id] = data["next"]
            if data["operation"]["state"] in FINAL:
                if data["operation"]["state"] != "succeeded":
                    raise RuntimeError(f"operation failed: {data['operation']['message']}")
                pending.discard(op_id)
        time.sleep(0.2)
    wait_for_scan(server)
    acc.windows.append(time.perf_counter() - started)
    lag = server.get("/bench-lag-probe")
    acc.ext_p99.append(_external_summary(external)["p99_ms"])
    acc.ops_p99.append(lag["p99_ms"])
    acc.maxima.append(lag["max_ms"])
    acc.samples += lag["count"]
    for k in range(n_ops):
        shutil.rmtree(ops_root / f"{tag}-{k}", ignore_errors=True)


def figure_c(
    server: Server,
    tree: Tree,
    ops_root: Path,
    runs: int,
    n_ops: int,
    log: Log,
    variant: str = "",
    baseline: tuple[str, Server] | None = None,
) -> list[Row]:
    """Lag inside the server during a rescan alone, then during a rescan + ``n_ops`` creates.

    For the second phase an identical probe runs in a separate process over the same window:
    on a machine whose CPUs the uv processes saturate, every process wakes late, and the
    difference between the two is what the server itself adds. ``variant`` names a changed
    server configuration; only the second row is reported for it. ``baseline`` is a second
    server (its label, and the server) running other code: the two are measured in turn,
    alternating which goes first, and each gets its rows.
    """
    sides: list[tuple[str, Server, _LagRuns]] = [("", server, _LagRuns())]
    if baseline is not None:
        sides.append((baseline[0], baseline[1], _LagRuns()))
    for r in range(runs):
        order = sides if r % 2 == 0 else sides[::-1]
        for k, (_, srv, acc) in enumerate(order):
            _lag_run(srv, ops_root, n_ops, f"c{r}-{k}", acc)
    rows: list[Row] = []
    for label, _, acc in sides:
        rows += _lag_rows(acc, tree, runs, n_ops, variant + label)
    return rows


def _lag_rows(acc: _LagRuns, tree: Tree, runs: int, n_ops: int, variant: str) -> list[Row]:
    half = n_ops // 2
    p99, ext = median(acc.ops_p99), median(acc.ext_p99)
    # What the server adds: per run (the same window on both sides), then the median.
    added = median([o - e for o, e in zip(acc.ops_p99, acc.ext_p99, strict=True)])
    notes = []
    if p99 > 20 and ext > 20 and not variant:
        notes.append(
            f"during the {n_ops} creates a probe in a separate process saw a p99 of {ext:.0f} ms "
            f"too: uv (installing, then compiling bytecode in worker processes) saturates the "
            f"{os.cpu_count()} CPUs and every process wakes late. The server adds "
            f"{added:+.0f} ms to that floor (median of the runs' differences)."
        )
    ops_row = Row(
        "c",
        f"event-loop lag p99 in the server during a full rescan + {n_ops} creates "
        f"({n_ops - half} projects, {half} venvs, ipykernel, bytecode compiled; at most "
        f"{UvKernels().max_concurrent_operations} at once) followed every 200 ms"
        f"{variant}; window {median(acc.windows):.0f} s, {acc.samples:,} samples, max "
        f"{max(acc.maxima):.0f} ms",
        f"{p99:.1f} ms",
        "the same probe in a separate process, same window (the machine's floor)",
        f"{ext:.1f} ms",
        None,
        f"{LE} +5 ms above the floor" + (" (report only)" if variant else ""),
        runs,
        met=None if variant else added <= 5,
        ratio_text=f"{added:+.1f} ms",
        notes=notes,
    )
    if variant.startswith(", uv_nice"):
        return [ops_row]
    scan_row = Row(
        "c",
        f"event-loop lag p99 in the server (10 ms sleep probe) during a full rescan of "
        f"{tree.directories:,} dirs{variant}",
        f"{median(acc.scan_p99):.1f} ms",
        "the same server idle",
        f"{median(acc.idle_p99):.1f} ms",
        None,
        f"{LE} 20 ms" + (" (report only)" if variant else ""),
        runs,
        met=None if variant else median(acc.scan_p99) <= 20,
        ratio_text="n/a",
    )
    return [scan_row, ops_row]


def ops_root() -> Path:
    root = CACHE / "ops"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    return Path(os.path.realpath(root))
