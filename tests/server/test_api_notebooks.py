"""A notebook's inline dependencies through the REST API (issue 15), on notebooks written by
juv itself, with real uv; juv then reads what we wrote and agrees."""

from __future__ import annotations

import json
from pathlib import Path

from packaging.version import Version

from tests.juv_notebooks import juv, juv_block, juv_notebook, lock_versions, notebook_json
from tests.server.conftest import Api


async def test_given_a_juv_notebook_when_read_then_its_block_and_lock_are_reported(
    api: Api, uv_root: Path
) -> None:
    # Given a notebook juv made, added six to and locked
    nb = juv_notebook(uv_root / "a" / "fig.ipynb", "six==1.16.0", lock=True)
    # When the panel asks for its dependencies (path relative to the server root)
    reply = await api.get("notebooks", "dependencies", params={"path": str(nb)}, expect=200)
    # Then it sees the block, the locked version and the env the kernel would build
    deps = reply.body
    assert deps["self_contained"] and deps["locked"] and deps["problem"] is None
    assert deps["requires_python"].startswith(">=3.")
    assert deps["dependencies"] == [
        {"requirement": "six==1.16.0", "name": "six", "locked_version": "1.16.0"}
    ]
    assert deps["kernel"] == "uv-script" and len(deps["environment"]["key"]) == 16
    assert deps["environment"]["built"] is False


async def test_given_a_locked_juv_notebook_when_a_package_is_added_then_juv_reads_it_and_agrees(
    api: Api, uv_root: Path
) -> None:
    # Given a locked juv notebook
    nb = juv_notebook(uv_root / "b" / "fig.ipynb", "six==1.16.0", lock=True)
    # When a dependency is added through REST
    op = await api.run(
        "POST",
        "notebooks",
        "dependencies",
        body={"path": str(nb), "action": "add", "packages": ["attrs==23.2.0"]},
    )
    # Then it succeeded, and the result carries the new dependencies
    assert op["state"] == "succeeded", op["_log"]
    assert op["action"] == "notebook-add"
    names = [d["name"] for d in op["result"]["notebook"]["dependencies"]]
    assert names == ["attrs", "six"]
    assert lock_versions(nb) == {"attrs": "23.2.0", "six": "1.16.0"}
    # ... juv reads the same block
    assert '"attrs==23.2.0"' in juv_block(nb)
    # ... and juv relocking changes nothing: same lock, same bytes
    before = nb.read_bytes()
    juv("lock", str(nb))
    assert nb.read_bytes() == before
    # ... and juv's tree shows both
    tree = juv("tree", str(nb))
    assert "attrs v23.2.0" in tree and "six v1.16.0" in tree


async def test_given_a_notebook_when_removing_and_upgrading_then_block_and_lock_follow(
    api: Api, uv_root: Path
) -> None:
    # Given a locked notebook with an old six and attrs
    nb = juv_notebook(uv_root / "c" / "fig.ipynb", "six>=1.15", "attrs", lock=True)
    juv("add", str(nb), "six==1.15.0")  # pins the lock to 1.15.0 ...
    juv("add", str(nb), "six>=1.15")  # ... then loosens the block, keeping the lock's pin
    assert lock_versions(nb)["six"] == "1.15.0"
    # ... whose outdated view says what the block allows beyond the lock
    outdated = await api.get("notebooks", "outdated", params={"path": str(nb)}, expect=200)
    six = next(p for p in outdated.body["packages"] if p["name"] == "six")
    assert six["installed"] == "1.15.0" and six["allowed"] != "1.15.0" and six["direct"]
    # ... and the newest release, from the index (at least what the block allows)
    assert Version(six["latest"]) >= Version(six["allowed"]) > Version("1.15.0")
    # When six is upgraded
    op = await api.run(
        "POST",
        "notebooks",
        "dependencies",
        body={"path": str(nb), "action": "upgrade", "packages": ["six"]},
    )
    assert op["state"] == "succeeded", op["_log"]
    # Then the lock holds a newer six
    assert lock_versions(nb)["six"] != "1.15.0"
    # When attrs is removed
    op = await api.run(
        "POST",
        "notebooks",
        "dependencies",
        body={"path": str(nb), "action": "remove", "packages": ["attrs"]},
    )
    assert op["state"] == "succeeded", op["_log"]
    # Then neither the block juv reads nor the lock has it
    assert "attrs" not in juv_block(nb) and "attrs" not in lock_versions(nb)
    # ... and the tree route shows what is left
    tree = await api.get("notebooks", "tree", params={"path": str(nb)}, expect=200)
    assert [n["name"] for n in tree.body["groups"][0]["dependencies"]] == ["six"]


