"""A notebook's inline script metadata (PEP 723) and lock, as juv keeps them.

juv (and this package) keep a self-contained notebook's dependencies in the first code cell
whose source holds a PEP 723 ``script`` block (juv hides that cell), and, once locked, the
text of the script's ``uv.lock`` in the notebook's metadata under ``"uv.lock"``::

    # /// script
    # requires-python = ">=3.11"
    # dependencies = [
    #     "xarray==2024.6.0",
    # ]
    # ///

This module only finds and extracts; it uses the standard library and runs under any
Python >= 3.8, because the ``uv-script`` kernel's launcher copies it into the kernelspec
directory and runs it in a batch job's Python, which lacks this package and may lack
``tomllib``. :func:`validate_block` is the guard a kernel start applies before uv is given a
block; the full validation (PEP 508, for the panel and the CLI) lives in ``notebook_script``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

#: PEP 723's reference expression (a ``type`` line, ``#``-prefixed content, a closing line).
BLOCK_RE = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
#: The block type that holds dependencies.
SCRIPT_TYPE = "script"
#: The notebook-metadata key juv (>= 0.4) stores the lock under.
LOCK_KEY = "uv.lock"
#: Larger notebooks are refused before they are read (a data-heavy notebook is fine; this
#: only bounds what a kernel start or a panel request will parse).
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
#: A script block larger than this is refused (a real one is a few hundred bytes).
MAX_BLOCK_BYTES = 64 * 1024
#: Bumped when the environment a block builds changes for the same block and lock, so every
#: cached environment is rebuilt.
ENV_FORMAT = 1
#: Requirements shorter than this are plenty; a longer one is not a requirement.
MAX_REQUIREMENT_CHARS = 2048

_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"|\'([^\'\n]*)\'')


class BlockError(Exception):
    """The notebook or its script block cannot be used; the message names the fix."""


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source as one string (nbformat allows a string or a list of lines)."""
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def script_blocks(source: str) -> list[re.Match[str]]:
    """Every ``script`` block in ``source``."""
    return [m for m in BLOCK_RE.finditer(source) if m.group("type") == SCRIPT_TYPE]


def find_block(notebook: dict[str, Any]) -> tuple[int, str] | None:
    """``(cell index, block text)`` of the first code cell holding a script block, or None.

    This is juv's rule: the first code cell whose source contains a block. Two blocks in
    that cell are an error, as PEP 723 says.
    """
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        return None
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        found = script_blocks(source)
        if len(found) > 1:
            raise BlockError(
                f"Cell {index + 1} holds {len(found)} '# /// script' blocks; PEP 723 allows "
                "one. Fix: merge them into one block."
            )
        if found:
            block = found[0].group(0)
            if len(block.encode("utf-8")) > MAX_BLOCK_BYTES:
                raise BlockError(
                    f"The notebook's '# /// script' block is larger than "
                    f"{MAX_BLOCK_BYTES // 1024} KiB. Fix: keep only requires-python and "
                    "dependencies in it."
                )
            return index, block
    return None


def block_toml(block: str) -> str:
    """The TOML inside a block: its content lines without their ``#`` or ``# `` prefix."""
    match = BLOCK_RE.search(block)
    if match is None:
        raise BlockError("Not a '# /// script' block.")
    lines = match.group("content").splitlines(keepends=True)
    return "".join(line[2:] if line.startswith("# ") else line[1:] for line in lines)


def notebook_lock(notebook: dict[str, Any]) -> str | None:
    """The lock text juv keeps in the notebook's metadata, or None."""
    metadata = notebook.get("metadata")
    lock = metadata.get(LOCK_KEY) if isinstance(metadata, dict) else None
    if lock is None:
        return None
    if not isinstance(lock, str):
        raise BlockError(
            f"The notebook's metadata[{LOCK_KEY!r}] is not text. Fix: relock the notebook "
            "(Lock in the panel, or `juv lock`)."
        )
    return lock


def read_notebook_bytes(path: str) -> bytes:
    """The notebook file's bytes, refused past ``MAX_NOTEBOOK_BYTES``."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as e:
        raise BlockError(f"Cannot read the notebook {path}: {e.strerror or e}.") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise BlockError(
            f"The notebook {path} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB; clear "
            "its outputs to use its inline dependencies."
        )
    return data


def parse_notebook(data: bytes, path: str) -> dict[str, Any]:
    """Notebook JSON from the file's bytes; :class:`BlockError` when it is not."""
    try:
        notebook = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BlockError(f"The notebook {path} is not valid notebook JSON ({e}).") from None
    if not isinstance(notebook, dict):
        raise BlockError(f"The notebook {path} is not valid notebook JSON.")
    return notebook


def read_notebook(path: str) -> dict[str, Any]:
    """The notebook at ``path`` as JSON; :class:`BlockError` when it cannot be."""
    return parse_notebook(read_notebook_bytes(path), path)


#: A dependency on a path relative to the notebook: a ``[tool.uv.sources]`` entry
#: ``{ path = "mylib" }`` (what ``juv add NB ./mylib`` writes) or ``name @ ./mylib``.
_LOCAL_PATH = re.compile(r"""\bpath\s*=\s*["'](?![/~])|@\s*\.{1,2}/""")


def local_paths_folder(path: str, block: str) -> str | None:
    """The folder a block's relative paths are relative to (the notebook's real folder),
    or None when it has none: such a block builds a different environment in each folder
    (a colleague's clone at another path builds its own)."""
    if _LOCAL_PATH.search(block_toml(block)) is None:
        return None
    return os.path.dirname(os.path.realpath(path))


def environment_key(block: str, lock: str | None, folder: str | None = None) -> str:
    """The cache key of the environment a block (and its lock) builds: 16 hex digits.

    Any change to the block or the lock gives a new key, so a cached environment always
    matches what the notebook says. ``folder`` (:func:`local_paths_folder`) is part of the
    key when the block names paths relative to it.
    """
    text = f"{ENV_FORMAT}\0{block.strip()}\0{lock or ''}"
    text += f"\0{folder}" if folder else ""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def validate_block(block: str) -> None:
    """Refuse a block uv must not be given: bad TOML, option-shaped or multi-line
    requirements. Raises :class:`BlockError`; nothing is installed."""
    toml = block_toml(block)
    for match in _QUOTED.finditer(toml):
        text = match.group(1) if match.group(1) is not None else match.group(2)
        _check_requirement(text.replace("\\n", "\n").replace("\\r", "\r"))
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python < 3.11: uv parses it and says what is wrong
        return
    try:
        data = tomllib.loads(toml)
    except ValueError as e:
        raise BlockError(
            f"The notebook's '# /// script' block is not valid TOML ({e}). Fix: correct it "
            "in the first cell, or set the dependencies again in the uv panel."
        ) from None
    deps = data.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise BlockError(
            "The '# /// script' block's dependencies must be a list of requirement strings, "
            'like dependencies = ["xarray>=2024.1"].'
        )
    for dep in deps:
        _check_requirement(dep)
    if not isinstance(data.get("requires-python", ""), str):
        raise BlockError("The '# /// script' block's requires-python must be a string.")


def _check_requirement(text: str) -> None:
    if text.lstrip().startswith("-"):
        raise BlockError(
            f"The '# /// script' block holds {text[:60]!r}, which is a command-line option, "
            "not a requirement. Fix: remove it (indexes belong in [tool.uv])."
        )
    if any(c in text for c in "\n\r\0") or len(text) > MAX_REQUIREMENT_CHARS:
        raise BlockError(
            "The '# /// script' block holds a requirement with a line break or of "
            f"{len(text)} characters. Fix: one requirement per string."
        )
