"""Hostile and malformed input: a 4xx with a JSON message, and nothing on disk changes.

One real project lives in the root and one outside it (reachable through a symlink in the
root). Every case snapshots the root, the outside tree and the kernelspec dir before and
after the request.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project

from .conftest import Api, tree_snapshot

LIMIT = 4096


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Path]:
    """A root with a project, and an outside dir with a project, built once for the module."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("hostile")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("HOME", str(base))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        root = base / "root"
        outside = base / "outside"
        make_project(root / "p", "ipykernel")
        make_project(outside / "theirs", "ipykernel")
    (root / "link").symlink_to(outside)  # a symlink in the root pointing out of it
    return {"root": root, "outside": outside}


@pytest.fixture
def uv_root(trees: dict[str, Path]) -> Path:
    return trees["root"]


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any]) -> dict[str, Any]:
    return {**uv_kernels_config, "max_request_bytes": LIMIT}


async def env_ids(api: Api, trees: dict[str, Path]) -> dict[str, str]:
    listing = await api.wait_for_scan()
    by_path = {e["path"]: e["id"] for e in listing["environments"]}
    return {
        "p": by_path[str(trees["root"] / "p")],
        # Discovery follows the symlink, so the outside project is listed (read-only).
        "linked": by_path[str(trees["root"] / "link" / "theirs")],
    }


@pytest.fixture
def unchanged(trees: dict[str, Path], jp_data_dir: Path) -> Any:
    """Call after the request: asserts nothing below the trees or kernelspecs changed."""

    def snapshot() -> dict[str, Any]:
        return tree_snapshot(trees["root"], trees["outside"], jp_data_dir / "kernels")

    class Checker:
        def __init__(self) -> None:
            self.before: dict[str, Any] | None = None

        def start(self) -> None:
            self.before = snapshot()

        def check(self) -> None:
            assert self.before is not None
            after = snapshot()
            changed = {
                k for k in set(self.before) | set(after) if self.before.get(k) != after.get(k)
            }
            assert not changed, f"changed on disk: {sorted(changed)[:10]}"

    return Checker()


CREATE_CASES = [
    ({"path": "../outside/new"}, 403),
    ({"path": "link/new"}, 403),
    ({"path": "/etc/uv-kernels-evil"}, 403),
    ({"path": "/tmp/../etc/evil"}, 403),
    ({"path": "p/../../outside/new"}, 403),
    ({"path": "a\x00b"}, 400),
    ({"path": "line\nbreak"}, 400),
    ({"path": ""}, 400),
    ({"path": 5}, 400),
    ({"path": None}, 400),
    ({}, 400),
    ({"path": "new", "packages": ["--index-url=http://127.0.0.1:9/simple"]}, 400),
    ({"path": "new", "packages": ["-e ."]}, 400),
    ({"path": "new", "packages": ["six", "--extra-index-url", "http://x"]}, 400),
    ({"path": "new", "packages": ["six; rm -rf /"]}, 400),
    ({"path": "new", "packages": [{"name": "six"}]}, 400),
    ({"path": "new", "kind": "conda"}, 400),
    ({"path": "new", "python": "--help"}, 400),
    ({"path": "new", "python": "/nonexistent/python3"}, 400),
    ({"path": "new", "packages": ["six"], "index_url": "http://x"}, 400),
    ({"path": "p"}, 409),  # exists and is not empty
    ({"path": "\ufeff/etc/new"}, 400),  # looks like /etc/new: an invisible BOM first
]


@pytest.mark.parametrize(
    ("body", "status"), CREATE_CASES, ids=[repr(c[0])[:60] for c in CREATE_CASES]
)
async def test_given_a_hostile_create_body_then_it_is_rejected(
    api: Api, trees: dict[str, Path], unchanged: Any, body: dict[str, Any], status: int
) -> None:
    await api.wait_for_scan()  # the first scan writes kernelspecs: snapshot after it
    unchanged.start()
    reply = await api.post("environments", body=body, expect=status)
    assert reply.body["message"]
    unchanged.check()
    assert (await api.get("operations", expect=200)).body["operations"] == []


RAW_BODIES = [
    (b"{not json", 400),
    (b"[1, 2]", 400),
    (b'"path"', 400),
    (b"\xff\xfe", 400),
    (b'{"path": "' + b"a" * LIMIT + b'"}', 413),
]


