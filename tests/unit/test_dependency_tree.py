"""The tree parser on uv's real drawing, captured at test time (uv's format may change)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels.dependency_tree import parse_tree, project_groups, render_tree
from tests.conftest import make_project, make_venv, uv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Any]:
    """A project whose tree has every marker: an extra (requests[socks] -> pysocks), a
    dependency group (dev), and a repeated subtree (pytest, also under pytest-timeout)."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("drawn")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        project = make_project(base / "drawn", "requests[socks]", "pytest", "pytest-timeout")
        uv("add", "--project", str(project), "--dev", "iniconfig")
        venv = make_venv(base / "venv", "pytest-timeout", "six")
        text = uv("tree", "--frozen", "--all-groups", "--project", str(project)).stdout
        inverted = uv(
            "tree", "--frozen", "--all-groups", "--invert", "--package", "iniconfig",
            "--project", str(project),
        ).stdout  # fmt: skip
        pip_text = uv("pip", "tree", "--python", str(venv / "bin" / "python")).stdout
    with open(project / "uv.lock", "rb") as f:
        packages = tomllib.load(f)["package"]
    edges = {
        p["name"]: {d["name"] for d in p.get("dependencies", [])}
        | {d["name"] for g in p.get("optional-dependencies", {}).values() for d in g}
        | {d["name"] for g in p.get("dev-dependencies", {}).values() for d in g}
        for p in packages
    }
    versions = {p["name"]: p["version"] for p in packages}
    return {"text": text, "inverted": inverted, "pip": pip_text, "edges": edges, "v": versions}


def drawn_nodes(text: str) -> list[str]:
    """uv's node lines, without its footnote and with the extras a name is installed with
    (``requests[socks]``) left out, as the records leave them out."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("(*)")]
    return [re.sub(r"\[[^\]]*\] v", " v", ln) for ln in lines]


def nodes(tree: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any]]]:
    """(parent, node) for every node, depth first."""
    stack: list[tuple[dict[str, Any] | None, dict[str, Any]]] = [(None, n) for n in tree]
    while stack:
        parent, node = stack.pop(0)
        yield parent, node
        stack[0:0] = [(node, c) for c in node["dependencies"]]


def test_given_uv_tree_output_when_parsed_then_every_line_is_a_node_on_a_locked_edge(
    drawn: dict[str, Any],
) -> None:
    roots = parse_tree(drawn["text"])
    assert [r["name"] for r in roots] == ["drawn"]
    found = list(nodes(roots))
    drawing = drawn_nodes(drawn["text"])
    assert len(found) == len(drawing)
    for parent, node in found:
        assert node["version"] == drawn["v"][node["name"]]
        if parent is not None:
            assert node["name"] in drawn["edges"][parent["name"]], (parent["name"], node["name"])
    by_name: dict[str, list[dict[str, Any]]] = {}
    for _, node in found:
        by_name.setdefault(node["name"], []).append(node)
    assert by_name["pysocks"][0]["extra"] == "socks"
    repeated = [n for _, n in found if n.get("repeated")]
    assert repeated, drawn["text"]  # pytest under pytest-timeout is drawn only once in full
    for node in repeated:
        assert node["dependencies"] == []
        assert any(other["dependencies"] for other in by_name[node["name"]])


def test_given_a_parsed_tree_when_drawn_again_then_it_is_uvs_drawing(
    drawn: dict[str, Any],
) -> None:
    (root,) = parse_tree(drawn["text"])
    again = render_tree({"groups": [{"name": "all", "dependencies": root["dependencies"]}]})
    assert again[1:] == drawn_nodes(drawn["text"])[1:]


def test_given_a_project_tree_when_grouped_then_main_and_dev_hold_the_direct_dependencies(
    drawn: dict[str, Any],
) -> None:
    groups = project_groups(parse_tree(drawn["text"]), "drawn")
    assert [g["name"] for g in groups] == ["main", "dev"]
    main, dev = (g["dependencies"] for g in groups)
    assert {n["name"] for n in main} == {"requests", "pytest", "pytest-timeout"}
    assert [n["name"] for n in dev] == ["iniconfig"] and "extra" not in dev[0]


def test_given_an_inverted_tree_when_parsed_then_it_leads_to_the_project_by_every_path(
    drawn: dict[str, Any],
) -> None:
    (root,) = parse_tree(drawn["inverted"])
    assert root["name"] == "iniconfig"
    leaves = [n for _, n in nodes([root]) if not n["dependencies"] and not n.get("repeated")]
    assert leaves and {n["name"] for n in leaves} == {"drawn"}
    assert {n.get("extra") for n in leaves} == {None, "group:dev"}


def test_given_uv_pip_tree_output_when_parsed_then_roots_are_what_nothing_requires(
    drawn: dict[str, Any],
) -> None:
    roots = parse_tree(drawn["pip"])
    assert {r["name"] for r in roots} == {"pytest-timeout", "six"}
    timeout = next(r for r in roots if r["name"] == "pytest-timeout")
    assert [c["name"] for c in timeout["dependencies"]] == ["pytest"]
    assert {c["name"] for c in timeout["dependencies"][0]["dependencies"]} >= {"pluggy"}


def test_given_lines_that_are_no_nodes_when_parsed_then_they_are_skipped() -> None:
    assert parse_tree("\n\nwarning: something\n") == []
