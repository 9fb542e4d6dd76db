"""Direct dependencies apart from the rest: what the detail shows and what can be removed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_project, make_venv, project_files, uv

from .conftest import Api, listed_with_files


async def test_given_a_project_when_detailed_then_packages_are_marked_direct_with_their_group(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "proj", "ipykernel", "six")
    uv("add", "--project", str(project), "--dev", "iniconfig")
    env = await api.env_at(project, rescan=True)
    detail = (await api.get("environments", env["id"], expect=200)).body
    by_name = {p["name"]: p for p in detail["packages"]}
    assert by_name["six"]["direct"] and by_name["six"]["groups"] == ["project"]
    assert by_name["iniconfig"]["direct"] and by_name["iniconfig"]["groups"] == ["dev"]
    assert not by_name["tornado"]["direct"] and by_name["tornado"]["groups"] == []
    assert by_name["proj"]["project"] and not by_name["proj"]["direct"]


async def test_given_a_transitive_dependency_when_removed_then_409_names_what_requires_it(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "proj", "ipykernel")
    env, before = await listed_with_files(api, project)
    reply = await api.delete("environments", env["id"], "packages", "tornado", expect=409)
    message = reply.body["message"]
    assert "not a direct dependency" in message
    assert "ipykernel" in message or "jupyter-client" in message
    assert project_files(project) == before
    # the project's own package is not removable either
    own = await api.delete("environments", env["id"], "packages", "proj", expect=409)
    assert "the project" in own.body["message"]


async def test_given_a_dev_dependency_when_removed_then_uv_removes_it_from_its_group(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "proj", "ipykernel")
    uv("add", "--project", str(project), "--dev", "iniconfig")
    env = await api.env_at(project, rescan=True)
    op = await api.run("DELETE", "environments", env["id"], "packages", "iniconfig")
    assert op["state"] == "succeeded", op["_log"]
    assert "iniconfig" not in (project / "pyproject.toml").read_text()
    assert op["environment"]["status"] == "ready"


async def test_given_a_venv_when_a_required_package_is_removed_then_409_unless_forced(
    api: Api, uv_root: Path
) -> None:
    venv = make_venv(uv_root / "tools", "ipykernel", "iniconfig")
    env = await api.env_at(venv, rescan=True)
    reply = await api.delete("environments", env["id"], "packages", "tornado", expect=409)
    assert "required by" in reply.body["message"] and "force=true" in reply.body["message"]
    # a leaf goes without asking
    op = await api.run("DELETE", "environments", env["id"], "packages", "iniconfig")
    assert op["state"] == "succeeded", op["_log"]
    # and force removes a required one anyway
    forced = await api.call(
        "DELETE", "environments", env["id"], "packages", "tornado",
        params={"force": "true"}, expect=202,
    )  # fmt: skip
    done, _ = await api.wait_op(forced.body["operation"]["id"])
    assert done["state"] == "succeeded"