@pytest.mark.parametrize(
    ("raw", "status"), RAW_BODIES, ids=["bad-json", "array", "string", "binary", "too-large"]
)
async def test_given_a_malformed_body_then_it_is_rejected(
    api: Api, trees: dict[str, Path], unchanged: Any, raw: bytes, status: int
) -> None:
    ids = await env_ids(api, trees)
    unchanged.start()
    for parts in (
        ("environments",),
        ("environments", ids["p"], "packages"),
        ("environments", ids["p"], "sync"),
        ("environments", ids["p"], "kernel"),
    ):
        reply = await api.post(*parts, body=raw, expect=status)
        assert reply.body["message"]
    unchanged.check()


ENV_CASES = [
    ("POST", ("packages",), {"packages": ["--index-url=http://127.0.0.1:9/simple"]}, 400),
    ("POST", ("packages",), {"packages": ["-e ."]}, 400),
    ("POST", ("packages",), {"packages": ["-r", "requirements.txt"]}, 400),
    ("POST", ("packages",), {"packages": []}, 400),
    ("POST", ("packages",), {"packages": 5}, 400),
    ("POST", ("packages",), {}, 400),
    ("POST", ("packages",), {"packages": ["six"] * 101}, 400),
    ("DELETE", ("packages", "--index-url=http:x"), None, 400),
    ("DELETE", ("packages", "-e ."), None, 400),
    ("DELETE", ("packages", "six==1.16"), None, 400),
    ("DELETE", ("packages", "ipykernel"), None, 409),  # would break the registered kernel
    ("POST", ("sync",), {"relock": "yes"}, 400),
    ("POST", ("sync",), {"frozen": False}, 400),
    ("POST", ("kernel",), {"name": "../../evil"}, 400),
    ("POST", ("kernel",), {"name": "a/b"}, 400),
    ("POST", ("kernel",), {"name": "python3"}, 409),  # reserved
    ("POST", ("kernel",), {"name": "echo"}, 409),  # a spec jupyter_uv_kernels did not write
    ("POST", ("kernel",), {"display_name": "two\nlines"}, 400),
    ("POST", ("kernel",), {"add_ipykernel": "no"}, 400),
]


@pytest.mark.parametrize(
    ("method", "tail", "body", "status"),
    ENV_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}"[:70] for c in ENV_CASES],
)
async def test_given_a_hostile_environment_request_then_it_is_rejected(
    api: Api,
    trees: dict[str, Path],
    unchanged: Any,
    method: str,
    tail: tuple[str, ...],
    body: Any,
    status: int,
) -> None:
    ids = await env_ids(api, trees)
    unchanged.start()
    reply = await api.call(method, "environments", ids["p"], *tail, body=body, expect=status)
    assert reply.body["message"]
    unchanged.check()
    assert (await api.get("operations", expect=200)).body["operations"] == []


async def test_given_an_env_reached_by_a_symlink_out_of_the_roots_then_it_is_read_only(
    api: Api, trees: dict[str, Path], unchanged: Any
) -> None:
    ids = await env_ids(api, trees)
    unchanged.start()
    for method, tail, body in (
        ("POST", ("sync",), None),
        ("POST", ("packages",), {"packages": ["iniconfig"]}),
        ("DELETE", ("packages", "six"), None),
        ("POST", ("kernel",), None),
        ("DELETE", ("kernel",), None),
    ):
        reply = await api.call(method, "environments", ids["linked"], *tail, body=body, expect=403)
        assert "outside the configured roots" in reply.body["message"]
    unchanged.check()


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("GET", ("environments", "0123456789abcdef")),
        ("GET", ("environments", "..")),
        ("POST", ("environments", "nope", "sync")),
        ("POST", ("environments", "nope", "packages")),
        ("DELETE", ("environments", "nope", "packages", "six")),
        ("POST", ("environments", "nope", "kernel")),
        ("DELETE", ("environments", "nope", "kernel")),
        ("GET", ("operations", "nope")),
        ("DELETE", ("operations", "nope")),
    ],
)
async def test_given_an_unknown_id_then_the_answer_is_404(
    api: Api, trees: dict[str, Path], unchanged: Any, method: str, parts: tuple[str, ...]
) -> None:
    await api.wait_for_scan()
    unchanged.start()
    body = {"packages": ["six"]} if parts[-1] == "packages" else None
    reply = await api.call(method, *parts, body=body, expect=404)
    assert reply.body["message"]
    unchanged.check()


async def test_given_a_bad_log_offset_then_the_answer_is_400(
    api: Api, trees: dict[str, Path]
) -> None:
    ids = await env_ids(api, trees)
    op = (await api.post("environments", ids["p"], "sync", expect=202)).body["operation"]
    for since in ("abc", "-1", "1.5"):
        await api.get("operations", op["id"], params={"since": since}, expect=400)
    done, _ = await api.wait_op(op["id"])
    assert done["state"] == "succeeded"
