"""Event-loop lag probe: a tiny server extension used only by the benchmark (figure c).

Loaded next to jupyter_uv_kernels with ``--ServerApp.jpserver_extensions`` (the runner puts
``benchmarks/`` on PYTHONPATH). A task on the server's own event loop sleeps 10 ms in a
loop and records how late each wake-up is; anything that blocks the loop (a synchronous
scan, a blocking subprocess, a large synchronous JSON dump) shows up as overshoot.
Measuring inside the server process is the honest measurement: a client-side ping would
add the network and the client's own scheduling.

    POST {base_url}bench-lag-probe   start (or restart) recording, clearing the samples
    GET  {base_url}bench-lag-probe   {"count", "p50_ms", "p90_ms", "p99_ms", "max_ms"}

With ``UVK_LAG_TRACE=1`` in the server's environment the probe also says *why* it woke
late (``GET`` adds ``slow_callbacks`` and ``threads``): every event-loop callback that ran
longer than 2 ms (what it was, how long, and how much of that was the loop thread's own CPU
time rather than waiting, in a blocking call or for the GIL), and the CPU time each thread
of the server used over the window (``/proc/self/task``), so that a thread competing with
the loop for the GIL shows up by name. Diagnostics only: it wraps ``asyncio.Handle._run``.

Run as a script (``python lag_probe.py``) the same probe runs in a process of its own until
its stdin closes, then prints the summary: the lag any process on the machine sees under
the same load, which tells the server's own stalls apart from a saturated CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

INTERVAL = 0.010
#: Event-loop callbacks slower than this are recorded in trace mode.
SLOW_CALLBACK = 0.002
TRACE = os.environ.get("UVK_LAG_TRACE") == "1"


def _describe(handle: asyncio.Handle) -> str:
    """What a loop callback is, in a few words (a task's coroutine, or a function)."""
    cb = getattr(handle, "_callback", None)
    owner = getattr(cb, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        frame = getattr(coro, "cr_frame", None)
        where = (
            f" at {frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno}" if frame else ""
        )
        return f"task {getattr(coro, '__qualname__', coro)}{where}"
    name = getattr(cb, "__qualname__", None) or repr(cb)
    return f"{getattr(cb, '__module__', '')}.{name}"


class _CallbackTimer:
    """Wraps ``asyncio.Handle._run`` and keeps the callbacks slower than SLOW_CALLBACK."""

    def __init__(self) -> None:
        #: (wall seconds, CPU seconds of the loop thread, what)
        self.slow: list[tuple[float, float, str]] = []
        original = asyncio.events.Handle._run
        timer = self

        def _run(handle: asyncio.Handle) -> None:
            started = time.perf_counter()
            cpu = time.thread_time()
            try:
                original(handle)
            finally:
                took = time.perf_counter() - started
                if took > SLOW_CALLBACK:
                    timer.slow.append((took, time.thread_time() - cpu, _describe(handle)))

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]

    def summary(self) -> list[dict[str, Any]]:
        by_what: dict[str, list[tuple[float, float]]] = {}
        for took, cpu, what in self.slow:
            by_what.setdefault(what, []).append((took, cpu))
        rows = [
            {
                "what": w,
                "count": len(t),
                "total_ms": round(sum(x for x, _ in t) * 1000, 1),
                "cpu_ms": round(sum(c for _, c in t) * 1000, 1),
                "max_ms": round(max(x for x, _ in t) * 1000, 1),
            }
            for w, t in by_what.items()
        ]
        return sorted(rows, key=lambda r: -r["total_ms"])[:15]


def _thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) per thread of this process, by Python thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), f"native-{tid}")
        # Pool threads are many and short-lived: group them by their name's prefix.
        name = name.rstrip("0123456789").rstrip("_-") or name
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


class LagProbe:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None
        self.timer = _CallbackTimer() if TRACE else None
        self.cpu_at_start: dict[str, float] = {}

    async def _loop(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(INTERVAL)
            self.samples.append(time.perf_counter() - started - INTERVAL)

    def start(self) -> None:
        self.samples = []
        if self.timer is not None:
            self.timer.slow = []
            self.cpu_at_start = _thread_cpu()
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._loop())

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.samples)
        if not ordered:
            return {"count": 0}

        def pct(q: float) -> float:
            k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
            return ordered[k] * 1000

        out: dict[str, Any] = {
            "count": len(ordered),
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": ordered[-1] * 1000,
        }
        if self.timer is not None:
            out["slow_callbacks"] = self.timer.summary()
            now = _thread_cpu()
            out["threads"] = {
                k: round(v - self.cpu_at_start.get(k, 0.0), 2)
                for k, v in sorted(now.items(), key=lambda kv: -kv[1])
            }
        return out


PROBE = LagProbe()


class LagProbeHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        self.finish(PROBE.summary())

    @web.authenticated
    def post(self) -> None:
        PROBE.start()
        self.finish({"started": True})


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "lag_probe"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(f"{base}bench-lag-probe", LagProbeHandler)])


def _standalone() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        threading.Thread(
            target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)), daemon=True
        ).start()
        PROBE.start()
        await done.wait()
        print(json.dumps(PROBE.summary()), flush=True)

    asyncio.run(main())


if __name__ == "__main__":
    _standalone()
