"""Small conversions the use cases share when they make results JSON-ready."""

from __future__ import annotations

import math


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a plain float, or None when missing or not finite (JSON has no NaN)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(x)


__all__ = ["finite_or_none"]
