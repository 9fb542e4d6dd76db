"""Export an environment for a colleague: ``uv export`` of a project's lock, ``uv pip
freeze`` of a venv, and saving that beside the environment.

A project exports its ``uv.lock`` exactly (``--frozen``), with hashes, without the
project's own package (the folder itself; the colleague gets its dependencies). Both
formats install with ``uv pip install -r requirements.txt`` / ``uv pip sync pylock.toml``.
A venv has no lock, so it exports only as requirements.txt; editable installs (a local
source checkout) are kept as comments, because the colleague has no such checkout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from .environments import Environment
from .errors import Conflict, InvalidRequest
from .uvrunner import UvRunner

FORMATS = ("requirements.txt", "pylock.toml")


@dataclass
class Export:
    """An ExportReply: the format, the file name it is saved under, the text."""

    format: str
    filename: str
    content: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_format(fmt: object, env: Environment) -> str:
    """The format, if this environment can be exported in it (InvalidRequest if not)."""
    if fmt not in FORMATS:
        raise InvalidRequest(
            f"Unknown export format {str(fmt)[:40]!r}; choose requirements.txt or pylock.toml."
        )
    if env.kind == "venv" and fmt == "pylock.toml":
        raise InvalidRequest(
            f"{env.path} is a venv: it has no lock file to export as pylock.toml. Export it "
            "as requirements.txt (uv pip freeze), or copy it into a uv project for a lock."
        )
    if env.kind == "project" and not os.path.isfile(os.path.join(env.path, "uv.lock")):
        raise InvalidRequest(
            f"{env.path} has no uv.lock to export; run `uv lock --project {env.path}` first."
        )
    if env.kind == "venv" and env.status == "broken":
        raise InvalidRequest(f"{env.path} cannot be exported: {env.problem}")
    return str(fmt)


async def export_environment(runner: UvRunner, env: Environment, fmt: object) -> Export:
    """The export of ``env`` in ``fmt`` (requirements.txt or pylock.toml)."""
    name = await asyncio.to_thread(check_format, fmt, env)
    if env.kind == "project":
        content = await runner.export(env.path, name)
    else:
        assert env.venv is not None
        content = comment_out_editables(await runner.pip_freeze(env.venv))
    return Export(name, name, content)


def comment_out_editables(freeze: str) -> str:
    """Keep ``-e`` lines of a freeze as comments: a colleague cannot install a checkout
    that exists only on this machine (and the rest must still install)."""
    lines = []
    editables = False
    for line in freeze.splitlines():
        if line.startswith(("-e ", "--editable")):
            editables = True
            lines.append(f"# {line}")
        else:
            lines.append(line)
    if editables:
        lines.insert(0, "# Editable installs (local source checkouts) are commented out below.")
    return "\n".join(lines) + ("\n" if lines else "")


def export_folder(env: Environment) -> str:
    """Where a saved export goes: the project's folder, or the folder holding the venv."""
    return env.path if env.kind == "project" else os.path.dirname(env.path)


def check_save(folder: str, filename: str, *, overwrite: bool = False) -> str:
    """Where a saved export goes, if it may go there (Conflict naming why not)."""
    target = os.path.join(folder, filename)
    if not overwrite and os.path.lexists(target):
        raise Conflict(
            f"{target} already exists; send overwrite: true to replace it, or download the "
            "export instead."
        )
    if not os.access(folder, os.W_OK):
        raise Conflict(f"{folder} is read-only for you; download the export instead.")
    return target


def save_export(folder: str, export: Export, *, overwrite: bool = False) -> tuple[str, int]:
    """Write ``export`` as ``folder/<filename>`` atomically; returns (path, bytes).

    Without ``overwrite`` an existing file is a Conflict, checked atomically (the new file
    is linked into place, which fails if the name exists)."""
    target = check_save(folder, export.filename, overwrite=overwrite)
    data = export.content.encode("utf-8")
    write_atomically(target, data, overwrite=overwrite)
    return target, len(data)


def write_atomically(target: str, data: bytes, *, overwrite: bool = True) -> None:
    """Write ``data`` to a temporary file beside ``target``, then move it into place."""
    folder = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", dir=folder)
    except OSError as e:
        raise Conflict(f"Cannot write into {folder}: {e.strerror or e}.") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise Conflict(
                    f"{target} already exists; send overwrite: true to replace it."
                ) from None
    except OSError as e:
        raise Conflict(f"Cannot write {target}: {e.strerror or e}.") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
