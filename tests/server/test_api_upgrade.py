"""Upgrades and outdated packages with the real uv and the real index.

Expected versions are asked of uv (``uv pip compile``) at test time, never written here:
releases keep coming. The projects pin old versions so that there is something to upgrade:
``packaging<24`` (held at 23.2 by its constraint), ``six>=1.15`` and ``idna>=3`` locked at
1.15.0 and 3.4 (their constraints allow newer ones).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, in_sync, make_project, make_venv, project_files, uv

from .conftest import Api, PackageIndex, _wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def newest(requirement: str, tmp: Path) -> str:
    """The version uv resolves ``requirement`` to on the index, as a user would check it."""
    source = tmp / "newest.in"
    source.write_text(requirement + "\n")
    out = uv(
        "pip", "compile", "-q", "--no-header", "--no-annotate", "--python", PYTHON, str(source)
    )
    (line,) = [ln for ln in out.stdout.splitlines() if ln.strip()]
    return line.split("==", 1)[1]


def locked(project: Path) -> dict[str, str]:
    with open(project / "uv.lock", "rb") as f:
        return {p["name"]: p["version"] for p in tomllib.load(f)["package"]}


def installed(venv: Path) -> dict[str, str]:
    out = uv("pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json").stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


def copy_project(source: Path, target: Path) -> Path:
    """A colleague's copy of ``source``: its files, its env rebuilt from its lock."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".venv"))
    uv("sync", "--frozen", "--project", str(target))
    return target


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Any]:
    base = Path(os.path.realpath(tmp_path_factory.mktemp("upgrade")))
    root = base / "root"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        project = make_project(root / "pinned", "packaging<24", "six==1.15.0", "idna==3.4")
        text = (project / "pyproject.toml").read_text()
        text = text.replace('"six==1.15.0"', '"six>=1.15"').replace('"idna==3.4"', '"idna>=3"')
        (project / "pyproject.toml").write_text(text)
        uv("lock", "--project", str(project))
        uv("sync", "--frozen", "--project", str(project))
        venv = make_venv(root / "tools", "six==1.15.0", "idna==3.4")
        tmp = base / "tmp"
        tmp.mkdir()
        expect = {
            "packaging": newest("packaging", tmp),
            "packaging<24": newest("packaging<24", tmp),
            "six": newest("six", tmp),
            "idna": newest("idna", tmp),
        }
    assert locked(project)["six"] == "1.15.0" and locked(project)["packaging"] == "23.2"
    return {"root": root, "project": project, "venv": venv, "expect": expect}


@pytest.fixture
def uv_root(built: dict[str, Any]) -> Path:
    return built["root"]  # type: ignore[no-any-return]


async def test_given_old_pins_when_outdated_then_latest_and_what_the_constraints_allow(
    api: Api, built: dict[str, Any]
) -> None:
    expect = built["expect"]
    env = await api.env_at(built["project"], rescan=True)
    reply = (await api.get("environments", env["id"], "outdated", params={"refresh": "true"})).body
    assert reply["cached"] is False
    by_name = {p["name"]: p for p in reply["packages"]}
    assert "pinned" not in by_name  # the project's own (editable) package is never "outdated"
    six = by_name["six"]
    assert (six["installed"], six["latest"], six["allowed"]) == (
        "1.15.0",
        expect["six"],
        expect["six"],
    )
    assert six["direct"] is True
    packaging = by_name["packaging"]
    assert packaging["installed"] == "23.2" and packaging["latest"] == expect["packaging"]
    # packaging<24: the newest the constraint allows is what is installed, or a newer 23.x
    held = expect["packaging<24"] == "23.2"
    assert packaging["allowed"] == (None if held else expect["packaging<24"])
    assert by_name["idna"]["allowed"] == expect["idna"]

    # asked again: the cached answer; refresh=true asks the index again
    again = (await api.get("environments", env["id"], "outdated", expect=200)).body
    assert again["cached"] is True and again["checked_at"] == reply["checked_at"]
    assert again["packages"] == reply["packages"]
    fresh = (await api.get("environments", env["id"], "outdated", params={"refresh": "true"})).body
    assert fresh["cached"] is False and fresh["checked_at"] != reply["checked_at"]


