"""A notebook's inline dependencies, validated, and the notebook written back with new ones.

:mod:`script_block` finds the PEP 723 block and juv's lock (stdlib only, for the kernel's
launcher); this module checks what they say, for the panel, the CLI and the edits:

- the block is TOML (``tomllib``), ``requires-python`` a PEP 440 specifier set, every
  dependency a PEP 508 requirement and none option-shaped (``--index-url=…`` must never reach
  uv as an option). Each problem is one sentence naming the fix (:class:`InvalidNotebook`).
- :func:`render_notebook` puts a new block and lock into the notebook and changes nothing
  else: JSON written as nbformat and juv write it (``indent=1``, non-ASCII kept, the key
  order as read), the file's own trailing newline (nbformat writes one, juv does not) and,
  for a file written with sorted keys, sorted keys. A notebook without a block gets one in a
  new hidden first code cell, as ``juv add`` makes it.
- :func:`replace_notebook` writes atomically (a temporary file in the same folder, then
  ``os.replace``), and only if the file still holds the bytes the edit started from.

This module never imports tornado and never runs uv.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
import uuid
from typing import Any

from packaging.requirements import InvalidRequirement as _BadRequirement
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from .errors import InvalidNotebook, NotebookChanged
from .script_block import (
    LOCK_KEY,
    BlockError,
    block_toml,
    cell_source,
    find_block,
    notebook_lock,
    parse_notebook,
    read_notebook_bytes,
    script_blocks,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: What a notebook's block must look like, said once for every message.
_FIX_BLOCK = "Fix the first code cell's '# /// script' block (or run `juv add` again)."


@dataclasses.dataclass
class ScriptMetadata:
    """What a valid block says."""

    requires_python: str | None
    #: The dependency strings as written (each a valid PEP 508 requirement).
    dependencies: list[str]


@dataclasses.dataclass
class NotebookFile:
    """A notebook as read: its bytes (to write back only over exactly them) and its JSON."""

    path: str
    raw: bytes
    notebook: dict[str, Any]
    #: (cell index, block text), or None when the notebook has no block.
    block: tuple[int, str] | None
    lock: str | None
    #: Why the block or lock cannot be used (one sentence), else None.
    problem: str | None = None
    metadata: ScriptMetadata | None = None

    def require_usable(self) -> None:
        """Raise the problem (400) before an edit."""
        if self.problem is not None:
            raise InvalidNotebook(self.problem)


def load_notebook(path: str) -> NotebookFile:
    """Read and check the notebook at ``path`` (a real path); a notebook that is no notebook
    raises :class:`InvalidNotebook`, a bad block or lock is kept as ``problem``."""
    try:
        raw = read_notebook_bytes(path)  # read once: parsed here, written back over exactly it
        notebook = parse_notebook(raw, path)
    except BlockError as e:
        raise InvalidNotebook(str(e)) from None
    if not isinstance(notebook.get("cells"), list) or not isinstance(notebook.get("nbformat"), int):
        raise InvalidNotebook(
            f"{path} is JSON but not a Jupyter notebook (no cells or nbformat); open and "
            "save it in JupyterLab first."
        )
    found = lock = problem = metadata = None
    try:
        found = find_block(notebook)
        lock = notebook_lock(notebook)
        if found is not None:
            metadata = parse_block(found[1])
        if lock is not None:
            locked_versions(lock)
    except (BlockError, InvalidNotebook) as e:
        problem = str(e)
    return NotebookFile(path, raw, notebook, found, lock, problem, metadata)


def parse_block(block: str) -> ScriptMetadata:
    """The block's requires-python and dependencies, each checked; else InvalidNotebook."""
    try:
        table = tomllib.loads(block_toml(block))
    except BlockError as e:
        raise InvalidNotebook(str(e)) from None
    except tomllib.TOMLDecodeError as e:
        raise InvalidNotebook(
            f"The '# /// script' block is not valid TOML ({e}). {_FIX_BLOCK}"
        ) from None
    requires = table.get("requires-python")
    if requires is not None:
        requires = check_requires_python(requires, "The block's requires-python")
    deps = table.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise InvalidNotebook(f"The block's dependencies must be a list of strings. {_FIX_BLOCK}")
    for text in deps:
        check_dependency(text)
    return ScriptMetadata(requires, list(deps))


def check_dependency(text: str) -> Requirement:
    """One dependency of a block: PEP 508, never option-shaped."""
    shown = text if len(text) <= 80 else text[:77] + "…"
    if text.strip().startswith("-"):
        raise InvalidNotebook(
            f"The dependency {shown!r} in the block looks like a command-line option, not a "
            f"package; uv is never given it. Remove it. {_FIX_BLOCK}"
        )
    try:
        return Requirement(text)
    except _BadRequirement as e:
        raise InvalidNotebook(
            f"The dependency {shown!r} in the block is not a PEP 508 requirement ({e}). "
            f"{_FIX_BLOCK}"
        ) from None


