"""What a batch-job request may say, checked before any of it reaches a job script.

A job script is a shell script whose header lines are read by the scheduler. A newline in
an account name would start a directive of the user's choosing, and a ``$(…)`` in a queue
would run a command. So every value that is written into the script passes a strict
pattern here (account, queue, select, walltime, job name, parameter names). Free text
(parameter values, script arguments) is refused if it holds control characters, and is
quoted by :mod:`job_script`. The messages name the field, what it must look like, and an
example.

Defaults, in order: the request, then the project's ``[tool.jupyter-uv-kernels.job]``
table in ``pyproject.toml``, then ``UvKernels.job_defaults``. This module never imports
tornado.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib
from .schedulers import Resources

#: The keys a job's settings have, and the project table may give.
SETTING_KEYS = ("account", "queue", "select", "walltime")
PROJECT_TABLE = "tool.jupyter-uv-kernels.job"

_ACCOUNT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_QUEUE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
_WALLTIME = re.compile(r"(\d{1,4}):([0-5]\d):([0-5]\d)")
_SELECT_HEAD = re.compile(r"[1-9]\d{0,3}")
_SELECT_PAIR = re.compile(r"([a-z][a-z0-9_]{0,30})=([A-Za-z0-9_.]{1,40})")
_MEM = re.compile(r"[1-9]\d{0,9}(?:[kmgtp]?b|[kmgtp]?w)?", re.IGNORECASE)
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 64
MAX_VALUE = 1000

Parameter = str | int | float | bool | None


def _text(value: object, field_name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{field_name} must be a string, not {type(value).__name__}.")
    return value.strip()


def _matching(value: object, field_name: str, pattern: re.Pattern[str], rule: str) -> str | None:
    text = _text(value, field_name)
    if text is not None and not pattern.fullmatch(text):
        raise InvalidRequest(f"{field_name} {_show(text)} {rule}")
    return text


def validate_account(value: object) -> str | None:
    return _matching(
        value,
        "account",
        _ACCOUNT,
        "is not a project code: use letters, digits, '_', '.' and '-' only, up to 64 "
        "characters, e.g. UABC0001.",
    )


def validate_queue(value: object) -> str | None:
    return _matching(
        value,
        "queue",
        _QUEUE,
        "is not a queue name: use letters, digits, '_', '.', '-' and '@' only, up to 64 "
        "characters, e.g. casper or main.",
    )


def validate_walltime(value: object) -> str | None:
    text = _text(value, "walltime")
    if text is None:
        return None
    match = _WALLTIME.fullmatch(text)
    if not match or text == "0:00:00" or all(int(g) == 0 for g in match.groups()):
        raise InvalidRequest(
            f"walltime {_show(text)} must be HH:MM:SS and more than zero, e.g. 01:30:00 for "
            "an hour and a half."
        )
    return text


def parse_select(value: object) -> Resources | None:
    """PBS's chunk statement ``N:ncpus=C:mem=M[:ngpus=G][:key=value…]``."""
    text = _text(value, "select")
    if text is None:
        return None
    head, *pairs = text.split(":")
    problem = (
        f"select {_show(text)} must be N:key=value:…, e.g. 1:ncpus=4:mem=16GB or "
        "1:ncpus=8:ngpus=1 (N chunks, then each chunk's resources)."
    )
    if not _SELECT_HEAD.fullmatch(head) or len(pairs) > 12:
        raise InvalidRequest(problem)
    found: dict[str, str] = {}
    for pair in pairs:
        match = _SELECT_PAIR.fullmatch(pair)
        if not match:
            raise InvalidRequest(problem)
        key, val = match.groups()
        if key in found:
            raise InvalidRequest(f"select {_show(text)} gives {key} twice.")
        found[key] = val
    numbers = {}
    for key in ("ncpus", "ngpus"):
        if key in found:
            if not found[key].isdigit() or int(found[key]) > 100000:
                raise InvalidRequest(f"{key} in select must be a whole number, not {found[key]!r}.")
            numbers[key] = int(found.pop(key))
    mem = found.pop("mem", None)
    if mem is not None and not _MEM.fullmatch(mem):
        raise InvalidRequest(f"mem in select must be a size like 16GB or 500mb, not {mem!r}.")
    return Resources(
        nodes=int(head),
        ncpus=numbers.get("ncpus"),
        mem=mem,
        ngpus=numbers.get("ngpus"),
        extra=tuple(found.items()),
    )


