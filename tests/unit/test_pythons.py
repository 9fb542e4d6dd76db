"""Interpreter discovery for `--python` and `GET pythons`, with the real uv."""

from __future__ import annotations

import asyncio
import sys

import pytest

from jupyter_uv_kernels.config import UvKernels
from jupyter_uv_kernels.errors import InvalidRequest
from jupyter_uv_kernels.pythons import available_pythons, resolve_python
from jupyter_uv_kernels.uvrunner import UvRunner


def test_running_python_is_offered_and_resolves_by_version() -> None:
    runner = UvRunner(UvKernels())
    found = asyncio.run(available_pythons(runner, max_age=0))
    version = ".".join(map(str, sys.version_info[:3]))
    assert version in {p.version for p in found}
    path = asyncio.run(resolve_python(runner, ".".join(map(str, sys.version_info[:2]))))
    assert path is not None


def test_second_listing_comes_from_the_cache() -> None:
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
def test_unknown_python_names_what_is_available(request_: str) -> None:
    runner = UvRunner(UvKernels())
    with pytest.raises(InvalidRequest) as info:
        asyncio.run(resolve_python(runner, request_))
    assert request_.split(";")[0] in info.value.message
