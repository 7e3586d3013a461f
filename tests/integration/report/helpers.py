"""A simulated two-venue home for the report tests, and how to read arrays back from a report."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from oiradar.model import SeriesKey, Source, Timeframe
from oiradar.sim import simulate
from oiradar.store import Catalog

SYMBOL = "KSM/USDT:USDT"  # the simulator's


def two_venue_home(folder: Path, days: int = 240, seed: int = 5) -> Path:
    """``sim`` and ``bybit`` 4h series of one simulated market; every 60 bars bybit's OI sheds 9 %
    over a day that sim's does not, so the venues chart has two legs and divergences to mark."""
    res = simulate("planted", days=days, seed=seed, timeframe=Timeframe.H4)
    catalog = Catalog(folder)
    catalog.write_bars(res.key(), res.bars, Source.SIM)
    n = res.bars.height
    step = np.zeros(n)
    for start in range(60, n - 6, 60):
        step[start:start + 6] = np.log(0.91) / 6
    drift = np.exp(np.cumsum(step))
    other = res.bars.with_columns(pl.col("oi") * pl.Series(drift) * 1.3,
                                  pl.col("oi_value") * pl.Series(drift) * 1.3)  # fmt: skip
    catalog.write_bars(SeriesKey(exchange="bybit", symbol=res.key().symbol,
                                 timeframe=Timeframe.H4), other, Source.SIM)  # fmt: skip
    return folder


def array(value: Any) -> np.ndarray:
    """A Plotly JSON array: a typed base64 one (``{"dtype", "bdata", "shape"}``) or a list."""
    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return out.reshape([int(s) for s in str(shape).split(",")]) if shape else out
    return np.asarray(value)


def trace(fig: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [t for t in fig["data"] if t.get("name") == name]
    return found
