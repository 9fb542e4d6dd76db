"""Requirements files inside the roots: what may be installed from one, and the picker's view
of a directory.

These files come from colleagues, and ``uv add -r`` / ``uv pip install -r`` obey option
lines inside them. So a file is read first, and lines that would send uv somewhere the user
did not choose are refused with a 400 naming the line:

- allowed: PEP 508 requirements (with ``--hash=…`` after them), and the options that only
  choose among an index's files: ``--pre``, ``--prefer-binary``, ``--only-binary``,
  ``--no-binary``;
- refused: every other option (``--index-url``, ``--extra-index-url``, ``--no-index``,
  ``--find-links``, ``--trusted-host``, ``-e``, ``-r``/``-c`` of another file, …), lines
  that are not PEP 508 (a bare path or URL), and ``${VAR}`` references (uv expands them,
  so a URL could carry a token out). An index is chosen by name (``index``), never by the
  file.

A ``pylock.toml`` (PEP 751) is accepted for venvs (``uv add`` cannot read one); its local
paths must lie inside the roots. Callers pass paths already confined to the roots
(``EnvironmentCatalog.confine``). Nothing here runs uv or imports tornado.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from packaging.requirements import InvalidRequirement as _BadRequirement
from packaging.requirements import Requirement

from .errors import InvalidPath, InvalidRequirement, UvKernelsError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MAX_FILE_BYTES = 1_000_000
#: Picker entries per directory, and directory entries looked at (GLADE: each costs a stat).
MAX_ENTRIES = 500
MAX_SCANNED = 20_000
#: Options that only choose among the files an index offers.
HARMLESS_OPTIONS = frozenset({"--pre", "--prefer-binary", "--only-binary", "--no-binary"})
#: Options allowed after a requirement on its line.
PER_REQUIREMENT_OPTIONS = frozenset({"--hash"})
#: Never offered in the picker (besides hidden directories).
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__", "site-packages"})

Kind = Literal["requirements", "pylock"]

_COMMENT = re.compile(r"(^|\s)#.*$")
_OPTION_SPLIT = re.compile(r"\s+(?=-)")
_PYLOCK = re.compile(r"^pylock(\.[^/]+)?\.toml$")


class PathNotFound(UvKernelsError):
    """A directory the picker was asked for does not exist."""

    status = 404


@dataclass(frozen=True)
class RequirementsFile:
    path: str
    kind: Kind
    #: The requirements it names (for messages; uv reads the file itself).
    requirements: tuple[str, ...]


def file_kind(name: str) -> Kind | None:
    """What a file name says it is: a requirements file (*.txt, *.in), a pylock, or neither."""
    if _PYLOCK.match(name):
        return "pylock"
    if name.endswith((".txt", ".in")) and not name.startswith("."):
        return "requirements"
    return None


def check_requirements_file(
    real: str, *, inside: Callable[[str], bool], for_project: bool
) -> RequirementsFile:
    """Read a confined file and apply the policy above; a 400 names the first bad line."""
    name = os.path.basename(real)
    kind = file_kind(name)
    if kind is None:
        raise InvalidPath(
            f"{real} is not a requirements file: pick a *.txt or *.in requirements file, or a "
            "pylock.toml (uv reads other names as project or script metadata)."
        )
    if kind == "pylock" and for_project:
        raise InvalidRequirement(
            f"{name} is a pylock.toml, which `uv add -r` cannot read; add from a "
            "requirements.txt (`uv export --format requirements.txt` makes one), or install "
            "the lock into a venv."
        )
    text = _read(real)
    if kind == "pylock":
        return RequirementsFile(real, kind, tuple(_pylock_packages(real, text, inside)))
    return RequirementsFile(real, kind, tuple(_requirement_lines(name, text)))


def _read(real: str) -> str:
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise InvalidPath(
            f"{real} does not exist; pick an existing requirements file inside the roots."
        ) from None
    except OSError as e:
        raise InvalidPath(f"{real} cannot be read ({e.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidPath(f"{real} is not a regular file; pick a requirements file.")
    if st.st_size > MAX_FILE_BYTES:
        raise InvalidPath(
            f"{real} is {st.st_size} bytes; requirements files are limited to "
            f"{MAX_FILE_BYTES} bytes."
        )
    try:
        with open(real, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise InvalidPath(f"{real} cannot be read ({e.strerror}); check its permissions.") from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidPath(f"{real} is larger than {MAX_FILE_BYTES} bytes.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidPath(f"{real} is not UTF-8 text; is it a requirements file?") from None


def _logical_lines(text: str) -> Iterable[tuple[int, str]]:
    """(first line number, line) with comments removed and ``\\`` continuations joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        line = _COMMENT.sub("", raw).rstrip()
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = " ".join(p.strip() for p in pending).strip()
        pending = []
        if joined:
            yield start, joined
    if pending:
        joined = " ".join(p.strip() for p in pending).strip()
        if joined:
            yield start, joined


def _refuse(name: str, number: int, line: str, why: str) -> InvalidRequirement:
    shown = line if len(line) <= 120 else line[:117] + "…"
    return InvalidRequirement(f"{name} line {number}: {shown!r} is refused: {why}")


