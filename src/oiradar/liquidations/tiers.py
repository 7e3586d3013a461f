"""Notional tiers (leverage brackets): maintenance margin rate and amount by position size.

Binance's maintenance margin of a position is ``notional x MMR - cum`` where ``MMR`` and the
maintenance amount ``cum`` belong to the bracket holding the position's notional; brackets are
``floor < notional <= cap`` ("0 < Position <= 50,000"). The amount makes the maintenance margin
continuous across brackets (Binance, "How to Calculate Liquidation Price of COIN-M Futures Contracts",
https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46):

    cum[n] = floor[n] x (MMR[n] - MMR[n-1]) + cum[n-1]

Tables are checked-in data (``oiradar/data/tiers_<exchange>.json``, each citing its source) and
refreshed by ``scripts/refresh_tiers.py`` through ccxt ``fetch_leverage_tiers`` when online.
Linear tables count notional in the quote currency, inverse (COIN-M) tables in the base coin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oiradar.errors import InputError
from oiradar.model import MarginType, margin_type

DEFAULT_KEY = "default"
_FALLBACK_FILE = {MarginType.LINEAR: "binanceusdm", MarginType.INVERSE: "binancecoinm"}
_FIELDS = ("min_notional", "max_notional", "mmr", "max_leverage", "cum")


@dataclass(frozen=True, kw_only=True)
class TierTable:
    """One symbol's brackets as arrays (ascending ``cap``); ``origin`` says which table was used."""

    exchange: str
    symbol: str
    origin: str
    notional_unit: str  # "quote" (linear) or "base" (inverse)
    floor: NDArray[np.float64]
    cap: NDArray[np.float64]
    mmr: NDArray[np.float64]
    cum: NDArray[np.float64]
    max_leverage: NDArray[np.float64]

    def index(self, notional: ArrayLike) -> NDArray[np.intp]:
        """Bracket of each notional: first tier with ``notional <= cap``; beyond the table, the last."""
        idx = np.searchsorted(self.cap, np.asarray(notional, dtype=np.float64), side="left")
        return np.minimum(idx, len(self.cap) - 1)

    def lookup(
        self, notional: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(mmr, cum, max_leverage)`` of the bracket holding each notional."""
        i = self.index(notional)
        return self.mmr[i], self.cum[i], self.max_leverage[i]

    def maintenance_margin(self, notional: ArrayLike) -> NDArray[np.float64]:
        """``notional x MMR - cum`` (continuous across brackets when the amounts are consistent)."""
        n = np.asarray(notional, dtype=np.float64)
        mmr, cum, _ = self.lookup(n)
        return n * mmr - cum

    def implied_cum(self) -> NDArray[np.float64]:
        """Maintenance amounts recomputed from floors and rates by Binance's published rule."""
        steps = self.floor[1:] * np.diff(self.mmr)
        return np.concatenate([[self.cum[0]], self.cum[0] + np.cumsum(steps)])

    def to_rows(self) -> list[dict[str, float]]:
        return [
            {"tier": i + 1, "min_notional": float(f), "max_notional": float(c), "mmr": float(m),
             "max_leverage": float(lv), "cum": float(cu)}
            for i, (f, c, m, lv, cu) in enumerate(
                zip(self.floor, self.cap, self.mmr, self.max_leverage, self.cum, strict=True)
            )
        ]  # fmt: skip


def table_from_rows(
    rows: list[dict[str, Any]], *, exchange: str, symbol: str, origin: str, notional_unit: str
) -> TierTable:
    """Validate bracket rows (ascending, contiguous, rates in (0, 1)) and build a :class:`TierTable`."""
    if not rows:
        raise InputError(f"tier table {exchange} {symbol} is empty")
    for n, row in enumerate(rows, start=1):
        missing = [k for k in _FIELDS if k not in row]
        if missing:
            raise InputError(f"tier table {exchange} {symbol} row {n} lacks {missing}", row=n)
    arr = {k: np.array([float(r[k]) for r in rows]) for k in _FIELDS}
    _check_shape(arr, exchange, symbol)
    return TierTable(
        exchange=exchange, symbol=symbol, origin=origin, notional_unit=notional_unit,
        floor=arr["min_notional"], cap=arr["max_notional"], mmr=arr["mmr"], cum=arr["cum"],
        max_leverage=arr["max_leverage"],
    )  # fmt: skip


def _check_shape(arr: dict[str, NDArray[np.float64]], exchange: str, symbol: str) -> None:
    where = f"tier table {exchange} {symbol}"
    if np.any(np.diff(arr["max_notional"]) <= 0):
        raise InputError(f"{where}: max_notional must increase", column="max_notional")
    if np.any(arr["min_notional"][1:] != arr["max_notional"][:-1]):
        raise InputError(
            f"{where}: each tier must start where the previous ends", column="min_notional"
        )
    bad = np.flatnonzero((arr["mmr"] <= 0) | (arr["mmr"] >= 1))
    if bad.size:
        raise InputError(f"{where}: mmr out of (0, 1)", row=int(bad[0]) + 1, column="mmr",
                         value=float(arr["mmr"][bad[0]]))  # fmt: skip


@cache
def _read_file(exchange: str) -> dict[str, Any] | None:
    path = resources.files("oiradar") / "data" / f"tiers_{exchange}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def available_tables() -> dict[str, list[str]]:
    """Exchange -> symbols with a checked-in table."""
    out = {}
    for exchange in _FALLBACK_FILE.values():
        doc = _read_file(exchange)
        if doc:
            out[exchange] = sorted(doc["symbols"])
    return out


def load_tiers(exchange: str, symbol: str) -> TierTable:
    """The checked-in table of ``symbol`` on ``exchange``; falls back to the venue's ``default`` table,
    then to Binance's table of the same margin type (``origin`` records which one was used)."""
    margin = margin_type(symbol)
    doc = _read_file(exchange)
    if doc is None or doc.get("margin") != margin.value:
        exchange_used = _FALLBACK_FILE[margin]
        doc = _read_file(exchange_used)
    else:
        exchange_used = exchange
    if doc is None:  # pragma: no cover - the package ships both files
        raise InputError(f"no tier data for {exchange} {symbol}")
    key = symbol if symbol in doc["symbols"] else DEFAULT_KEY
    return table_from_rows(
        doc["symbols"][key], exchange=exchange, symbol=symbol,
        origin=f"{exchange_used}:{key}", notional_unit=doc["notional_unit"],
    )  # fmt: skip


def rows_from_ccxt(tiers: list[dict[str, Any]]) -> list[dict[str, float]]:
    """ccxt ``fetch_leverage_tiers`` entries -> checked-in rows (``cum`` from the venue's ``info``
    when present, else recomputed by Binance's rule)."""
    rows = []
    for t in tiers:
        info = t.get("info") or {}
        cum = info.get("cum")
        rows.append({
            "tier": int(t["tier"]), "min_notional": float(t["minNotional"]),
            "max_notional": float(t["maxNotional"]), "mmr": float(t["maintenanceMarginRate"]),
            "max_leverage": float(t["maxLeverage"]), "cum": float(cum) if cum is not None else float("nan"),
        })  # fmt: skip
    if any(np.isnan(r["cum"]) for r in rows):
        cum_acc = 0.0
        for prev, row in zip([None, *rows[:-1]], rows, strict=True):
            if prev is not None:
                cum_acc += row["min_notional"] * (row["mmr"] - prev["mmr"])
            row["cum"] = cum_acc
    return rows
