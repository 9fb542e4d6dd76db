"""Make a notebook self-contained (from an environment, from its imports) and turn it into a
project, through the REST API, with real uv; juv reads the result."""

from __future__ import annotations

import json
from pathlib import Path

import tomllib

from tests.conftest import make_project, make_venv, uv
from tests.juv_notebooks import juv, juv_block, juv_notebook, lock_versions
from tests.server.conftest import Api


def plain_notebook(path: Path, *sources: str, kernel: str = "python3") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"c{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(sources)
    ]
    nb = {
        "cells": cells,
        "metadata": {"kernelspec": {"name": kernel}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb, indent=1) + "\n")
    return path


async def test_given_a_project_when_its_notebook_is_made_self_contained_then_it_lists_its_deps(
    api: Api, uv_root: Path
) -> None:
    # Given a project with six and a plain notebook in it
    project = make_project(uv_root / "proj", "six==1.16.0")
    nb = plain_notebook(project / "fig.ipynb", "import six")
    env = await api.env_at(project, rescan=True)
    # When it is made self-contained from the project
    body = {"path": str(nb), "from": "environment", "environment": env["id"]}
    op = await api.run("POST", "notebooks", "self-contained", body=body)
    # Then the block lists the project's dependencies as written, and says so
    assert op["state"] == "succeeded", op["_log"]
    assert op["action"] == "notebook-self-contained"
    result = op["result"]
    assert result["source"] == "environment" and result["source_environment"] == str(project)
    assert result["added"] == ["six==1.16.0"] and result["unmapped_imports"] == []
    assert '"six==1.16.0"' in juv_block(nb)
    assert result["notebook"]["dependencies"][0]["name"] == "six"


async def test_given_a_venv_when_made_self_contained_from_imports_then_unmapped_are_reported(
    api: Api, uv_root: Path
) -> None:
    # Given a venv with six and attrs (attrs installs the modules attr and attrs)
    venv = make_venv(uv_root / "venv", "six==1.16.0", "attrs==23.2.0")
    nb = plain_notebook(
        uv_root / "nb" / "fig.ipynb",
        "%matplotlib inline\nimport os, six\n!ls\nfrom attr import define",
        "%%bash\nimport notpython",
        "import local_helper\nimport nowhere_to_be_found.sub\nfrom . import rel",
    )
    (nb.parent / "local_helper.py").write_text("")
    env = await api.env_at(venv, rescan=True)
    # When made self-contained from its imports
    body = {"path": str(nb), "from": "imports", "environment": env["id"]}
    op = await api.run("POST", "notebooks", "self-contained", body=body)
    # Then the distributions providing six and attr are added, and the rest reported
    assert op["state"] == "succeeded", op["_log"]
    result = op["result"]
    assert result["source"] == "imports"
    assert result["added"] == ["six>=1.16.0", "attrs>=23.2.0"]
    assert result["unmapped_imports"] == ["nowhere_to_be_found"]
    assert "nowhere_to_be_found" in op["message"]
    block = juv_block(nb)
    assert '"six>=1.16.0"' in block and '"attrs>=23.2.0"' in block


async def test_given_a_juv_notebook_when_turned_into_a_project_then_uv_sync_frozen_works(
    api: Api, uv_root: Path
) -> None:
    # Given a juv notebook alone in its folder
    nb = juv_notebook(uv_root / "alone" / "fig.ipynb", "six==1.16.0", lock=True)
    before = nb.read_bytes()
    # When it is turned into a project
    op = await api.run("POST", "notebooks", "project", body={"path": str(nb)})
    assert op["state"] == "succeeded", op["_log"]
    assert op["action"] == "notebook-to-project"
    folder = nb.parent
    assert op["result"]["project"] == str(folder)
    # Then the folder is a project with the block's dependencies and ipykernel for dev
    pyproject = (folder / "pyproject.toml").read_text()
    assert '"six==1.16.0"' in pyproject and "ipykernel" in pyproject
    assert (folder / "uv.lock").is_file() and (folder / ".venv").is_dir()
    assert nb.read_bytes() == before
    assert uv("sync", "--frozen", "--project", str(folder)).returncode == 0
    # ... and a second time is refused, nothing overwritten
    reply = await api.post("notebooks", "project", body={"path": str(nb)}, expect=409)
    assert "already has pyproject.toml" in reply.body["message"]


async def test_given_a_locked_notebook_when_turned_into_a_project_then_it_keeps_the_locked_versions(
    api: Api, uv_root: Path
) -> None:
    # Given a notebook whose block allows any six >= 1.15 and whose lock holds 1.15.0
    nb = juv_notebook(uv_root / "kept" / "fig.ipynb", "six==1.15.0", lock=True)
    juv("add", str(nb), "six>=1.15")  # loosens the block; the lock keeps its pin
    assert lock_versions(nb)["six"] == "1.15.0"
    # When it is turned into a project
    op = await api.run("POST", "notebooks", "project", body={"path": str(nb)})
    assert op["state"] == "succeeded", op["_log"]
    # Then the project asks for what the block asks, and locks what the notebook locked
    folder = nb.parent
    assert '"six>=1.15"' in (folder / "pyproject.toml").read_text()
    locked = tomllib.loads((folder / "uv.lock").read_text())["package"]
    assert {p["name"]: p["version"] for p in locked}["six"] == "1.15.0"
    assert op["result"]["pinned"] >= 1
    # ... and the constraint is not recorded: the project may upgrade later
    assert "constraint" not in (folder / "pyproject.toml").read_text()


async def test_given_a_stale_lock_when_turned_into_a_project_then_relock_first_and_nothing_made(
    api: Api, uv_root: Path
) -> None:
    # Given a notebook whose block was edited after it was locked
    nb = juv_notebook(uv_root / "stale" / "fig.ipynb", "six==1.16.0", lock=True)
    data = json.loads(nb.read_text())
    cell = data["cells"][0]
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    cell["source"] = source.replace("six==1.16.0", "six==1.17.0")
    nb.write_text(json.dumps(data))
    # When it is turned into a project, Then it fails with the fix, and nothing is made
    op = await api.run("POST", "notebooks", "project", body={"path": str(nb)})
    assert op["state"] == "failed", op["_log"]
    assert "Relock it first" in op["message"], op
    assert sorted(p.name for p in nb.parent.iterdir()) == ["fig.ipynb"]
