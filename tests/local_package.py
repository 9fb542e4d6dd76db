"""A package of the user's own beside their notebooks (``./mylib``), as juv adds it: the
notebook's block names it by a path relative to the notebook's folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import UV
from tests.juv_notebooks import juv, juv_notebook

NAME = "uvk-local"
MODULE = "uvk_local"


def write_local_package(folder: Path, value: str) -> Path:
    """``folder/mylib``: a pure-Python package whose ``VALUE`` is ``value``."""
    lib = folder / "mylib"
    (lib / "src" / MODULE).mkdir(parents=True, exist_ok=True)
    (lib / "pyproject.toml").write_text(
        f'[project]\nname = "{NAME}"\nversion = "1.0"\n\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    set_value(folder, value)
    return lib


def set_value(folder: Path, value: str) -> None:
    (folder / "mylib" / "src" / MODULE / "__init__.py").write_text(f"VALUE = {value!r}\n")


def notebook_with_local_package(folder: Path, *, editable: bool = True) -> Path:
    """A locked juv notebook in ``folder`` whose block has ``./mylib`` (as juv writes it:
    a ``[tool.uv.sources]`` path relative to the notebook)."""
    write_local_package(folder, "one")
    nb = juv_notebook(folder / "fig.ipynb")
    juv("add", str(nb), *(["--editable"] if editable else []), "./mylib", cwd=folder)
    juv("lock", str(nb), cwd=folder)
    return nb


def simple_index(folder: Path) -> Path:
    """A package index of the group's own (PEP 503 layout in plain files, as a static web
    server would serve it) holding ``uvk-local`` 1.0, which no public index has."""
    lib = write_local_package(folder / "build", "from the group index")
    index = folder / "index"
    project = index / NAME
    project.mkdir(parents=True)
    subprocess.run(
        [UV, "build", "--wheel", "-q", "-o", str(project), str(lib)], check=True, timeout=300
    )
    links = "".join(f'<a href="{w.name}">{w.name}</a>' for w in project.glob("*.whl"))
    (project / "index.html").write_text(f"<!DOCTYPE html><html><body>{links}</body></html>")
    return index