def job_name(value: object, stem: str) -> str:
    """The job's name: given (checked), or made from the file's name. Schedulers want a
    short word that starts with a letter."""
    text = _text(value, "name")
    if text is not None:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", text):
            raise InvalidRequest(
                f"name {_show(text)} must start with a letter and hold only letters, digits, "
                "'_', '.' and '-', up to 64 characters."
            )
        return text
    made = _NAME_CHARS.sub("_", stem).strip("_.-") or "job"
    if not made[0].isalpha():
        made = "j" + made
    return made[:MAX_NAME]


def validate_parameters(value: object) -> dict[str, Parameter]:
    """Notebook parameters for papermill: identifier names; one-line values."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest("parameters must be an object of name → value.")
    checked: dict[str, Parameter] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
            raise InvalidRequest(
                f"parameter name {_show(str(name))} must be a Python identifier (letters, "
                "digits and '_', not starting with a digit)."
            )
        if isinstance(val, float) and not math.isfinite(val):
            raise InvalidRequest(f"parameter {name} must be a finite number.")
        if isinstance(val, str):
            val = _free_text(val, f"parameter {name}")
        elif val is not None and not isinstance(val, (bool, int, float)):
            raise InvalidRequest(f"parameter {name} must be a string, number, true/false or null.")
        checked[name] = val
    return checked


def validate_args(value: object) -> list[str]:
    """Arguments after a script: any text on one line each, quoted in the script."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise InvalidRequest("args must be a list of strings.")
    return [_free_text(a, f"argument {i + 1}") for i, a in enumerate(value)]


def cli_parameter(text: str) -> Parameter:
    """A ``-p NAME VALUE`` value from the command line, typed the way papermill's ``-p``
    types it: integers, floats, True/False/None, else the text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            number = kind(text)
        except ValueError:
            continue
        if not (isinstance(number, float) and not math.isfinite(number)):
            return number
    return text


def _free_text(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise InvalidRequest(
            f"{what} holds a newline or another control character; give it on one line."
        )
    if len(value) > MAX_VALUE:
        raise InvalidRequest(f"{what} is longer than {MAX_VALUE} characters.")
    return value


def _show(text: str) -> str:
    shown = text if len(text) <= 40 else text[:37] + "…"
    return repr(shown)


@dataclass
class JobSettings:
    """A job's scheduler settings after validation and defaults."""

    account: str | None = None
    queue: str | None = None
    select: Resources | None = None
    walltime: str | None = None
    #: Where each value came from: request, project or site.
    sources: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "queue": self.queue,
            "select": self.select.select() if self.select is not None else None,
            "walltime": self.walltime,
            "sources": dict(self.sources),
        }


_VALIDATORS = {
    "account": validate_account,
    "queue": validate_queue,
    "select": parse_select,
    "walltime": validate_walltime,
}


def project_defaults(project: str | None) -> dict[str, str]:
    """The ``[tool.jupyter-uv-kernels.job]`` table of ``project``'s pyproject.toml ({} when
    there is none). A bad value is an error naming the file, so it is fixed where it is."""
    if project is None:
        return {}
    pyproject = os.path.join(project, "pyproject.toml")
    try:
        with open(pyproject, "rb") as f:
            data = tomllib.load(f)
    except OSError:
        return {}
    except tomllib.TOMLDecodeError as e:
        raise InvalidRequest(f"{pyproject} is not valid TOML ({e}); fix it first.") from None
    table = data.get("tool", {}).get("jupyter-uv-kernels", {}).get("job", {})
    if not isinstance(table, dict):
        raise InvalidRequest(f"[{PROJECT_TABLE}] in {pyproject} must be a table.")
    unknown = sorted(set(table) - set(SETTING_KEYS))
    if unknown:
        raise InvalidRequest(
            f"[{PROJECT_TABLE}] in {pyproject} has unknown key(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(SETTING_KEYS)}."
        )
    out = {}
    for key, value in table.items():
        try:
            _VALIDATORS[key](value)
        except InvalidRequest as e:
            raise InvalidRequest(f"In [{PROJECT_TABLE}] of {pyproject}: {e.message}") from None
        out[key] = str(value)
    return out


def resolve_settings(
    request: dict[str, Any], project: dict[str, str], site: dict[str, str]
) -> JobSettings:
    """Each setting from the request, else the project's table, else the site's defaults."""
    settings = JobSettings()
    for key in SETTING_KEYS:
        for source, values in (("request", request), ("project", project), ("site", site)):
            raw = values.get(key)
            if raw is None or raw == "":
                continue
            try:
                checked = _VALIDATORS[key](raw)
            except InvalidRequest as e:
                if source == "site":
                    raise InvalidRequest(f"UvKernels.job_defaults: {e.message}") from None
                raise
            setattr(settings, key, checked)
            settings.sources[key] = source
            break
    return settings
