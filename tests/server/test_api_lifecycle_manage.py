"""Disk use, export and delete through the REST API, on envs built once with real uv."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels.handlers import SERVICE_SETTING
from tests.conftest import build_concurrently, make_project, make_venv, project_files, uv

from .conftest import Api

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Path]:
    """A root with projects and venvs (some to delete), a venv that is a root of its own,
    and a venv outside the roots reached through a symlink."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("manage")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        root = base / "root"
        build_concurrently(
            lambda: make_project(root / "proj", "ipykernel", "six==1.15.0"),
            lambda: make_venv(root / "tools", "ipykernel", "six==1.15.0"),
            lambda: make_venv(root / "doomed-venv", "ipykernel"),
            lambda: make_project(root / "doomed-proj", "ipykernel"),
            lambda: make_venv(root / "busy", "ipykernel"),
            lambda: make_venv(base / "venv-root"),
            lambda: make_venv(base / "outside" / "theirs"),
        )
    (root / "link").symlink_to(base / "outside")
    return {"base": base, "root": root}


@pytest.fixture
def uv_root(trees: dict[str, Path]) -> Path:
    return trees["root"]


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], trees: dict[str, Path]) -> dict[str, Any]:
    return {**uv_kernels_config, "roots": [str(trees["root"]), str(trees["base"] / "venv-root")]}


async def kernelspecs(api: Api) -> dict[str, Any]:
    reply = await api.fetch("api", "kernelspecs")
    specs: dict[str, Any] = json.loads(reply.body)["kernelspecs"]
    return specs


def du_bytes(path: Path) -> int:
    """What `du -s -B1` says the tree occupies (hard links once, symlinks not followed)."""
    out = subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def file_count(path: Path) -> int:
    """Everything that is not a directory (symlinks too), each hard link once."""
    seen = set()
    for top, dirs, files in os.walk(path):
        for name in [*files, *(d for d in dirs if os.path.islink(os.path.join(top, d)))]:
            info = os.lstat(os.path.join(top, name))
            seen.add((info.st_dev, info.st_ino))
    return len(seen)


def freeze(venv: Path) -> list[str]:
    """The installed versions; a project's own package (installed editable) left out."""
    python = str(venv / "bin" / "python")
    return uv("pip", "freeze", "--exclude-editable", "--python", python).stdout.splitlines()


# -- size --------------------------------------------------------------------------------