async def test_given_a_project_when_one_package_is_upgraded_then_only_it_moves_within_pyproject(
    api: Api, built: dict[str, Any]
) -> None:
    expect = built["expect"]
    project = copy_project(built["project"], built["root"] / "one")
    pyproject = (project / "pyproject.toml").read_bytes()
    env = await api.env_at(project, rescan=True)
    cached = await api.get("environments", env["id"], "outdated", expect=200)
    assert "six" in {p["name"] for p in cached.body["packages"]}

    op = await api.run("POST", "environments", env["id"], "upgrade", body={"packages": ["six"]})
    assert op["state"] == "succeeded", op["_log"]
    assert op["action"] == "upgrade"
    assert f"six 1.15.0 -> {expect['six']}" in op["message"]
    assert locked(project)["six"] == expect["six"]
    assert installed(project / ".venv")["six"] == expect["six"]
    assert locked(project)["idna"] == "3.4"  # only the named package moved
    assert (project / "pyproject.toml").read_bytes() == pyproject
    assert in_sync(project)
    # the cached outdated answer was dropped by the upgrade
    after = (await api.get("environments", env["id"], "outdated", expect=200)).body
    assert after["cached"] is False and "six" not in {p["name"] for p in after["packages"]}

    # everything: idna moves too, packaging stays inside packaging<24
    op = await api.run("POST", "environments", env["id"], "upgrade", body={"packages": []})
    assert op["state"] == "succeeded", op["_log"]
    assert locked(project)["idna"] == expect["idna"]
    assert installed(project / ".venv")["packaging"] == expect["packaging<24"]
    assert (project / "pyproject.toml").read_bytes() == pyproject
    assert in_sync(project)
    assert op["environment"]["status"] == env["status"]


