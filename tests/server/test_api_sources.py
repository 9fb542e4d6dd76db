"""Where packages come from: requirements files inside the roots, named indexes, and the
file picker's view of the roots (issue 12, items 4 and 8).

One project and one venv are built once for the module; a second index is real: PyPI's own
simple URL under another name (projects record it), and a local PEP 503 index serving a
package PyPI does not have (so a venv install can only succeed through it).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_sync, make_project, make_venv, project_files, uv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .conftest import Api, PackageIndex

MIRROR = "https://pypi.org/simple"


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> dict[str, Path]:
    base = Path(os.path.realpath(tmp_path_factory.mktemp("sources")))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("UV_CACHE_DIR", str(uv_cache_dir))
        mp.setenv("HOME", str(base))
        mp.setenv("UV_PYTHON_DOWNLOADS", "never")
        root = base / "root"
        make_project(root / "proj", "ipykernel")
        make_venv(root / "tools")
    outside = base / "outside"
    outside.mkdir()
    (outside / "requirements.txt").write_text("six\n")
    (root / "link").symlink_to(outside)  # inside by name, outside once resolved
    (root / "linked.txt").symlink_to(outside / "requirements.txt")
    shared = root / "shared"
    shared.mkdir()
    # A colleague's file with the lines the policy lets through (uv honours them).
    (shared / "requirements.txt").write_text(
        "# a colleague's list\n"
        "--only-binary :all:\n"
        "six==1.15.0 \\\n"
        "    --hash=sha256:8b74bedcbbbaca38ff6d7491d76f2b06b3592611af620f8426e82dddb04a5ced\n"
        "iniconfig  # for the tests\n"
    )
    return {"root": root, "outside": outside, "shared": shared}


@pytest.fixture(scope="module")
def local_index() -> Iterator[PackageIndex]:
    with PackageIndex({"onlylocal": "1.0"}) as index:
        yield index


@pytest.fixture
def uv_root(trees: dict[str, Path]) -> Path:
    return trees["root"]


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], local_index: PackageIndex) -> Any:
    return {
        **uv_kernels_config,
        "indexes": {
            "pypi-mirror": MIRROR,
            "local": local_index.url,
            "broken": "ftp://example.invalid/simple",
            "secret": "https://user:hunter2@example.invalid/simple",
        },
    }


def pyproject(project: Path) -> dict[str, Any]:
    with open(project / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def installed(venv: Path) -> dict[str, str]:
    out = uv("pip", "list", "--python", str(venv / "bin/python"), "--format", "json").stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


async def test_given_a_requirements_file_when_a_project_and_a_venv_are_created_then_both_have_it(
    api: Api, trees: dict[str, Path]
) -> None:
    await api.wait_for_scan()
    requests = [
        {"path": "made/proj", "requirements_file": "shared/requirements.txt"},
        {"path": "made/venv", "kind": "venv",
         "requirements_file": str(trees["shared"] / "requirements.txt")},
        {"path": "made/gpu", "packages": ["six"], "index": "pypi-mirror"},
    ]  # fmt: skip
    started = [(await api.post("environments", body=b, expect=202)).body for b in requests]
    ops = await asyncio.gather(*(api.wait_op(s["operation"]["id"]) for s in started))
    for op, log in ops:
        assert op["state"] == "succeeded", log
        assert op["environment"]["status"] == "ready"
    project, venv = trees["root"] / "made/proj", trees["root"] / "made/venv"
    deps = pyproject(project)["project"]["dependencies"]
    assert "six==1.15.0" in deps and any(d.startswith("iniconfig") for d in deps)
    assert any(d.startswith("ipykernel") for d in deps)  # ipykernel first, then the file
    assert installed(project / ".venv")["six"] == "1.15.0" and in_sync(project)
    have = installed(venv)
    assert have["six"] == "1.15.0" and "iniconfig" in have and "ipykernel" in have
    # with an index, ipykernel is added on its own: only the named packages are pinned to it
    gpu = pyproject(trees["root"] / "made/gpu")
    assert gpu["tool"]["uv"]["sources"] == {"six": {"index": "pypi-mirror"}}
    assert any(d.startswith("ipykernel") for d in gpu["project"]["dependencies"])


async def test_given_a_project_when_add_r_fails_it_is_unchanged_and_a_good_one_records_its_index(
    api: Api, trees: dict[str, Path]
) -> None:
    project = trees["root"] / "proj"
    env = await api.env_at(project, rescan=True)
    bad = trees["shared"] / "broken.txt"
    bad.write_text("idna==3.4\nnonexistent-package-xyz-123==9.9\n")
    before = project_files(project)
    op = await api.run(
        "POST", "environments", env["id"], "packages",
        body={"requirements_file": str(bad)},
    )  # fmt: skip
    assert op["state"] == "failed"
    assert project_files(project) == before and in_sync(project)

    good = trees["shared"] / "gpu.txt"
    good.write_text("idna==3.4\n")
    op = await api.run(
        "POST", "environments", env["id"], "packages",
        body={"requirements_file": str(good), "packages": ["iniconfig"], "index": "pypi-mirror"},
    )  # fmt: skip
    assert op["state"] == "succeeded", op["_log"]
    data = pyproject(project)
    assert {"name": "pypi-mirror", "url": MIRROR} in data["tool"]["uv"]["index"]
    assert data["tool"]["uv"]["sources"]["idna"] == {"index": "pypi-mirror"}
    assert "idna==3.4" in data["project"]["dependencies"]
    assert installed(project / ".venv")["idna"] == "3.4" and in_sync(project)

    detail = (await api.get("environments", env["id"], expect=200)).body
    by_name = {i["name"]: i for i in detail["indexes"]}
    assert by_name["pypi-mirror"] == {"name": "pypi-mirror", "url": MIRROR, "source": "pyproject"}
    assert by_name["local"]["source"] == "config" and "broken" not in by_name


async def test_given_a_venv_when_added_from_a_named_index_then_uv_installs_from_it(
    api: Api, trees: dict[str, Path], local_index: PackageIndex
) -> None:
    venv = trees["root"] / "tools"
    env = await api.env_at(venv, rescan=True)
    listed = trees["shared"] / "local.txt"
    listed.write_text("onlylocal==1.0\n")
    # Without the index the package cannot be found: it exists only on the local index.
    body = {"packages": ["onlylocal"]}
    op = await api.run("POST", "environments", env["id"], "packages", body=body)
    assert op["state"] == "failed"
    op = await api.run(
        "POST", "environments", env["id"], "packages",
        body={"requirements_file": str(listed), "packages": ["six"], "index": "local"},
    )  # fmt: skip
    assert op["state"] == "succeeded", op["_log"]
    have = installed(venv)
    assert have["onlylocal"] == "1.0" and "six" in have  # PyPI still serves the rest
    detail = (await api.get("environments", env["id"], expect=200)).body
    assert {i["source"] for i in detail["indexes"]} == {"config"}  # a venv has no pyproject


async def test_given_bad_sources_when_requested_then_4xx_names_the_problem(
    api: Api, trees: dict[str, Path]
) -> None:
    env = await api.env_at(trees["root"] / "proj")
    venv = await api.env_at(trees["root"] / "tools")
    shared = trees["shared"]
    (shared / "evil.txt").write_text("six\n--index-url https://evil.example/simple\n")
    (shared / "nested.txt").write_text("-r ../../etc/requirements.txt\n")
    (shared / "notpep.txt").write_text("six\n./some/dir\n")
    (shared / "pylock.toml").write_text('lock-version = "1.0"\n[[packages]]\nname = "six"\n')
    before = project_files(trees["root"] / "proj")
    ops_before = (await api.get("operations", expect=200)).body["operations"]

    async def add(body: dict[str, Any], status: int, target: str = env["id"]) -> str:
        reply = await api.post("environments", target, "packages", body=body, expect=status)
        return str(reply.body["message"])

    assert "outside the configured roots" in await add(
        {"requirements_file": str(trees["outside"] / "requirements.txt")}, 403
    )
    assert "outside" in await add({"requirements_file": "link/requirements.txt"}, 403)
    assert "outside" in await add({"requirements_file": "linked.txt"}, 403)
    assert "does not exist" in await add({"requirements_file": "shared/missing.txt"}, 400)
    message = await add({"requirements_file": "shared/evil.txt"}, 400)
    assert "line 2" in message and "--index-url https://evil.example/simple" in message
    assert "line 1" in await add({"requirements_file": "shared/nested.txt"}, 400)
    assert "./some/dir" in await add({"requirements_file": "shared/notpep.txt"}, 400)
    assert "uv add -r" in await add({"requirements_file": "shared/pylock.toml"}, 400)
    refused = {
        "token.txt": ("pkg @ https://host.example/${TOKEN}/pkg.whl\n", "environment variable"),
        "editable.txt": ("-e ./src\n", "editable"),
        "settings.txt": ("six --config-settings=x=y\n", "only --hash may follow"),
        "big.txt": ("six\n" * 300_000, "limited to 1000000 bytes"),
    }
    for name, (text, expected) in refused.items():
        (shared / name).write_text(text)
        assert expected in await add({"requirements_file": f"shared/{name}"}, 400), name
    # a venv may take a pylock.toml, but not one that installs from outside the roots
    (shared / "pylock.out.toml").write_text(
        'lock-version = "1.0"\n[[packages]]\nname = "theirs"\n'
        f'directory = {{ path = "{trees["outside"]}" }}\n'
    )
    message = await add({"requirements_file": "shared/pylock.out.toml"}, 400, venv["id"])
    assert "theirs" in message and "outside the roots" in message
    assert "not a requirements file" in await add({"requirements_file": "shared"}, 400)
    assert "requirements_file" in await add({}, 400)
    assert "requirements_file" in await add({"packages": []}, 400)
    message = await add({"packages": ["six"], "index": "nope"}, 400)
    assert "Unknown index nope" in message and "pypi-mirror" in message and "local" in message
    assert "ftp" in await add({"packages": ["six"], "index": "broken"}, 400, venv["id"])
    # package strings still never become options
    assert "command-line option" in await add({"packages": ["--index-url=https://x"]}, 400)
    reply = await api.post(
        "environments", body={"path": "made/x", "requirements_file": "shared/evil.txt"}, expect=400
    )
    assert "line 2" in reply.body["message"]
    reply = await api.post("environments", body={"path": "made/y", "index": "nope"}, expect=400)
    assert "Unknown index" in reply.body["message"]
    body = {"path": "made/y", "index": "pypi-mirror"}
    reply = await api.post("environments", body=body, expect=400)
    assert "give packages or a file" in reply.body["message"]
    assert not (trees["root"] / "made/x").exists() and not (trees["root"] / "made/y").exists()
    assert project_files(trees["root"] / "proj") == before
    assert (await api.get("operations", expect=200)).body["operations"] == ops_before


async def test_given_the_picker_when_it_browses_then_it_sees_dirs_and_requirement_files_only(
    api: Api, trees: dict[str, Path]
) -> None:
    root = trees["root"]
    top = (await api.get("files", expect=200)).body
    assert top == {
        "path": None, "parent": None, "truncated": False,
        "entries": [{"name": str(root), "path": str(root), "kind": "directory"}],
    }  # fmt: skip
    picker = root / "picker"
    for d in ("data", ".git", "node_modules", "__pycache__", "Beta"):
        (picker / d).mkdir(parents=True, exist_ok=True)
    for f in ("requirements.txt", "dev.in", "pylock.toml", "pylock.gpu.toml", "notes.md",
              "pyproject.toml", "setup.py", ".hidden.txt"):  # fmt: skip
        (picker / f).write_text("six\n")
    listing = (await api.get("files", params={"path": str(picker)}, expect=200)).body
    assert listing["path"] == str(picker) and listing["parent"] == str(root)
    assert [(e["name"], e["kind"]) for e in listing["entries"]] == [
        ("Beta", "directory"), ("data", "directory"),
        ("dev.in", "file"), ("pylock.gpu.toml", "file"), ("pylock.toml", "file"),
        ("requirements.txt", "file"),
    ]  # fmt: skip
    assert all(e["path"] == str(picker / e["name"]) for e in listing["entries"])
    # relative to the first root, like every other path; the root's parent is not offered
    at_root = (await api.get("files", params={"path": "."}, expect=200)).body
    names = {e["name"] for e in at_root["entries"]}
    assert at_root["parent"] is None and {"picker", "shared", "proj"} <= names
    # hidden, and symlinks that lead outside, are not offered
    assert ".venv" not in names and "link" not in names and "linked.txt" not in names
    proj = (await api.get("files", params={"path": "proj"}, expect=200)).body
    assert ".venv" not in {e["name"] for e in proj["entries"]}

    reply = await api.get("files", params={"path": str(trees["outside"])}, expect=403)
    assert "outside the configured roots" in reply.body["message"]
    await api.get("files", params={"path": "link"}, expect=403)
    missing = await api.get("files", params={"path": "nope"}, expect=404)
    assert "does not exist" in missing.body["message"]
    await api.get("files", params={"path": "picker/requirements.txt"}, expect=400)

    many = root / "many"
    many.mkdir()
    for i in range(520):
        (many / f"r{i:03}.txt").write_text("")
    big = (await api.get("files", params={"path": "many"}, expect=200)).body
    assert big["truncated"] is True and len(big["entries"]) == 500
    names = [e["name"] for e in big["entries"]]
    assert names == sorted(names)


async def test_given_configured_indexes_when_listed_then_usable_ones_show_without_secrets(
    api: Api, local_index: PackageIndex
) -> None:
    body = (await api.get("indexes", expect=200)).body
    assert body == {
        "indexes": [
            {"name": "local", "url": local_index.url, "source": "config"},
            {"name": "pypi-mirror", "url": MIRROR, "source": "config"},
            {"name": "secret", "url": "https://user:****@example.invalid/simple",
             "source": "config"},
        ]
    }  # fmt: skip