def check_requires_python(value: object, what: str = "requires_python") -> str:
    """A requires-python specifier set such as ``>=3.11`` (normalised), else InvalidNotebook."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidNotebook(f"{what} must be a version specifier such as '>=3.11'.")
    try:
        spec = SpecifierSet(value)
    except InvalidSpecifier:
        raise InvalidNotebook(
            f"{what} {value[:60]!r} is not a version specifier; write e.g. '>=3.11'."
        ) from None
    if not str(spec):
        raise InvalidNotebook(f"{what} must be a version specifier such as '>=3.11'.")
    return str(spec)


def locked_versions(lock: str) -> dict[str, str]:
    """Canonical name -> version of every package in a script's lock text."""
    try:
        table = tomllib.loads(lock)
    except tomllib.TOMLDecodeError as e:
        raise InvalidNotebook(
            f"The notebook's lock (metadata[{LOCK_KEY!r}]) is not valid TOML ({e}); relock "
            "it (Lock in the panel, or `juv lock`)."
        ) from None
    packages = table.get("package", [])
    out: dict[str, str] = {}
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and isinstance(package.get("name"), str):
            version = package.get("version")
            out[canonicalize_name(package["name"])] = str(version) if version else ""
    return out


# -- writing back -------------------------------------------------------------------------


def render_notebook(nb: NotebookFile, block: str, lock: str | None) -> bytes:
    """The notebook's bytes with ``block`` in place of its block (or in a new hidden first
    cell) and ``lock`` as its lock (None: no lock); everything else as it was."""
    notebook = json.loads(nb.raw.decode("utf-8"))  # a fresh copy, in the file's key order
    cells: list[Any] = notebook["cells"]
    if nb.block is not None:
        cell = cells[nb.block[0]]
        source = cell_source(cell)
        match = script_blocks(source)[0]
        new_source = source[: match.start()] + block + source[match.end() :]
        cell["source"] = _lines(new_source) if isinstance(cell.get("source"), list) else new_source
    else:
        cells.insert(0, _hidden_cell(notebook, block))
    metadata = notebook.setdefault("metadata", {})
    if lock is not None:
        metadata[LOCK_KEY] = lock
    else:
        metadata.pop(LOCK_KEY, None)
    return _dumps(notebook, nb.raw)


def _hidden_cell(notebook: dict[str, Any], block: str) -> dict[str, Any]:
    """A code cell holding only the block, hidden, as juv makes it (with an id from nbformat
    4.5 on, as nbformat requires)."""
    cell: dict[str, Any] = {"cell_type": "code", "execution_count": None}
    major, minor = notebook.get("nbformat", 4), notebook.get("nbformat_minor", 0)
    if isinstance(major, int) and isinstance(minor, int) and (major, minor) >= (4, 5):
        cell["id"] = uuid.uuid4().hex[:8]
    cell["metadata"] = {"jupyter": {"source_hidden": True}}
    cell["outputs"] = []
    cell["source"] = _lines(block)
    return cell


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _dumps(notebook: dict[str, Any], original: bytes) -> bytes:
    """JSON as nbformat writes it, in the style of ``original``: sorted keys if it was
    written sorted (nbformat does), its trailing newline or none (juv writes none)."""
    sort = _written_sorted(original)
    text = json.dumps(notebook, indent=1, ensure_ascii=False, sort_keys=sort)
    if original.endswith(b"\n"):
        text += "\n"
    return text.encode("utf-8")


def _written_sorted(original: bytes) -> bool:
    try:
        data = json.loads(original.decode("utf-8"))
    except ValueError:
        return False
    as_read = json.dumps(data, indent=1, ensure_ascii=False)
    return as_read == json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)


def replace_notebook(nb: NotebookFile, data: bytes) -> None:
    """Write ``data`` over the notebook atomically, keeping its permissions; refuse (409) if
    the file no longer holds the bytes the edit started from (saved meanwhile)."""
    folder = os.path.dirname(nb.path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(nb.path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mode = os.stat(nb.path).st_mode & 0o7777
        os.chmod(tmp, mode)
        with open(nb.path, "rb") as f:
            if f.read() != nb.raw:
                raise NotebookChanged(
                    f"{os.path.basename(nb.path)} was changed on disk while its dependencies "
                    "were being edited, so the edit was not written; save the notebook and "
                    "try again."
                )
        os.replace(tmp, nb.path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dependencies_json(nb: NotebookFile) -> list[dict[str, Any]]:
    """The block's dependencies with their locked versions (NotebookDependencies items)."""
    if nb.metadata is None:
        return []
    versions = locked_versions(nb.lock) if nb.lock is not None and nb.problem is None else {}
    out = []
    for text in nb.metadata.dependencies:
        name = canonicalize_name(Requirement(text).name)
        out.append({"requirement": text, "name": name, "locked_version": versions.get(name)})
    return out
