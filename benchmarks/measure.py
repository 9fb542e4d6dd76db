"""Rows of the results table and the side-by-side timing helpers every figure uses."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Typographic signs for the table, written as escapes so the source stays ASCII.
X = "\u00d7"
LE = "\u2264"
GE = "\u2265"
DASH = "\u2013"


@dataclass
class Row:
    """One line of the table. ``ratio`` is ours / theirs unless ``higher_is_better``."""

    fig: str
    figure: str
    ours: str
    compared_with: str
    theirs: str
    ratio: float | None
    target: str
    runs: int
    met: bool | None = None
    ratio_text: str = ""
    notes: list[str] = field(default_factory=list)

    def cells(self) -> list[str]:
        verdict = {True: "yes", False: "**MISSED**", None: DASH}[self.met]
        ratio = self.ratio_text or (f"{self.ratio:.2f}{X}" if self.ratio is not None else DASH)
        return [
            self.fig,
            self.figure,
            self.ours,
            self.compared_with,
            self.theirs,
            ratio,
            self.target,
            verdict,
            str(self.runs),
        ]


HEADER = ["#", "figure", "ours", "compared with", "theirs", "ratio", "target", "met", "runs"]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def side_by_side(
    ours: Callable[[], Any], theirs: Callable[[], Any], runs: int, warmup: int = 1
) -> tuple[list[float], list[float], Any, Any]:
    """Alternate the two (ours, theirs, ours, theirs…) so drift hits both the same.

    Returns both lists of wall times (warm-up excluded) and the last value of each.
    """
    a: list[float] = []
    b: list[float] = []
    va = vb = None
    for i in range(warmup + runs):
        ta, va = timed(ours)
        tb, vb = timed(theirs)
        if i >= warmup:
            a.append(ta)
            b.append(tb)
    return a, b, va, vb


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def seconds(value: float) -> str:
    if value >= 10:
        return f"{value:.1f} s"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"
