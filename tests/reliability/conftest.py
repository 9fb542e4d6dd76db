"""Prints the figures the reliability and hub tests recorded (see ``figures.py``)."""

from __future__ import annotations

import json
from typing import Any

from tests.reliability.figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for topic, values in sorted(FIGURES.items()):
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in values.items())
        terminalreporter.write_line(f"{topic}: {shown}")
