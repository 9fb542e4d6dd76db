"""Counts the metadata operations of discovery in a server: a benchmark-only extension.

Loaded next to jupyter_uv_kernels with ``--ServerApp.jpserver_extensions`` (the runner puts
``benchmarks/`` on PYTHONPATH). It installs ``discovery.set_directory_hook`` with a counter:
the walk calls the hook before every directory it reads, and the incremental checks before
every ``stat`` and directory read they make, so the count is the metadata calls discovery
makes against the roots (a walk's reads of the few environments' marker files are not
counted, on either side).

    POST {base_url}bench-metadata   reset the count
    GET  {base_url}bench-metadata   {"count": N, "since": seconds since the reset}

``install()`` does the same in a process without a server (the CLI), and prints the count
to stderr at exit.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
import time
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.reset_at = time.monotonic()
        self._lock = threading.Lock()

    def __call__(self, _path: str) -> None:
        with self._lock:  # the walk may run on several threads
            self.count += 1

    def reset(self) -> None:
        with self._lock:
            self.count = 0
            self.reset_at = time.monotonic()

    def summary(self) -> dict[str, Any]:
        return {"count": self.count, "since": time.monotonic() - self.reset_at}


COUNTER = Counter()


def install() -> Counter:
    from jupyter_uv_kernels import discovery

    discovery.set_directory_hook(COUNTER)
    return COUNTER


class MetadataHandler(APIHandler):
    @web.authenticated
    def get(self) -> None:
        self.finish(COUNTER.summary())

    @web.authenticated
    def post(self) -> None:
        COUNTER.reset()
        self.finish({"reset": True})


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "metadata_counter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    install()
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(f"{base}bench-metadata", MetadataHandler)])


def install_for_cli() -> None:
    """For ``python -c``: count, and print the count as JSON on stderr at exit."""
    counter = install()
    atexit.register(lambda: print(json.dumps(counter.summary()), file=sys.stderr, flush=True))
