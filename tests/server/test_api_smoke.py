from __future__ import annotations

from pathlib import Path

from tests.conftest import make_project

from .conftest import Api


async def test_lists_existing_project(api: Api, uv_root: Path) -> None:
    make_project(uv_root / "proj", "ipykernel")
    env = await api.env_at(uv_root / "proj", rescan=True)
    assert env["status"] == "ready", env
    assert env["kernel"]
