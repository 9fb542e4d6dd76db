"""Figures the reliability and hub tests measure, printed at the end of the pytest run.

Tests call :func:`record`; ``tests/reliability/conftest.py`` prints everything recorded in
a "reliability figures" section of the terminal summary, so the numbers quoted in the
README come from the run that proved them.
"""

from __future__ import annotations

from typing import Any

FIGURES: dict[str, dict[str, Any]] = {}


def record(topic: str, **values: Any) -> None:
    FIGURES.setdefault(topic, {}).update(values)
