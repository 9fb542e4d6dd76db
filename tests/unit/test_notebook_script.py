"""notebook_script: the block checked, and the notebook written back changing nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_uv_kernels.errors import InvalidNotebook, NotebookChanged
from jupyter_uv_kernels.notebook_script import (
    load_notebook,
    parse_block,
    render_notebook,
    replace_notebook,
)
from jupyter_uv_kernels.script_block import MAX_BLOCK_BYTES
from tests.juv_notebooks import juv_notebook


def block(*lines: str) -> str:
    return "\n".join(["# /// script", *(f"# {line}" for line in lines), "# ///"])


def write_nb(path: Path, source: list[str] | str, *, sort: bool = False, minor: int = 5) -> Path:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    nb = {
        "cells": [{**cell, "source": source}],
        "metadata": {"kernelspec": {"name": "python3"}, "ünïcode": "é"},
        "nbformat": 4,
        "nbformat_minor": minor,
    }
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=sort) + "\n", "utf-8")
    return path


def test_given_a_juv_notebook_when_written_unchanged_then_it_is_byte_identical(
    tmp_path: Path,
) -> None:
    nb_path = juv_notebook(tmp_path / "fig.ipynb", "six", lock=True)
    nb = load_notebook(str(nb_path))
    assert nb.problem is None and nb.block is not None and nb.lock is not None
    assert render_notebook(nb, nb.block[1], nb.lock) == nb_path.read_bytes()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (block('dependencies = ["six"'), "not valid TOML"),
        (block('dependencies = ["--index-url=http://x"]'), "command-line option"),
        (block('dependencies = ["six["]'), "not a PEP 508 requirement"),
        (block('dependencies = "six"'), "must be a list of strings"),
        (block('requires-python = "three"'), "not a version specifier"),
    ],
)
def test_bad_blocks_are_refused_with_the_fix(text: str, words: str) -> None:
    with pytest.raises(InvalidNotebook, match=words):
        parse_block(text)


def test_a_huge_block_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    deps = "".join(f'#   "pkg{i}",\n' for i in range(MAX_BLOCK_BYTES // 10))
    path = write_nb(tmp_path / "big.ipynb", f"# /// script\n# dependencies = [\n{deps}# ]\n# ///")
    nb = load_notebook(str(path))
    assert nb.problem is not None and "larger than" in nb.problem
    with pytest.raises(InvalidNotebook):
        nb.require_usable()


def test_json_that_is_no_notebook_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.ipynb").write_text("[1, 2]")
    with pytest.raises(InvalidNotebook):
        load_notebook(str(tmp_path / "x.ipynb"))
    (tmp_path / "y.ipynb").write_text('{"a": 1}')
    with pytest.raises(InvalidNotebook, match="not a Jupyter notebook"):
        load_notebook(str(tmp_path / "y.ipynb"))


@pytest.mark.parametrize("minor", [4, 5])
def test_a_new_block_goes_in_a_hidden_first_cell(tmp_path: Path, minor: int) -> None:
    path = write_nb(tmp_path / "plain.ipynb", ["import six\n", "print(1)"], minor=minor)
    nb = load_notebook(str(path))
    assert nb.block is None
    data = json.loads(render_notebook(nb, block('dependencies = ["six"]'), "lock text"))
    first = data["cells"][0]
    assert first["metadata"] == {"jupyter": {"source_hidden": True}}
    assert ("id" in first) == (minor >= 5)
    assert "".join(first["source"]) == block('dependencies = ["six"]')
    assert data["cells"][1]["source"] == ["import six\n", "print(1)"]
    assert data["metadata"]["uv.lock"] == "lock text"
    assert data["metadata"]["ünïcode"] == "é"


def test_a_block_inside_a_cell_with_code_keeps_the_code(tmp_path: Path) -> None:
    source = block('dependencies = ["six"]') + "\nimport six\n"
    path = write_nb(tmp_path / "mixed.ipynb", source, sort=True)
    nb = load_notebook(str(path))
    new = block('dependencies = ["attrs", "six"]')
    raw = render_notebook(nb, new, None)
    assert json.loads(raw)["cells"][0]["source"] == new + "\nimport six\n"
    # A file nbformat wrote (sorted keys, trailing newline) stays in that style
    assert (
        raw.decode()
        == json.dumps(json.loads(raw), indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    )


def test_a_notebook_saved_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = write_nb(tmp_path / "nb.ipynb", block('dependencies = ["six"]'))
    nb = load_notebook(str(path))
    path.write_text(path.read_text() + " ")  # the user saved in between
    saved = path.read_bytes()
    with pytest.raises(NotebookChanged):
        replace_notebook(nb, render_notebook(nb, block("dependencies = []"), None))
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]
