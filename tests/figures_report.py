"""Prints the figures the reliability and hub tests recorded (``tests/reliability/figures.py``)
in a "reliability figures" section of the terminal summary.

Under pytest-xdist (``./scripts/test`` runs two workers) the tests run in worker processes:
each worker hands its figures to the controller at the end (``workeroutput``), and the
controller prints them all, so the numbers quoted in the README still come from the run
that proved them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.reliability.figures import FIGURES

_KEY = "uv_kernels_figures"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the figures to the controller
        workeroutput[_KEY] = json.dumps(FIGURES)


class _Controller:
    """xdist's controller: gather what each worker recorded."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", None) or {}
        for topic, values in json.loads(output.get(_KEY, "{}")).items():
            FIGURES.setdefault(topic, {}).update(values)


def pytest_configure(config: pytest.Config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_Controller(), "uv-kernels-figures-controller")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for topic, values in sorted(FIGURES.items()):
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
        terminalreporter.write_line(f"{topic}: {shown}")