async def test_given_a_venv_when_sized_then_bytes_match_du_and_a_tiny_budget_is_a_lower_bound(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(uv_root / "tools")
    size = (await api.get("environments", env["id"], "size", expect=200)).body
    assert size["path"] == str(uv_root / "tools")
    assert size["complete"] is True
    assert size["bytes"] == du_bytes(uv_root / "tools")
    assert size["files"] == file_count(uv_root / "tools")
    # A project is measured at its .venv
    project = await api.env_at(uv_root / "proj")
    measured = (await api.get("environments", project["id"], "size", expect=200)).body
    assert measured["path"] == str(uv_root / "proj" / ".venv")
    assert measured["bytes"] == du_bytes(uv_root / "proj" / ".venv")

    # When the budget is shorter than the walk, the answer is "at least N"
    service = api.serverapp.web_app.settings[SERVICE_SETTING]
    service.config.size_time_budget = 0.0001
    partial = (await api.get("environments", env["id"], "size", expect=200)).body
    assert partial["complete"] is False
    assert 0 < partial["bytes"] < size["bytes"]
    assert partial["files"] < size["files"]


# -- export ------------------------------------------------------------------------------


async def test_given_a_project_when_exported_then_a_colleague_installs_the_same_versions(
    api: Api, uv_root: Path, tmp_path: Path
) -> None:
    env = await api.env_at(uv_root / "proj")
    reply = await api.get(
        "environments", env["id"], "export", params={"format": "requirements.txt"}, expect=200
    )
    export = reply.body
    assert export["format"] == export["filename"] == "requirements.txt"
    assert "six==1.15.0" in export["content"] and "--hash=sha256:" in export["content"]
    # A colleague installs it into a fresh venv: exactly the project's versions
    (tmp_path / "requirements.txt").write_text(export["content"])
    colleague = make_venv(tmp_path / "colleague")
    uv("pip", "install", "--python", str(colleague / "bin" / "python"),
       "-r", str(tmp_path / "requirements.txt"))  # fmt: skip
    assert freeze(colleague) == freeze(uv_root / "proj" / ".venv")

    # pylock.toml: the same packages, as PEP 751 describes them
    pylock = (
        await api.get(
            "environments", env["id"], "export", params={"format": "pylock.toml"}, expect=200
        )
    ).body
    assert pylock["filename"] == "pylock.toml"
    packages = {p["name"]: p["version"] for p in tomllib.loads(pylock["content"])["packages"]}
    assert packages["six"] == "1.15.0" and "ipykernel" in packages
    # An unknown format is a 400 naming both
    bad = await api.get(
        "environments", env["id"], "export", params={"format": "environment.yml"}, expect=400
    )
    assert "requirements.txt" in bad.body["message"] and "pylock.toml" in bad.body["message"]


async def test_given_a_venv_when_exported_then_it_is_its_freeze_and_pylock_is_refused(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(uv_root / "tools")
    export = (
        await api.get(
            "environments", env["id"], "export", params={"format": "requirements.txt"}, expect=200
        )
    ).body
    assert export["content"].splitlines() == freeze(uv_root / "tools")
    refused = await api.get(
        "environments", env["id"], "export", params={"format": "pylock.toml"}, expect=400
    )
    assert "venv" in refused.body["message"] and "requirements.txt" in refused.body["message"]


async def test_given_an_export_when_saved_then_the_file_is_written_once_unless_overwrite(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(uv_root / "proj")
    target = uv_root / "proj" / "requirements.txt"
    target.unlink(missing_ok=True)
    body = {"format": "requirements.txt"}
    saved = (await api.post("environments", env["id"], "export", body=body, expect=200)).body
    assert saved["path"] == str(target)
    assert saved["bytes"] == len(target.read_bytes()) > 0
    assert "six==1.15.0" in target.read_text()
    target.write_text("mine\n")
    taken = await api.post("environments", env["id"], "export", body=body, expect=409)
    assert "overwrite" in taken.body["message"]
    assert target.read_text() == "mine\n"
    again = {**body, "overwrite": True}
    await api.post("environments", env["id"], "export", body=again, expect=200)
    assert "six==1.15.0" in target.read_text()
    # a venv's export goes into the folder that holds it
    tools = await api.env_at(uv_root / "tools")
    beside = (await api.post("environments", tools["id"], "export", body=body, expect=200)).body
    assert beside["path"] == str(uv_root / "requirements.txt")
    os.unlink(beside["path"])
    target.unlink()


# -- delete ------------------------------------------------------------------------------


async def test_given_a_venv_when_deleted_then_it_is_gone_from_disk_list_and_kernels(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(uv_root / "doomed-venv")
    assert env["kernel"] in await kernelspecs(api)
    op = await api.run("DELETE", "environments", env["id"])
    assert op["action"] == "delete" and op["state"] == "succeeded", op["_log"]
    assert not (uv_root / "doomed-venv").exists()
    assert not [p for p in uv_root.iterdir() if "doomed-venv" in p.name], "nothing left over"
    listing = (await api.get("environments", expect=200)).body
    assert env["id"] not in {e["id"] for e in listing["environments"]}
    assert env["kernel"] not in await kernelspecs(api)
    await api.get("environments", env["id"], "size", expect=404)


async def test_given_a_project_when_deleted_then_only_its_venv_goes_and_sync_rebuilds_it(
    api: Api, uv_root: Path
) -> None:
    project = uv_root / "doomed-proj"
    before = project_files(project)
    env = await api.env_at(project)
    op = await api.run("DELETE", "environments", env["id"])
    assert op["state"] == "succeeded", op["_log"]
    assert not (project / ".venv").exists()
    assert project_files(project) == before
    listed = next(
        e for e in (await api.get("environments", expect=200)).body["environments"]
        if e["id"] == env["id"]
    )  # fmt: skip
    assert listed["status"] == "no-environment" and listed["kernel"] is None
    assert env["kernel"] not in await kernelspecs(api)
    # Sync rebuilds the same environment, and its kernel comes back
    synced = await api.run("POST", "environments", env["id"], "sync")
    assert synced["state"] == "succeeded", synced["_log"]
    assert synced["environment"]["status"] == "ready"
    assert synced["environment"]["kernel"] == env["kernel"] in await kernelspecs(api)


async def test_given_things_that_are_not_deletable_when_deleted_then_4xx_and_nothing_changes(
    api: Api, uv_root: Path, trees: dict[str, Path]
) -> None:
    listing = await api.wait_for_scan()
    by_path = {e["path"]: e for e in listing["environments"]}
    await api.delete("environments", "0123456789abcdef", expect=404)
    # a venv that the root links to from outside: 403, the target stays
    linked = by_path[str(uv_root / "link" / "theirs")]
    outside = await api.delete("environments", linked["id"], expect=403)
    assert "outside the configured roots" in outside.body["message"]
    assert (trees["base"] / "outside" / "theirs" / "pyvenv.cfg").exists()
    # a root that is itself a venv: 400
    root_env = by_path[str(trees["base"] / "venv-root")]
    rooted = await api.delete("environments", root_env["id"], expect=400)
    assert "root" in rooted.body["message"]
    assert (trees["base"] / "venv-root" / "pyvenv.cfg").exists()
    # something that stopped being an environment after the scan: 400, the folder stays
    odd = uv_root / "was-a-venv"
    shutil.copytree(trees["base"] / "venv-root", odd, symlinks=True)
    odd_env = await api.env_at(odd, rescan=True)
    (odd / "pyvenv.cfg").unlink()
    gone = await api.delete("environments", odd_env["id"], expect=400)
    assert "Nothing deleted" in gone.body["message"] and odd.is_dir()
    shutil.rmtree(odd)


async def test_given_a_running_kernel_when_its_env_is_deleted_then_409_unless_forced(
    api: Api, uv_root: Path
) -> None:
    env = await api.env_at(uv_root / "busy")
    started = await api.fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": env["kernel"]})
    )
    kernel_id = json.loads(started.body)["id"]
    try:
        busy = await api.delete("environments", env["id"], expect=409)
        assert env["kernel"] in busy.body["message"] and "force=true" in busy.body["message"]
        assert (uv_root / "busy" / "pyvenv.cfg").exists()
        forced = await api.call(
            "DELETE", "environments", env["id"], params={"force": "true"}, expect=202
        )
        op, log = await api.wait_op(forced.body["operation"]["id"])
        assert op["state"] == "succeeded", log
        assert not (uv_root / "busy").exists()
    finally:
        await api.fetch("api", "kernels", kernel_id, method="DELETE")
        await asyncio.sleep(0)
