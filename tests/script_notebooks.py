"""Self-contained notebooks written by juv itself (from PyPI, through ``uv tool run``; the
same pinned juv as ``tests/juv_notebooks.py``, whose helpers run juv per test).

``juv_notebook`` is a copy of one notebook made once per session with ``juv init``,
``juv add nb.ipynb 'six==1.16.0'`` and ``juv lock``: the PEP 723 block in a hidden first
cell and the lock in the notebook's metadata, exactly as juv users have them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import UV, hermetic_variables, is_leaky_variable
from tests.juv_notebooks import JUV

#: The version the notebook pins and locks (not the newest six, so a stray resolution shows).
SIX = "1.16.0"


def juv(*args: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [UV, "tool", "run", "--from", JUV, "juv", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def juv_template(tmp_path_factory: pytest.TempPathFactory, uv_cache_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("juv")
    env = {k: v for k, v in os.environ.items() if not is_leaky_variable(k)}
    env.update(hermetic_variables(folder / "home", uv_cache_dir))
    juv("init", "nb.ipynb", cwd=folder, env=env)
    juv("add", "nb.ipynb", f"six=={SIX}", cwd=folder, env=env)
    juv("lock", "nb.ipynb", cwd=folder, env=env)
    return folder / "nb.ipynb"


@pytest.fixture
def juv_notebook(juv_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the juv notebook in its own folder."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    return Path(shutil.copy(juv_template, folder / "analysis.ipynb"))


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def with_block_source(path: Path, source: str, target: Path | None = None) -> Path:
    """The notebook with its first (block) cell's source replaced."""
    nb = read(path)
    nb["cells"][0]["source"] = source
    out = target or path
    out.write_text(json.dumps(nb), "utf-8")
    return out


def add_code_cell(path: Path, source: str) -> None:
    nb = read(path)
    nb["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": source,
        }
    )
    path.write_text(json.dumps(nb), "utf-8")
