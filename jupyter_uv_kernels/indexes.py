"""Named package indexes an add may use: the site's or user's ``UvKernels.indexes`` and a
project's own ``[[tool.uv.index]]`` entries.

A request names an index; it never carries a URL, so a package box cannot send uv to an
arbitrary host. Names and URLs are checked where they are used (a bad configuration entry
is a clear 400 when named, and is left out of the lists). Only http(s) indexes are offered:
an index the project reads from a local path stays the project's business (``uv`` itself
honours it on every resolve).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from .errors import InvalidRequest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: uv's own rule for index names (alphanumerics, dashes, underscores, periods).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_URL_LENGTH = 2000

Source = Literal["config", "pyproject"]


@dataclass(frozen=True)
class Index:
    name: str
    url: str
    source: Source

    def to_json(self) -> dict[str, Any]:
        # The password of https://user:token@host/ stays on the server.
        return {"name": self.name, "url": redact(self.url), "source": self.source}


def index_problem(name: object, url: object) -> str | None:
    """Why ``name = url`` cannot be used as an index, or None when it can."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return (
            f"the index name {str(name)[:60]!r} is not valid (letters, digits, '-', '_', '.'; "
            "at most 100 characters)"
        )
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        return f"the index {name} has no usable URL"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return f"the URL of the index {name} contains spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"the URL of the index {name} is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"the URL of the index {name} must be http(s)://host/…, not {redact(url)!r}"
    return None


def redact(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:****@{host}"))


def configured_indexes(config: Mapping[str, str]) -> list[Index]:
    """The usable entries of ``UvKernels.indexes``, sorted by name."""
    return [
        Index(name, url, "config")
        for name, url in sorted(config.items())
        if index_problem(name, url) is None
    ]


def project_indexes(project: str) -> list[Index]:
    """A project's own http(s) ``[[tool.uv.index]]`` entries, in pyproject order.

    A missing or unreadable pyproject.toml has none (the environment's status reports
    that elsewhere)."""
    try:
        with open(os.path.join(project, "pyproject.toml"), "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, dict) else None
    entries = uv.get("index") if isinstance(uv, dict) else None
    if not isinstance(entries, list):
        return []
    found = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name, url = entry.get("name"), entry.get("url")
        if index_problem(name, url) is None:
            found.append(Index(str(name), str(url), "pyproject"))
    return found


def known_indexes(config: Mapping[str, str], project: str | None = None) -> list[Index]:
    """What an add to ``project`` (None: a venv or a new env) may name: the project's own
    indexes first (they win on a name clash: the project already records that URL), then
    the configured ones."""
    own = project_indexes(project) if project else []
    taken = {i.name for i in own}
    return own + [i for i in configured_indexes(config) if i.name not in taken]


def resolve_index(
    requested: object, config: Mapping[str, str], project: str | None = None
) -> Index | None:
    """The index a request names (None when it names none), or a 400 that lists the
    known ones."""
    if requested is None or requested == "":
        return None
    if not isinstance(requested, str):
        raise InvalidRequest("index must be the name of an index (a string).")
    known = known_indexes(config, project)
    for index in known:
        if index.name == requested:
            return index
    if requested in config:
        problem = index_problem(requested, config[requested])
        raise InvalidRequest(
            f"The configured index cannot be used: {problem}; fix UvKernels.indexes."
        )
    names = ", ".join(i.name for i in known) or "none (set c.UvKernels.indexes)"
    raise InvalidRequest(f"Unknown index {requested[:100]}; known: {names}.")