def _requirement_lines(name: str, text: str) -> list[str]:
    found = []
    for number, line in _logical_lines(text):
        if "${" in line:
            raise _refuse(
                name, number, line,
                "environment variable references are not expanded here; write the value.",
            )  # fmt: skip
        if line.startswith("-"):
            option = line.split("=", 1)[0].split(None, 1)[0]
            if option in HARMLESS_OPTIONS:
                continue
            raise _refuse(
                name, number, line,
                "a requirements file may not choose indexes, other files or editable "
                "installs; remove the line (choose an index by name with index: "
                "UvKernels.indexes or the project's [[tool.uv.index]]).",
            )  # fmt: skip
        requirement, *options = _OPTION_SPLIT.split(line)
        for option in options:
            if option.split("=", 1)[0] not in PER_REQUIREMENT_OPTIONS:
                raise _refuse(
                    name, number, line,
                    f"only --hash may follow a requirement, not {option.split('=', 1)[0]}.",
                )  # fmt: skip
        try:
            found.append(str(Requirement(requirement)))
        except _BadRequirement as e:
            raise _refuse(
                name, number, line,
                f"not a PEP 508 requirement ({e}); write e.g. 'numpy>=2' or 'pkg @ https://…'.",
            ) from None  # fmt: skip
    if not found:
        raise InvalidRequirement(f"{name} names no requirements; add lines such as 'numpy>=2'.")
    return found


def _pylock_packages(real: str, text: str, inside: Callable[[str], bool]) -> list[str]:
    name = os.path.basename(real)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidRequirement(f"{name} is not valid TOML ({e}).") from None
    packages = data.get("packages")
    if "lock-version" not in data or not isinstance(packages, list):
        raise InvalidRequirement(f"{name} is not a PEP 751 lock file (no lock-version/packages).")
    base = os.path.dirname(real)
    found = []
    for package in packages:
        if not isinstance(package, dict) or not isinstance(package.get("name"), str):
            raise InvalidRequirement(f"{name}: a [[packages]] entry has no name.")
        for local in _local_paths(package):
            target = os.path.realpath(os.path.join(base, local))
            if not inside(target):
                raise InvalidRequirement(
                    f"{name}: the package {package['name']} is installed from {target}, which "
                    "is outside the roots; such a lock can only be used where it was made."
                )
        found.append(package["name"])
    return found


def _local_paths(package: dict[str, Any]) -> Iterable[str]:
    for key in ("directory", "archive", "sdist"):
        source = package.get(key)
        if isinstance(source, dict) and isinstance(source.get("path"), str):
            yield source["path"]
    wheels = package.get("wheels")
    for wheel in wheels if isinstance(wheels, list) else []:
        if isinstance(wheel, dict) and isinstance(wheel.get("path"), str):
            yield wheel["path"]


# -- the picker ---------------------------------------------------------------------------


def list_directory(
    real: str | None,
    roots: Iterable[str],
    *,
    inside: Callable[[str], bool],
) -> dict[str, Any]:
    """A FileListing: the roots (``real`` None), or one confined directory's subdirectories
    and candidate files, directories first, each group sorted by name."""
    if real is None:
        entries = [{"name": str(r), "path": str(r), "kind": "directory"} for r in roots]
        return {"path": None, "parent": None, "entries": entries, "truncated": False}
    if not os.path.isdir(real):
        if os.path.exists(real):
            raise InvalidPath(f"{real} is a file, not a directory; list its folder instead.")
        raise PathNotFound(f"{real} does not exist; pick a directory inside the roots.")
    dirs: list[str] = []
    files: list[str] = []
    truncated = False
    try:
        with os.scandir(real) as scan:
            for seen, entry in enumerate(scan):
                if seen >= MAX_SCANNED or len(dirs) + len(files) >= MAX_ENTRIES:
                    truncated = True
                    break
                if entry.name.startswith("."):
                    continue
                try:
                    is_dir = entry.is_dir()
                    if (is_dir and entry.name in SKIPPED_DIRECTORIES) or not (
                        is_dir or (file_kind(entry.name) and entry.is_file())
                    ):
                        continue
                    if entry.is_symlink() and not inside(os.path.realpath(entry.path)):
                        continue  # picking it would be refused: do not offer it
                    (dirs if is_dir else files).append(entry.name)
                except OSError:
                    continue  # vanished or unreadable: not something to pick
    except PermissionError:
        raise InvalidPath(f"{real} cannot be read (permission denied).") from None
    except OSError as e:
        raise InvalidPath(f"{real} cannot be listed ({e.strerror}).") from None
    entries = [
        {"name": n, "path": os.path.join(real, n), "kind": kind}
        for kind, names in (("directory", dirs), ("file", files))
        for n in sorted(names, key=lambda n: (n.casefold(), n))
    ]
    parent = os.path.dirname(real)
    return {
        "path": real,
        "parent": parent if parent != real and inside(parent) else None,
        "entries": entries,
        "truncated": truncated,
    }
