"""A project change that does not complete leaves the project as it was: files and env.

``uv add`` and ``uv remove`` edit pyproject.toml and uv.lock, then sync the env. When one
fails, is cancelled or times out:

- uv failed on its own: it restores both files byte for byte, but by rewriting them. The
  files look newer than the env (our cheap drift estimate), and uv itself then counts the
  project's own package as outdated. The timestamps are put back.
- uv was cancelled or timed out: it was killed before it could restore anything, so the
  content is put back as well.
- In both cases uv may already have changed the env (installed, removed or rebuilt the
  project's own package), so the env is re-synced to the restored lock (``uv sync
  --frozen``), shielded from the cancel that caused it. Afterwards ``uv sync --check``
  passes. If even that repair fails (no network and nothing cached), the log says so and
  the original error is raised; the server then runs the exact check and shows the env as
  out of sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import UvKernelsError, UvTimeout
from .uvrunner import LineCallback

log = logging.getLogger(__name__)

PROJECT_FILES = ("pyproject.toml", "uv.lock")

#: path -> (content, atime_ns, mtime_ns), or None when the file did not exist.
FileState = dict[str, "tuple[bytes, int, int] | None"]


def project_file_state(project: str) -> FileState:
    state: FileState = {}
    for name in PROJECT_FILES:
        path = os.path.join(project, name)
        try:
            st = os.stat(path)
            with open(path, "rb") as f:
                state[path] = (f.read(), st.st_atime_ns, st.st_mtime_ns)
        except FileNotFoundError:
            state[path] = None
        except OSError:
            continue  # unreadable: leave it alone whatever happens
    return state


def restore_project_files(before: FileState, *, content: bool) -> None:
    """Put timestamps back where the content is unchanged; with ``content``, put the content
    back too (uv was killed, so it could not restore the files itself)."""
    for path, saved in before.items():
        try:
            with open(path, "rb") as f:
                now: bytes | None = f.read()
        except FileNotFoundError:
            now = None
        except OSError:
            continue
        if saved is None:
            if now is not None and content:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            continue
        data, atime, mtime = saved
        if now != data:
            if not content:
                continue  # uv left a real change: never hide it
            tmp = f"{path}.uv-kernels-restore"
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                os.replace(tmp, path)
            except OSError:
                log.warning("uv-kernels: could not restore %s after a cancelled run", path)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                continue
        with contextlib.suppress(OSError):
            os.utime(path, ns=(atime, mtime))


@contextlib.asynccontextmanager
async def project_change(
    project: str,
    repair: Callable[[], Awaitable[object]],
    on_line: LineCallback | None = None,
) -> AsyncIterator[None]:
    """Run a change of ``project``; if it does not complete, restore the files and run
    ``repair`` (a frozen sync), then re-raise. See the module docstring."""
    before = await asyncio.to_thread(project_file_state, project)
    try:
        yield
    except BaseException as error:
        killed = isinstance(error, (asyncio.CancelledError, UvTimeout))
        await asyncio.shield(_restore_and_repair(project, before, killed, repair, on_line))
        raise


async def _restore_and_repair(
    project: str,
    before: FileState,
    killed: bool,
    repair: Callable[[], Awaitable[object]],
    on_line: LineCallback | None,
) -> None:
    await asyncio.to_thread(restore_project_files, before, content=killed)
    if before.get(os.path.join(project, "uv.lock")) is None:
        return  # no lock to go back to
    if on_line is not None:
        on_line("info", "The change did not complete; syncing the environment back to uv.lock.")
    try:
        await repair()
    except Exception as e:  # the original error is what the user must see first
        message = e.message if isinstance(e, UvKernelsError) else str(e)
        log.warning("uv-kernels: could not sync %s back to its uv.lock: %s", project, message)
        if on_line is not None:
            on_line("info", f"The repair sync failed too: {message}")
    else:
        if on_line is not None:
            on_line("info", "The environment matches uv.lock again.")
