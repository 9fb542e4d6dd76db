"""The panel's model and input checks, unit-tested in Node without a browser.

``jlpm test`` in labextension/ compiles ``labextension/test/*.test.ts`` with the model and
runs them with node's built-in test runner against a scripted fake of the REST API.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LABEXTENSION = REPO / "labextension"


def test_model_unit_tests_pass() -> None:
    jlpm = shutil.which("jlpm", path=str(Path(sys.executable).parent)) or shutil.which("jlpm")
    if jlpm is None or shutil.which("node") is None:
        pytest.skip("jlpm or node is missing (the labextension build needs both)")
    if not (LABEXTENSION / "node_modules").is_dir():
        pytest.fail("labextension/node_modules is missing; `uv sync` installs it while building")
    result = subprocess.run(
        [jlpm, "test"], cwd=LABEXTENSION, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "# fail 0" in result.stdout


def test_labextension_version_matches_the_python_package() -> None:
    """The panel is released with the package: `jupyter labextension list` shows this version."""
    import json

    from jupyter_uv_kernels import __version__

    package = json.loads((LABEXTENSION / "package.json").read_text())
    assert package["version"] == __version__, (
        "bump labextension/package.json together with jupyter_uv_kernels/_version.py"
    )
