"""Interpreter discovery for `--python` and `GET pythons`, with the real uv."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.errors import InvalidRequest
from jupyter_uv_kernels.pythons import available_pythons, resolve_python
from jupyter_uv_kernels.uvrunner import UvRunner


def test_given_the_running_python_then_it_is_offered_and_resolves_by_version() -> None:
    runner = UvRunner(UvKernels())
    found = asyncio.run(available_pythons(runner, max_age=0))
    version = ".".join(map(str, sys.version_info[:3]))
    assert version in {p.version for p in found}
    path = asyncio.run(resolve_python(runner, ".".join(map(str, sys.version_info[:2]))))
    assert path is not None


def test_given_a_first_listing_when_listed_again_then_it_comes_from_the_cache() -> None:
    class CountingRunner(UvRunner):
        """The real runner, counting how often uv is asked (the runner is the seam)."""

        calls = 0

        async def python_list(self):  # type: ignore[no-untyped-def]
            CountingRunner.calls += 1
            return await super().python_list()

    runner = CountingRunner(UvKernels())
    first = asyncio.run(available_pythons(runner, max_age=0))
    second = asyncio.run(available_pythons(runner))
    assert CountingRunner.calls == 1 and second == first


@pytest.mark.parametrize("request_", ["2.1", "3.99", "python3; rm -rf /", "/nonexistent/python"])
def test_given_an_unknown_python_when_resolved_then_the_error_names_what_is_available(
    request_: str,
) -> None:
    runner = UvRunner(UvKernels())
    with pytest.raises(InvalidRequest) as info:
        asyncio.run(resolve_python(runner, request_))
    assert request_.split(";")[0] in info.value.message


def fake_python(root: Path, version: str, body: str) -> Path:
    """A pyenv-style ``versions/X/bin/python3`` that runs ``body`` (a shell script)."""
    path = root / "versions" / version / "bin" / "python3"
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_given_a_shim_that_exits_127_when_listing_then_only_running_pythons_in_numeric_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given pyenv versions where one is a shim-like stub that exits 127, and 3.9 beside 3.10
    root = tmp_path / "pyenv"
    fake_python(root, "3.12.99", "echo 'pyenv: python3.12: command not found' >&2; exit 127")
    fake_python(root, "3.9.1", "echo 3.9.1")
    fake_python(root, "3.10.2", "echo 3.10.2")
    fake_python(root, "3.6.15", "echo 3.6.15")  # runs, but ipykernel cannot live there
    monkeypatch.setenv("PYENV_ROOT", str(root))
    found = asyncio.run(available_pythons(UvRunner(UvKernels()), max_age=0))
    versions = [p.version for p in found]
    # Then the broken one and the too-old one are not offered
    assert "3.12.99" not in versions and "3.6.15" not in versions
    # and every listed interpreter really runs
    for p in found:
        assert subprocess.run([p.path, "-c", "pass"], capture_output=True).returncode == 0
    # and 3.10 sorts above 3.9 (numeric, newest first)
    assert versions.index("3.10.2") < versions.index("3.9.1")
    assert versions == sorted(versions, key=Version, reverse=True)
