"""The dependency tree (uv tree / uv pip tree) through the REST API, with the real uv.

What the tree says is checked against uv.lock (read with tomllib), not against uv's drawing."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project, make_venv, uv

from .conftest import Api

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Path]:
    base = Path(os.path.realpath(tmp_path_factory.mktemp("tree")))
    root = base / "root"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        project = make_project(root / "study", "requests", "six")
        uv("add", "--project", str(project), "--dev", "iniconfig")
        venv = make_venv(root / "tools", "requests", "six")
    return {"root": root, "project": project, "venv": venv}


@pytest.fixture
def uv_root(built: dict[str, Path]) -> Path:
    return built["root"]


def lock_graph(project: Path) -> tuple[dict[str, str], dict[str, set[str]]]:
    """uv.lock's versions and edges (package -> what it depends on, any group)."""
    with open(project / "uv.lock", "rb") as f:
        packages = tomllib.load(f)["package"]
    versions = {p["name"]: p["version"] for p in packages}
    edges: dict[str, set[str]] = {}
    for p in packages:
        deps = list(p.get("dependencies", []))
        for table in ("optional-dependencies", "dev-dependencies"):
            for group in p.get(table, {}).values():
                deps += group
        edges[p["name"]] = {d["name"] for d in deps}
    return versions, edges


def walk(nodes: list[dict[str, Any]], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every root-to-leaf path of names."""
    for node in nodes:
        here = (*path, node["name"])
        if node["dependencies"]:
            yield from walk(node["dependencies"], here)
        else:
            yield here


async def test_given_a_project_with_a_dev_group_when_tree_then_direct_dependencies_by_group(
    api: Api, built: dict[str, Path]
) -> None:
    project = built["project"]
    env = await api.env_at(project, rescan=True)
    reply = (await api.get("environments", env["id"], "tree", expect=200)).body
    assert reply["inverted"] is False and reply["package"] is None
    groups = {g["name"]: g["dependencies"] for g in reply["groups"]}
    assert list(groups) == ["main", "dev"]
    versions, edges = lock_graph(project)
    assert {n["name"] for n in groups["main"]} == {"requests", "six"}
    assert [n["name"] for n in groups["dev"]] == ["iniconfig"]
    requests = next(n for n in groups["main"] if n["name"] == "requests")
    assert requests["version"] == versions["requests"]
    assert {c["name"] for c in requests["dependencies"]} == edges["requests"]
    for child in requests["dependencies"]:  # the nested records carry the locked versions
        assert child["version"] == versions[child["name"]]
    for path in walk(groups["main"]):  # every edge drawn is an edge of the lock
        for parent, child in itertools.pairwise(path):
            assert child in edges[parent], (parent, child)


async def test_given_a_venv_when_tree_then_the_top_level_is_what_nothing_requires(
    api: Api, built: dict[str, Path]
) -> None:
    env = await api.env_at(built["venv"], rescan=True)
    reply = (await api.get("environments", env["id"], "tree", expect=200)).body
    (group,) = reply["groups"]
    assert group["name"] == "installed"
    top = {n["name"]: n for n in group["dependencies"]}
    assert set(top) == {"requests", "six"}
    assert "idna" in {c["name"] for c in top["requests"]["dependencies"]}


async def test_given_a_transitive_package_when_inverted_then_the_chain_ends_at_a_direct_dependency(
    api: Api, built: dict[str, Path]
) -> None:
    project, venv = built["project"], built["venv"]
    env = await api.env_at(project, rescan=True)
    reply = await api.get(
        "environments", env["id"], "tree", params={"invert": "true", "package": "IDNA"}
    )
    assert reply.status == 200 and reply.body["inverted"] is True
    assert reply.body["package"] == "IDNA"
    (group,) = reply.body["groups"]
    assert group["name"] == "required-by"
    (idna,) = group["dependencies"]
    assert idna["name"] == "idna"
    paths = list(walk(group["dependencies"]))
    assert paths == [("idna", "requests", "study")]  # why: requests, which the project asks for

    venv_env = await api.env_at(venv)
    reply = await api.get(
        "environments", venv_env["id"], "tree", params={"invert": "true", "package": "urllib3"}
    )
    assert list(walk(reply.body["groups"][0]["dependencies"])) == [("urllib3", "requests")]


async def test_given_bad_tree_requests_then_4xx_say_what_to_send(
    api: Api, built: dict[str, Path]
) -> None:
    env = await api.env_at(built["project"], rescan=True)

    async def refused(params: dict[str, str], status: int, *words: str) -> None:
        reply = await api.get("environments", env["id"], "tree", params=params, expect=status)
        for word in words:
            assert word in reply.body["message"], reply.body["message"]

    await refused({"invert": "true"}, 400, "package=NAME")
    await refused({"package": "idna"}, 400, "invert=true")
    await refused({"invert": "true", "package": "nosuchpkg"}, 400, "nosuchpkg", "uv.lock")
    await refused({"invert": "true", "package": "--all"}, 400, "option")
    await refused({"invert": "yes", "package": "idna"}, 400, "true or false")
    await api.get("environments", "0123456789abcdef", "tree", expect=404)