async def test_given_a_notebook_without_a_block_when_added_to_then_a_hidden_first_cell_holds_it(
    api: Api, uv_root: Path
) -> None:
    # Given a plain notebook (no block)
    nb = uv_root / "d" / "plain.ipynb"
    nb.parent.mkdir()
    cell = {"cell_type": "code", "execution_count": None, "id": "abc", "metadata": {}}
    plain = {"cells": [{**cell, "outputs": [], "source": ["import six"]}], "metadata": {}}
    nb.write_text(json.dumps({**plain, "nbformat": 4, "nbformat_minor": 5}, indent=1) + "\n")
    # When six is added, with a requires-python
    body = {"path": str(nb), "action": "add", "packages": ["six"]}
    op = await api.run(
        "POST", "notebooks", "dependencies", body={**body, "requires_python": ">=3.10"}
    )
    assert op["state"] == "succeeded", op["_log"]
    # Then a hidden first code cell holds the block, as juv makes it, and juv reads it
    first = notebook_json(nb)["cells"][0]
    assert first["metadata"] == {"jupyter": {"source_hidden": True}} and len(first["id"]) == 8
    assert 'requires-python = ">=3.10"' in juv_block(nb) and '"six>=' in juv_block(nb)
    assert notebook_json(nb)["cells"][1]["source"] == ["import six"]
    assert nb.read_text().endswith("}\n")  # its own trailing newline kept


async def test_given_a_nonexistent_package_when_added_then_the_notebook_is_byte_identical(
    api: Api, uv_root: Path
) -> None:
    nb = juv_notebook(uv_root / "e" / "fig.ipynb", "six", lock=True)
    before = nb.read_bytes()
    op = await api.run(
        "POST",
        "notebooks",
        "dependencies",
        body={"path": str(nb), "action": "add", "packages": ["no-such-package-uvk-zz9"]},
    )
    assert op["state"] == "failed" and "no-such-package-uvk-zz9" in op["message"]
    assert nb.read_bytes() == before
    assert sorted(p.name for p in nb.parent.iterdir()) == ["fig.ipynb"]  # no temp files left


async def test_hostile_requests_get_a_clear_4xx(api: Api, uv_root: Path, tmp_path: Path) -> None:
    nb = juv_notebook(uv_root / "f" / "fig.ipynb", "six")
    before = nb.read_bytes()

    async def refused(body: dict[str, object], status: int, words: str) -> None:
        reply = await api.post("notebooks", "dependencies", body=body, expect=status)
        assert words in reply.body["message"], reply.body

    await refused(
        {"path": str(nb), "action": "add", "packages": ["--index-url=http://evil"]},
        400,
        "command-line option",
    )
    outside = tmp_path / "outside.ipynb"
    outside.write_bytes(before)
    await refused({"path": str(outside), "action": "lock"}, 403, "outside the configured roots")
    (uv_root / "f" / "notes.txt").write_text("x")
    await refused({"path": str(uv_root / "f/notes.txt"), "action": "lock"}, 400, "not a notebook")
    await refused(
        {"path": str(uv_root / "f/missing.ipynb"), "action": "lock"}, 400, "does not exist"
    )
    await refused({"path": str(nb), "action": "remove", "packages": ["numpy"]}, 400, "not in")
    await refused({"path": str(nb), "action": "explode"}, 400, "action")
    assert nb.read_bytes() == before
    # A notebook whose block is bad TOML: a 200 with the problem, and edits refused (400)
    bad = uv_root / "f" / "bad.ipynb"
    data = notebook_json(nb)
    data["cells"][0]["source"] = ["# /// script\n", '# dependencies = ["six"\n', "# ///"]
    bad.write_text(json.dumps(data, indent=1))
    reply = await api.get("notebooks", "dependencies", params={"path": str(bad)}, expect=200)
    assert "not valid TOML" in reply.body["problem"] and reply.body["environment"] is None
    await refused({"path": str(bad), "action": "add", "packages": ["attrs"]}, 400, "TOML")
    # An option-shaped dependency inside the block
    data["cells"][0]["source"] = ["# /// script\n", '# dependencies = ["--pre"]\n', "# ///"]
    bad.write_text(json.dumps(data, indent=1))
    reply = await api.get("notebooks", "dependencies", params={"path": str(bad)}, expect=200)
    assert "command-line option" in reply.body["problem"]


async def test_given_a_pinned_notebook_when_checking_updates_then_latest_is_shown_and_held(
    api: Api, uv_root: Path
) -> None:
    # Given a locked notebook that pins an old six
    nb = juv_notebook(uv_root / "h" / "fig.ipynb", "six==1.16.0", lock=True)
    before = nb.read_bytes()
    # When its updates are checked
    reply = await api.get("notebooks", "outdated", params={"path": str(nb)}, expect=200)
    # Then six shows the locked version and a newer release from the index, which the pin
    # holds back (no upgrade allowed), and the notebook is untouched
    six = next(p for p in reply.body["packages"] if p["name"] == "six")
    assert six["installed"] == "1.16.0" and six["direct"]
    assert Version(six["latest"]) > Version("1.16.0")
    assert six["allowed"] is None
    assert nb.read_bytes() == before
