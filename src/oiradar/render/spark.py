"""Compact charts for the terminal: a sparkline of a series in one line of block characters."""

from __future__ import annotations

import math
from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], width: int | None = None) -> str:
    """The last ``width`` values (all when None) as block characters, lowest ``▁`` to highest
    ``█`` between their own minimum and maximum; a missing value is a space, a flat series the
    middle block."""
    tail = list(values)[-width:] if width else list(values)
    finite = [v for v in tail if v is not None and math.isfinite(v)]
    if not finite:
        return " " * len(tail)
    lo, hi = min(finite), max(finite)
    out = []
    for v in tail:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(BLOCKS[len(BLOCKS) // 2 - 1])
        else:
            out.append(BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / (hi - lo) * len(BLOCKS)))])
    return "".join(out)


__all__ = ["BLOCKS", "sparkline"]