async def test_given_an_unreachable_index_when_upgraded_then_files_and_env_are_unchanged(
    api: Api, built: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(built["project"], built["root"] / "offline")
    env = await api.env_at(project, rescan=True)
    before = project_files(project)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("UV_DEFAULT_INDEX", f"http://127.0.0.1:{port}/simple")
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    op = await api.run("POST", "environments", env["id"], "upgrade", body={"packages": ["six"]})
    outdated = await api.get("environments", env["id"], "outdated", expect=502)
    assert "127.0.0.1" in outdated.body["message"]  # uv's reason: the index it could not reach
    monkeypatch.delenv("UV_DEFAULT_INDEX")  # the checks below use the real index again
    assert op["state"] == "failed"
    assert "uv lock" in op["message"] and "--upgrade-package=six" in op["message"]
    assert project_files(project) == before
    assert in_sync(project)
    assert installed(project / ".venv")["six"] == "1.15.0"

    # pyproject.toml edited by hand into constraints no release meets: the latest releases
    # are still shown, and why what the constraints allow is unknown
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"six>=1.15"', '"six>=999"'))
    for _ in range(2):  # such an answer is not cached
        reply = (await api.get("environments", env["id"], "outdated", expect=200)).body
        assert reply["cached"] is False and "six" in reply["problem"]
        by_name = {p["name"]: p for p in reply["packages"]}
        assert by_name["six"]["latest"] == built["expect"]["six"]
        assert all(p["allowed"] is None for p in reply["packages"])


async def test_given_a_sync_that_fails_after_the_lock_when_upgraded_then_the_old_lock_is_back(
    api: Api, built: dict[str, Any]
) -> None:
    # A local index: version 1.0 is locked and installed; then 2.0 appears, with a broken wheel.
    with PackageIndex({"localpkg": "1.0"}) as index:
        project = built["root"] / "local"
        uv("init", "--no-workspace", "--vcs", "none", "--python", PYTHON, str(project))
        with open(project / "pyproject.toml", "a") as f:
            f.write(
                f'\n[[tool.uv.index]]\nname = "local"\nurl = "{index.url}"\nexplicit = true\n'
                '\n[tool.uv.sources]\nlocalpkg = { index = "local" }\n'
            )
        uv("add", "--project", str(project), "localpkg")
        before = project_files(project)
        _, metadata = _wheel("localpkg", "2.0")
        index.wheels["localpkg"] = ("localpkg-2.0-py3-none-any.whl", b"not a zip", metadata)
        env = await api.env_at(project, rescan=True)
        op = await api.run(
            "POST", "environments", env["id"], "upgrade", body={"packages": ["localpkg"]}
        )
    assert op["state"] == "failed"
    logged = "\n".join(entry["line"] for entry in op["_log"])
    assert "localpkg v1.0 -> v2.0" in logged  # the lock step succeeded...
    assert project_files(project) == before  # ...and was undone with the failed sync
    assert in_sync(project)
    assert installed(project / ".venv")["localpkg"] == "1.0"


async def test_given_a_venv_when_upgraded_then_named_then_all_packages_reach_the_latest(
    api: Api, built: dict[str, Any]
) -> None:
    expect = built["expect"]
    venv = built["root"] / "tools-copy"
    make_venv(venv, "six==1.15.0", "idna==3.4")
    env = await api.env_at(venv, rescan=True)
    reply = await api.get("environments", env["id"], "outdated", expect=200)
    by_name = {p["name"]: p for p in reply.body["packages"]}
    assert by_name["six"] == {
        "name": "six",
        "installed": "1.15.0",
        "latest": expect["six"],
        "allowed": expect["six"],  # a venv has no constraints
        "direct": True,  # nothing else in the venv requires it
    }
    op = await api.run("POST", "environments", env["id"], "upgrade", body={"packages": ["six"]})
    assert op["state"] == "succeeded", op["_log"]
    assert installed(venv) == {"six": expect["six"], "idna": "3.4"}
    op = await api.run("POST", "environments", env["id"], "upgrade", body={"packages": []})
    assert op["state"] == "succeeded", op["_log"]
    assert installed(venv) == {"six": expect["six"], "idna": expect["idna"]}
    op = await api.run("POST", "environments", env["id"], "upgrade", body={})
    assert op["state"] == "succeeded" and op["message"].startswith("Nothing to upgrade")


async def test_given_bad_upgrade_requests_then_4xx_name_the_problem_and_the_fix(
    api: Api, built: dict[str, Any]
) -> None:
    project, venv = built["project"], built["venv"]
    before = project_files(project)
    listing = await api.rescan()
    ids = {os.path.realpath(e["path"]): e["id"] for e in listing["environments"]}
    pid, vid = ids[str(project)], ids[str(venv)]

    async def refused(env_id: str, body: Any, status: int, *words: str) -> None:
        reply = await api.post("environments", env_id, "upgrade", body=body, expect=status)
        for word in words:
            assert word in reply.body["message"], reply.body["message"]

    await refused(pid, {"packages": ["nosuchpkg"]}, 409, "not a dependency", "uv add")
    await refused(pid, {"packages": ["pinned"]}, 409, "the project")
    await refused(pid, {"packages": ["six==1.16"]}, 400, "only the package name")
    await refused(pid, {"packages": ["--upgrade"]}, 400, "command-line option")
    await refused(pid, {"packages": "six"}, 400)
    await refused(pid, {"names": ["six"]}, 400)
    await refused(vid, {"packages": ["requests"]}, 409, "not installed", "uv pip install")
    await refused("0123456789abcdef", {"packages": []}, 404)
    assert project_files(project) == before

    # a project that has lost its uv.lock: no outdated check, no tree, no upgrade
    nolock = copy_project(project, built["root"] / "nolock")
    (nolock / "uv.lock").unlink()
    env = await api.env_at(nolock, rescan=True)
    reply = await api.get("environments", env["id"], "outdated", expect=409)
    assert "uv lock" in reply.body["message"]
    await refused(env["id"], {"packages": []}, 409, "uv.lock")
    tree = await api.get("environments", env["id"], "tree", expect=409)
    assert "uv lock" in tree.body["message"]
    bad = await api.get("environments", env["id"], "outdated", params={"refresh": "maybe"})
    assert bad.status == 400
