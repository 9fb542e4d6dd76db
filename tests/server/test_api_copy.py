"""Copy an environment through the REST API (POST environments with "from"), real uv."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_project, make_venv, uv

from .conftest import Api, run_in_kernel


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Path]:
    """A group's project and venv (as in /glade/campaign), built once for the module."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("copy")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        root = base / "root"
        make_project(root / "group" / "shared", "ipykernel", "six==1.15.0")
        make_venv(root / "group" / "tools", "ipykernel", "iniconfig==2.0.0")
    return {"base": base, "root": root}


@pytest.fixture
def uv_root(trees: dict[str, Path]) -> Path:
    return trees["root"]


def freeze(venv: Path) -> list[str]:
    python = str(venv / "bin" / "python")
    return uv("pip", "freeze", "--exclude-editable", "--python", python).stdout.splitlines()


def base_python(venv: Path) -> str:
    """The interpreter a venv was made from (pyvenv.cfg's home and version)."""
    cfg = dict(
        line.split(" = ", 1)
        for line in (venv / "pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    return f"{cfg['home']} {cfg.get('version_info') or cfg.get('version')}"


async def kernelspecs(api: Api) -> dict[str, Any]:
    reply = await api.fetch("api", "kernelspecs")
    specs: dict[str, Any] = json.loads(reply.body)["kernelspecs"]
    return specs


async def test_given_a_shared_project_when_copied_then_the_copy_has_its_lock_and_runs_it(
    api: Api, uv_root: Path
) -> None:
    source = uv_root / "group" / "shared"
    env = await api.env_at(source)
    op = await api.run("POST", "environments", body={"path": "mine/fork", "from": env["id"]})
    assert op["action"] == "copy" and op["state"] == "succeeded", op["_log"]
    fork = uv_root / "mine" / "fork"
    assert op["path"] == str(fork)
    assert any("own package is not installed" in e["line"] for e in op["_log"])
    # the same files, the same lock, exactly installed, on the same Python
    for name in ("pyproject.toml", "uv.lock", ".python-version"):
        assert (fork / name).read_bytes() == (source / name).read_bytes(), name
    assert freeze(fork / ".venv") == freeze(source / ".venv")
    assert base_python(fork / ".venv") == base_python(source / ".venv")
    # listed ready, with its own kernel, which runs the locked versions
    copied = op["environment"]
    assert copied["path"] == str(fork) and copied["status"] == "ready", copied
    assert copied["kernel"] and copied["kernel"] != env["kernel"]
    assert copied["kernel"] in await kernelspecs(api)
    out = await run_in_kernel(
        api, copied["kernel"], "import sys, six; print(sys.prefix, six.__version__)"
    )
    prefix, version = out.split()
    assert os.path.realpath(prefix) == str(fork / ".venv") and version == "1.15.0"
    # the source is untouched
    assert (await api.env_at(source))["status"] == "ready"


async def test_given_a_venv_when_copied_then_the_copy_has_the_same_packages_and_python(
    api: Api, uv_root: Path
) -> None:
    source = uv_root / "group" / "tools"
    env = await api.env_at(source)
    op = await api.run("POST", "environments", body={"path": "mine/tools", "from": env["id"]})
    assert op["state"] == "succeeded", op["_log"]
    copy = uv_root / "mine" / "tools"
    assert freeze(copy) == freeze(source)
    assert base_python(copy) == base_python(source)
    assert op["environment"]["kind"] == "venv" and op["environment"]["status"] == "ready"
    assert op["environment"]["kernel"] in await kernelspecs(api)


async def test_given_bad_copy_requests_then_4xx_and_nothing_is_made(
    api: Api, uv_root: Path, trees: dict[str, Path]
) -> None:
    env = await api.env_at(uv_root / "group" / "tools")
    before = sorted(p.name for p in uv_root.iterdir())
    mixed = await api.post(
        "environments",
        body={"path": "x", "from": env["id"], "packages": ["six"], "kind": "venv"},
        expect=400,
    )
    assert "kind, packages" in mixed.body["message"] and '"from"' in mixed.body["message"]
    unknown = {"path": "x", "from": "0123456789abcdef"}
    assert '"from"' in (await api.post("environments", body=unknown, expect=400)).body["message"]
    outside = str(trees["base"] / "elsewhere")
    await api.post("environments", body={"path": outside, "from": env["id"]}, expect=403)
    taken = await api.post(
        "environments", body={"path": "group/shared", "from": env["id"]}, expect=409
    )
    assert "already exists" in taken.body["message"]
    inside = await api.post(
        "environments", body={"path": "group/tools/sub", "from": env["id"]}, expect=400
    )
    assert "inside the environment being copied" in inside.body["message"]
    assert sorted(p.name for p in uv_root.iterdir()) == before
    assert not (trees["base"] / "elsewhere").exists()
