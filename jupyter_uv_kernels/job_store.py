"""The batch jobs submitted from here, remembered in one small JSON file.

The file (``UvKernels.job_state_file``, default ``uv_kernels/jobs.json`` in the Jupyter
data dir) outlives the server, so jobs are listed after a restart. A login-node server, a
compute-node server and the CLI share it through ``$HOME``: every change takes an
exclusive ``flock`` on a lock file beside it, re-reads, changes and replaces the file
atomically, so two writers never lose each other's jobs. A file that cannot be parsed is
kept aside (``jobs.json.corrupt``) and a new one started. This module never imports
tornado.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Jobs kept, newest first; older ones are dropped from the list (their files stay).
MAX_JOBS = 500
_VERSION = 1


class JobStore:
    def __init__(self, path: Path, keep: int = MAX_JOBS) -> None:
        self.path = path
        self.keep = keep

    def all(self) -> list[dict[str, Any]]:
        """Every job, newest first (a missing file is an empty list)."""
        with self._locked():
            return self._read()

    def get(self, job_id: str) -> dict[str, Any] | None:
        return next((j for j in self.all() if j.get("id") == job_id), None)

    def add(self, job: dict[str, Any]) -> None:
        def change(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            others = [j for j in jobs if j.get("id") != job["id"]]
            return [job, *others][: self.keep]

        self._change(change)

    def update(self, updates: dict[str, dict[str, Any]]) -> None:
        """Merge ``updates[job_id]`` into each job (one lock for all of them)."""
        if not updates:
            return

        def change(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{**j, **updates.get(j.get("id", ""), {})} for j in jobs]

        self._change(change)

    # -- the file ----------------------------------------------------------------------------

    def _change(self, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        with self._locked():
            jobs = change(self._read())
            self._write(jobs)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _read(self) -> list[dict[str, Any]]:
        try:
            raw = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            jobs = data["jobs"]
            if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs):
                raise ValueError("jobs is not a list of objects")
            return jobs
        except (ValueError, KeyError, TypeError) as e:
            aside = self.path.with_name(self.path.name + ".corrupt")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            log.warning(
                "The job list %s could not be read (%s); kept it as %s.", self.path, e, aside
            )
            return []

    def _write(self, jobs: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"version": _VERSION, "jobs": jobs}, indent=1), "utf-8")
        os.replace(tmp, self.path)
