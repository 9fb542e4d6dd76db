"""Hostile input against every write route of a real server: all refused, nothing changed.

Given a root with real uv environments, a symlink from the root to a decoy directory outside
it (holding a real project), a dangling symlink out of the root, and a kernelspec dir with a
registered kernel, when a few hundred generated hostile requests hit every write route
(path traversal, absolute paths outside the roots, symlink escapes, NUL and control
characters, 10,000-character values, unicode tricks, option-shaped package strings,
malformed JSON, wrong types, oversized bodies, missing or wrong tokens), then every one gets
a 4xx with a JSON ``message``, none gets a 5xx, and a snapshot of the roots, HOME, the
kernelspec dir and the decoy (path, type, size, mtime_ns, content hash) is unchanged.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import make_project, make_venv
from tests.reliability.figures import record
from tests.reliability.live_server import (
    LiveServer,
    changed_paths,
    running_server,
    snapshot,
)

P = "uv-kernels/"


@dataclass
class Attempt:
    label: str
    method: str
    path: str
    body: Any = None  # JSON-encoded unless ``raw`` is set
    raw: bytes | None = None
    token: str | None = ""  # "" = the server's token, None = no token
    headers: dict[str, str] | None = None


@pytest.fixture
def world(tmp_path: Path, uv_cache_dir: Path) -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    work = Path(os.path.realpath(tmp_path))
    root = work / "root"
    decoy = work / "decoy"
    make_venv(root / "venv", "ipykernel")  # ready: gets a kernel
    make_project(root / "proj", "six")  # a project without ipykernel
    make_project(decoy / "outside-proj", "six")
    (decoy / "secret.txt").write_text("not yours to touch\n")
    (root / "escape").symlink_to(decoy)  # discovery lists escape/outside-proj
    (root / "dangle").symlink_to(decoy / "not-yet")
    (root / "afile").write_text("a file, not a directory\n")
    with running_server(work / "srv", [root], uv_cache=uv_cache_dir) as server:
        listing = server.wait_scanned()
        envs = {e["relpath"]: e for e in listing["environments"]}
        assert {"venv", "proj", "escape/outside-proj"} <= set(envs), envs
        assert envs["venv"]["kernel"], "the ready venv has its kernel before the attack"
        yield server, {"root": root, "decoy": decoy, "envs": envs}


def hostile_paths(root: Path, decoy: Path, home: Path, kernels: Path) -> list[str]:
    """Values for ``path`` in POST environments that must never create anything."""
    return [
        # traversal
        "..",
        "../",
        "../x",
        "../../x",
        "../../../../../../etc/uvk-pwned",
        "sub/../../x",
        "./../x",
        "a/b/../../../x",
        "proj/../../x",
        "../decoy/new",
        f"../{decoy.name}/outside-proj",
        "venv/../../root-sibling",
        # absolute paths outside the roots
        "/",
        "/etc",
        "/etc/uvk-pwned",
        "/tmp/uvk-pwned",
        "/root/uvk-pwned",
        "//etc/uvk-pwned",
        str(decoy / "new-env"),
        str(decoy),
        str(home / "new-env"),
        str(kernels / "new-env"),
        str(root) + "-sibling",
        str(root.parent),
        "~/new-env",
        "~root/new-env",
        # symlink escapes
        "escape/new-env",
        "escape",
        "escape/outside-proj",
        "escape/../escape/new",
        "dangle",
        "dangle/sub",
        # existing targets inside the root (must not be overwritten)
        "venv",
        "proj",
        "afile",
        "afile/sub",
        # NUL and control characters
        "x\x00y",
        "\x00",
        "venv\x00/../../x",
        "new\nenv",
        "new\renv",
        "new\tenv",
        "\x1b[31mred",
        "del\x7f",
        # length
        "a" * 10_000,
        "a/" * 5_000,
        "b" * 4_097,
        # unicode tricks that still point outside, or cannot be paths at all
        "\u202e/../../../x",
        "ünï/../../../x",
        "\ufeff/etc/uvk-pwned",
        "\ud800lone-surrogate",
        "new\udfffenv",
        "..\u2215..\u2215x/../../../y",
        "",
        "   ",
    ]


def hostile_requirements() -> list[Any]:
    """``packages`` entries that must be refused before uv runs."""
    return [
        "--index-url=http://127.0.0.1:9/simple",
        "--index-url",
        "--extra-index-url=http://127.0.0.1:9/simple",
        "-i http://127.0.0.1:9/simple",
        "-e",
        "-e .",
        "-e /etc",
        "--editable=/tmp",
        "--config-file=/etc/passwd",
        "--config-file",
        "-r /etc/passwd",
        "-c constraints.txt",
        "--find-links=/tmp",
        "--python=/usr/bin/python3",
        "--no-deps",
        "-",
        "--",
        " --index-url=http://127.0.0.1:9/simple",
        "\t-e .",
        "six\n--index-url=http://127.0.0.1:9/simple",
        "six --index-url=http://127.0.0.1:9/simple",
        "six; --config-file=/etc/passwd",
        "../../etc/passwd",
        "/etc/passwd",
        "./local",
        "six\x00",
        "six==",
        "six>=>1",
        "a b c",
        "nümpy",
        "x" * 10_000,
        "six[",
        "six @",
        "\x1b[31msix",
    ]


def build_attempts(server: LiveServer, world: dict[str, Any]) -> list[Attempt]:
    root, decoy = world["root"], world["decoy"]
    envs = world["envs"]
    venv_id = envs["venv"]["id"]
    proj_id = envs["proj"]["id"]
    escape_id = envs["escape/outside-proj"]["id"]
    attempts: list[Attempt] = []

    def add(label: str, method: str, path: str, **kw: Any) -> None:
        attempts.append(Attempt(label, method, path, **kw))

    # -- POST environments: hostile paths, both kinds --------------------------------------
    for value in hostile_paths(root, decoy, server.home, server.kernelspec_dir):
        for kind in ("project", "venv"):
            add("path", "POST", P + "environments", body={"path": value, "kind": kind})
    # hostile packages and interpreters for a target that would otherwise be fine
    for req in hostile_requirements():
        add("create-package", "POST", P + "environments", body={"path": "new", "packages": [req]})
    for python in (
        "--help",
        "3.12; rm -rf /",
        "/nonexistent/python",
        str(decoy / "secret.txt"),
        "-m http.server",
        "x" * 10_000,
        "2.1",
        "3.11\x00",
        "../../usr/bin/python3",
    ):
        add("create-python", "POST", P + "environments", body={"path": "new", "python": python})
    for body in (
        {"path": "new", "kind": "conda"},
        {"path": "new", "kind": ""},
        {"path": "new", "kind": None},
        {"path": "new", "kind": ["venv"]},
        {"path": "new", "packages": "--index-url=http://127.0.0.1:9/simple"},
        {"path": "new", "packages": [1]},
        {"path": "new", "packages": [None]},
        {"path": "new", "packages": [["six"]]},
        {"path": "new", "packages": {"six": "1"}},
        {"path": "new", "packages": True},
        {"path": "new", "packages": ["six"] * 101},
        {"path": "new", "python": 3.12},
        {"path": "new", "python": ["3.12"]},
        {"path": "new", "unexpected": 1},
        {"path": "new", "index_url": "http://127.0.0.1:9/simple"},
        {"path": 123},
        {"path": None},
        {"path": ["new"]},
        {"path": {"a": 1}},
        {"path": True},
        {},
        {"kind": "venv"},
    ):
        add("create-types", "POST", P + "environments", body=body)

    # -- every env route: hostile ids -------------------------------------------------------
    hostile_ids = [
        "..",
        "../..",
        "../../etc/passwd",
        "%2e%2e",
        "\x00",
        "x" * 10_000,
        "ünïcode",
        "0" * 16,
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        escape_id,  # listed through the symlink, but its realpath is outside the roots
    ]
    for raw_id in hostile_ids:
        env = quote(raw_id, safe="")
        add("id", "POST", f"{P}environments/{env}/sync", body={})
        add("id", "POST", f"{P}environments/{env}/packages", body={"packages": ["six"]})
        add("id", "DELETE", f"{P}environments/{env}/packages/six")
        add("id", "POST", f"{P}environments/{env}/kernel", body={})
        add("id", "DELETE", f"{P}environments/{env}/kernel")

    # -- body routes on real environments: malformed and oversized bodies --------------------
    malformed: list[bytes] = [
        b"{",
        b"[",
        b"{'packages': ['six']}",
        b'{"packages": ["six"]',
        b'{"packages": ["six"]}}',
        b"\xff\xfe\x00{",
        b"nul",
        b"[]",
        b"1",
        b'"six"',
        b"null",
        b"[" * 50_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
        b'{"packages": [' + b"1" * 5_000 + b"]}",
        b'{"relock": NaN, "packages": Infinity}',
    ]
    body_routes = [
        f"{P}environments",
        f"{P}environments/{proj_id}/sync",
        f"{P}environments/{venv_id}/packages",
        f"{P}environments/{venv_id}/kernel",
    ]
    for route in body_routes:
        for raw in malformed:
            add("malformed", "POST", route, raw=raw)
        add("oversized", "POST", route, raw=b'{"packages": ["' + b"s" * 70_000 + b'"]}')
    add("oversized", "POST", f"{P}refresh", raw=b" " * 70_000)
    add(
        "oversized",
        "DELETE",
        f"{P}environments/{venv_id}/kernel",
        raw=b"{" + b" " * 70_000 + b"}",
    )

    # -- route-specific wrong types and values -------------------------------------------
    for body in (
        {"relock": "yes"},
        {"relock": 1},
        {"relock": None},
        {"relock": []},
        {"relock": False, "index_url": "http://127.0.0.1:9/simple"},
        {"args": ["--index-url", "http://127.0.0.1:9/simple"]},
    ):
        add("sync-types", "POST", f"{P}environments/{proj_id}/sync", body=body)
    add("sync-venv", "POST", f"{P}environments/{venv_id}/sync", body={})
    for req in hostile_requirements():
        add("add-package", "POST", f"{P}environments/{proj_id}/packages", body={"packages": [req]})
        add("add-package", "POST", f"{P}environments/{venv_id}/packages", body={"packages": [req]})
    for body in (
        {},
        {"packages": []},
        {"packages": [""]},
        {"packages": "  "},
        {"packages": None},
        {"packages": [1, 2]},
        {"packages": ["six"], "index_url": "http://127.0.0.1:9/simple"},
    ):
        add("add-types", "POST", f"{P}environments/{proj_id}/packages", body=body)
    for name in (
        "--all",
        "-r",
        "-e",
        "--config-file=/etc/passwd",
        "six>=1",
        "six==1.16",
        "six; python_version > '3'",
        "six @ file:///etc",
        "..",
        "../../etc",
        "\x00",
        "x" * 10_000,
        "six\n--index-url=x",
        "a b",
        " ",
        "ipykernel",  # the venv's kernel needs it: 409, not a broken kernel
    ):
        add("remove-name", "DELETE", f"{P}environments/{venv_id}/packages/{quote(name, safe='')}")
    for body in (
        {"name": "../../evil"},
        {"name": "/etc/evil"},
        {"name": "a/b"},
        {"name": "evil\x00"},
        {"name": "x" * 10_000},
        {"name": " "},
        {"name": "with space"},
        {"name": "ünï"},
        {"name": 5},
        {"name": "python3"},  # stock Jupyter's own kernel
        {"display_name": "two\nlines"},
        {"display_name": "x" * 10_000},
        {"display_name": 7},
        {"add_ipykernel": "true"},
        {"add_ipykernel": None},
        {"argv": ["/bin/sh", "-c", "id"]},
        {"env": {"LD_PRELOAD": "/tmp/x.so"}},
    ):
        add("kernel-body", "POST", f"{P}environments/{venv_id}/kernel", body=body)
    add(
        "kernel-no-ipykernel",
        "POST",
        f"{P}environments/{proj_id}/kernel",
        body={"add_ipykernel": False},
    )

    # -- operations: hostile ids, bad offsets ------------------------------------------------
    for op in ("..", "0" * 32, "\x00", "x" * 10_000, "<script>"):
        add("operation", "DELETE", f"{P}operations/{quote(op, safe='')}")
    for since in ("-1", "abc", "1e9", "0x10", "", "9" * 5_000):
        add("since", "GET", f"{P}operations/{'0' * 32}?since={quote(since)}")

    # -- no token, a wrong token, a token in the wrong place --------------------------------
    writes = [
        ("POST", f"{P}environments", {"path": "new", "kind": "venv"}),
        ("POST", f"{P}environments/{proj_id}/sync", {}),
        ("POST", f"{P}environments/{proj_id}/packages", {"packages": ["six"]}),
        ("DELETE", f"{P}environments/{proj_id}/packages/six", None),
        ("POST", f"{P}environments/{venv_id}/kernel", {}),
        ("DELETE", f"{P}environments/{venv_id}/kernel", None),
        ("DELETE", f"{P}operations/{'0' * 32}", None),
        ("POST", f"{P}refresh", None),
    ]
    for method, route, body in writes:
        add("auth", method, route, body=body, token=None)
        add("auth", method, route, body=body, token="not-the-token")
        add("auth", method, route, body=body, token=None, headers={"Authorization": "Bearer x"})
        # cross-site form post carrying the token in a cookie-less query: XSRF rules apply
        add(
            "auth",
            method,
            route,
            body=body,
            token=None,
            headers={"Authorization": f"token {server.token[:-1]}"},
        )
    return attempts


def test_given_hostile_requests_then_each_is_refused_and_nothing_changes(
    world: tuple[LiveServer, dict[str, Any]],
) -> None:
    server, info = world
    root, decoy = info["root"], info["decoy"]
    attempts = build_attempts(server, info)
    # Given everything a request could touch
    watched = [root, decoy, server.home, server.kernelspec_dir]
    before = snapshot(*watched)
    before_listing = server.environments()["environments"]

    # When every hostile request is sent
    statuses: Counter[int] = Counter()
    problems: list[str] = []
    for a in attempts:
        data = a.raw if a.raw is not None else None
        r = server.request(
            a.method,
            a.path,
            json_body=a.body if a.raw is None else None,
            data=data,
            token=a.token,
            headers=a.headers,
        )
        statuses[r.status_code] += 1
        shown = f"{a.label} {a.method} {a.path[:120]!r} {str(a.body)[:120]!r}"
        if not 400 <= r.status_code < 500:
            problems.append(f"{r.status_code} for {shown}: {r.text[:300]}")
            continue
        try:
            payload = r.json()
        except ValueError:
            problems.append(f"non-JSON {r.status_code} for {shown}: {r.text[:200]!r}")
            continue
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, str) or not message.strip():
            problems.append(f"no message for {shown}: {payload!r}"[:400])
        elif "Traceback" in r.text:
            problems.append(f"traceback sent for {shown}")

    # Then: all refused with a JSON message, no 5xx, nothing on disk changed, server alive
    after = snapshot(*watched)
    changed = changed_paths(before, after)
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    refused = sum(n for s, n in statuses.items() if 400 <= s < 500)
    record(
        "hostile requests",
        tried=len(attempts),
        refused=refused,
        server_errors=server_errors,
        files_changed=len(changed),
        statuses=dict(sorted(statuses.items())),
    )
    print(
        f"hostile requests: tried={len(attempts)} refused={refused} 5xx={server_errors} "
        f"files changed={len(changed)} statuses={dict(sorted(statuses.items()))}"
    )
    assert not problems, "\n".join(problems[:40])
    assert len(attempts) >= 200
    assert changed == [], changed[:20]
    assert server.alive()
    assert server.environments()["environments"] == before_listing
    assert server.get_json(P + "operations")["operations"] == []
    assert not (root / "new").exists() and not Path("/etc/uvk-pwned").exists()
    assert server.get_json("api/status")
