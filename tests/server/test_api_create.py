"""Creating an environment in a subfolder that does not exist yet (the form's example)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .conftest import Api, tree_snapshot


async def test_given_missing_parent_folders_when_created_then_they_are_made_inside_the_root(
    api: Api, uv_root: Path
) -> None:
    await api.wait_for_scan()
    op = await api.run(
        "POST", "environments",
        body={"path": "projects/2025/tools", "kind": "venv", "python": sys.executable},
    )  # fmt: skip
    assert op["state"] == "succeeded", op["_log"]
    assert (uv_root / "projects/2025/tools/pyvenv.cfg").is_file()
    assert op["environment"]["status"] == "ready"


async def test_given_missing_parents_when_the_create_fails_then_the_folders_it_made_go_too(
    api: Api, uv_root: Path
) -> None:
    await api.wait_for_scan()
    before = tree_snapshot(uv_root)
    op = await api.run(
        "POST", "environments",
        body={"path": "projects/2026/bad", "kind": "venv", "python": sys.executable,
              "packages": ["nonexistent-package-xyz-123==9.9"]},
    )  # fmt: skip
    assert op["state"] == "failed"
    assert not (uv_root / "projects").exists()
    assert tree_snapshot(uv_root) == before


async def test_given_a_path_through_a_file_when_created_then_400_names_it(
    api: Api, uv_root: Path
) -> None:
    (uv_root / "notes.txt").write_text("mine")
    reply = await api.post("environments", body={"path": "notes.txt/x/y"}, expect=400)
    assert "is a file" in reply.body["message"]
    assert (uv_root / "notes.txt").read_text() == "mine"
    assert os.listdir(uv_root) == ["notes.txt"]
