"""Event-loop lag probe: a tiny server extension used only by the benchmark (figure c).

Loaded next to jupyter_uv_kernels with ``--ServerApp.jpserver_extensions`` (the runner puts
``benchmarks/`` on PYTHONPATH). A task on the server's own event loop sleeps 10 ms in a
loop and records how late each wake-up is; anything that blocks the loop (a synchronous
scan, a blocking subprocess, a large synchronous JSON dump) shows up as overshoot.
Measuring inside the server process is the honest measurement: a client-side ping would
add the network and the client's own scheduling.

    POST {base_url}bench-lag-probe   start (or restart) recording, clearing the samples
    GET  {base_url}bench-lag-probe   {"count", "p50_ms", "p90_ms", "p99_ms", "max_ms"}

Run as a script (``python lag_probe.py``) the same probe runs in a process of its own until
its stdin closes, then prints the summary: the lag any process on the machine sees under
the same load, which tells the server's own stalls apart from a saturated CPU.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

INTERVAL = 0.010


class LagProbe:
    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(INTERVAL)
            self.samples.append(time.perf_counter() - started - INTERVAL)

    def start(self) -> None:
        self.samples = []
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._loop())

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.samples)
        if not ordered:
            return {"count": 0}

        def pct(q: float) -> float:
            k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
            return ordered[k] * 1000

        return {
            "count": len(ordered),
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": ordered[-1] * 1000,
        }


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
