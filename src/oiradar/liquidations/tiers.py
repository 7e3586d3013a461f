"""Notional tiers (leverage brackets): maintenance margin rate and amount by position size.

Binance's maintenance margin of a position is ``notional x MMR - cum`` where ``MMR`` and the
maintenance amount ``cum`` belong to the bracket holding the position's notional; brackets are
``floor < notional <= cap`` ("0 < Position <= 50,000"). The amount makes the maintenance margin
continuous across brackets (Binance, "How to Calculate Liquidation Price of COIN-M Futures Contracts",
https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46):

    cum[n] = floor[n] x (MMR[n] - MMR[n-1]) + cum[n-1]

Bybit's risk-limit tiers have the same shape: ``MM = position value x MMR - deduction``, the
"maintenance margin deduction" playing the part of ``cum`` (and following the same rule). OKX's
position tiers have no amount (``cum = 0``): the tier's rate applies to the whole position.

Tables are checked-in data (``oiradar/data/tiers_<exchange>.json``, each citing its source) and
refreshed by ``scripts/refresh_tiers.py`` through ccxt when online. A file says which liquidation
formula its venue uses (``formula``: binance, bybit or okx, see :mod:`oiradar.liquidations.prices`)
and what its tiers count (``notional_unit``):

- ``quote``: the position's value in the quote currency (Binance USD-M, Bybit USDT: ``qty x
  price``), or for an inverse contract its USD face value;
- ``base``: the position in the base coin (Binance COIN-M: ``face value / price``; OKX swaps count
  contracts, stored here as contracts x contract size, i.e. base units: ``qty``).
"""

from __future__ import annotations

import itertools
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
TIER_FILES = ("binanceusdm", "binancecoinm", "bybit", "okx")  # src/oiradar/data/tiers_<name>.json
FORMULAS = ("binance", "bybit", "okx")
NOTIONAL_UNITS = ("quote", "base")
_FIELDS = ("min_notional", "max_notional", "mmr", "max_leverage", "cum")


@dataclass(frozen=True, kw_only=True)
class TierTable:
    """One symbol's brackets as arrays (ascending ``cap``); ``origin`` says which table was used,
    ``formula`` whose liquidation formula applies (the venue asked for, even when its tiers are
    borrowed from Binance), ``fee`` the taker fee rate that formula counts (OKX's)."""

    exchange: str
    symbol: str
    origin: str
    notional_unit: str  # "quote" or "base": see the module docstring
    floor: NDArray[np.float64]
    cap: NDArray[np.float64]
    mmr: NDArray[np.float64]
    cum: NDArray[np.float64]
    max_leverage: NDArray[np.float64]
    formula: str = "binance"
    fee: float = 0.0

    @property
    def in_base(self) -> bool:
        return self.notional_unit == "base"

    def size(self, qty: ArrayLike, price: ArrayLike, inverse: bool = False) -> NDArray[np.float64]:
        """What the tiers count for a position of ``qty`` (base units; USD face value when
        ``inverse``) at ``price``: its quote value or its base amount (module docstring)."""
        q, p = np.asarray(qty, dtype=np.float64), np.asarray(price, dtype=np.float64)
        with np.errstate(divide="ignore"):
            if inverse:
                return q / p if self.in_base else q * np.ones_like(p)
            return q * np.ones_like(p) if self.in_base else q * p

    def as_array(self) -> NDArray[np.float64]:
        """``(tiers, 4)``: cap, mmr, cum, max leverage (what the backtest engine reads)."""
        rows = np.column_stack([self.cap, self.mmr, self.cum, self.max_leverage])
        return np.ascontiguousarray(rows)

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
    rows: list[dict[str, Any]], *, exchange: str, symbol: str, origin: str, notional_unit: str,
    formula: str = "binance", fee: float = 0.0,
) -> TierTable:  # fmt: skip
    """Validate bracket rows (ascending, contiguous, rates in (0, 1)) and build a :class:`TierTable`."""
    if not rows:
        raise InputError(f"tier table {exchange} {symbol} is empty")
    if formula not in FORMULAS or notional_unit not in NOTIONAL_UNITS:
        raise InputError(f"tier table {exchange} {symbol}: formula {formula!r} / notional_unit "
                         f"{notional_unit!r} not one of {FORMULAS} / {NOTIONAL_UNITS}")  # fmt: skip
    for n, row in enumerate(rows, start=1):
        missing = [k for k in _FIELDS if k not in row]
        if missing:
            raise InputError(f"tier table {exchange} {symbol} row {n} lacks {missing}", row=n)
    arr = {k: np.array([float(r[k]) for r in rows]) for k in _FIELDS}
    _check_shape(arr, exchange, symbol)
    return TierTable(
        exchange=exchange, symbol=symbol, origin=origin, notional_unit=notional_unit,
        floor=arr["min_notional"], cap=arr["max_notional"], mmr=arr["mmr"], cum=arr["cum"],
        max_leverage=arr["max_leverage"], formula=formula, fee=fee,
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


def snapshot_note(exchange: str) -> str | None:
    """A warning when ``exchange``'s checked-in tiers were typed in by hand (their ``source`` starts
    with SNAPSHOT: approximate until ``scripts/refresh_tiers.py`` replaces them), else None."""
    doc = _read_file(exchange)
    if not doc or not str(doc.get("source", "")).startswith("SNAPSHOT"):
        return None
    return (f"{exchange}'s tiers are a hand-typed snapshot, approximate beyond the rows its "
            f"source names; refresh them with scripts/refresh_tiers.py --exchange {exchange}")  # fmt: skip


def available_tables() -> dict[str, list[str]]:
    """Exchange -> symbols with a checked-in table."""
    out = {}
    for exchange in TIER_FILES:
        doc = _read_file(exchange)
        if doc:
            out[exchange] = sorted(doc["symbols"])
    return out


def venue_formula(exchange: str) -> str | None:
    """The liquidation formula of a venue with a checked-in file (None for any other venue)."""
    doc = _read_file(exchange) if exchange in TIER_FILES else None
    return None if doc is None else str(doc.get("formula", "binance"))


def load_tiers(exchange: str, symbol: str) -> TierTable:
    """The checked-in table of ``symbol`` on ``exchange``; falls back to the venue's ``default`` table,
    then (no file, another margin type, or no ``default``: OKX's tiers count contracts of each coin)
    to Binance's table of the same margin type (``origin`` records which one was used). The
    formula (and its fee) stays the venue's own when it has a file: OKX's formula with Binance's
    COIN-M brackets for an OKX inverse contract, Binance's for a venue without any file."""
    margin = margin_type(symbol)
    venue = _read_file(exchange) if exchange in TIER_FILES else None
    doc = venue
    if doc is None or doc.get("margin") != margin.value or not _has_table(doc, symbol):
        exchange_used = _FALLBACK_FILE[margin]
        doc = _read_file(exchange_used)
    else:
        exchange_used = exchange
    if doc is None:  # pragma: no cover - the package ships both files
        raise InputError(f"no tier data for {exchange} {symbol}")
    rules = venue or doc
    key = symbol if symbol in doc["symbols"] else DEFAULT_KEY
    return table_from_rows(
        doc["symbols"][key], exchange=exchange, symbol=symbol,
        origin=f"{exchange_used}:{key}", notional_unit=doc["notional_unit"],
        formula=str(rules.get("formula", "binance")), fee=float(rules.get("fee_rate", 0.0)),
    )  # fmt: skip


def _has_table(doc: dict[str, Any], symbol: str) -> bool:
    return symbol in doc["symbols"] or DEFAULT_KEY in doc["symbols"]


def rows_from_ccxt(
    tiers: list[dict[str, Any]], *, scale: float = 1.0, deduction: bool = True
) -> list[dict[str, float]]:
    """ccxt ``fetch_market_leverage_tiers`` entries -> checked-in rows.

    ``cum`` comes from the venue's ``info`` (Binance ``cum``, Bybit ``mmDeduction``; Bybit sends
    ``""`` for its first tier); a missing one follows Binance's rule from the tier before;
    ``deduction=False`` (OKX) stores 0. ``scale`` multiplies the bounds (OKX counts contracts:
    pass the contract size to store base units). Each tier starts where the previous one ends
    (OKX lists ``minSz`` one contract above the previous ``maxSz``).
    """
    rows = []
    for t in tiers:
        info = t.get("info") or {}
        cum = info.get("cum", info.get("mmDeduction"))
        cum = None if cum in (None, "") or not deduction else cum
        rows.append({
            "tier": int(t["tier"]), "min_notional": float(t["minNotional"]) * scale,
            "max_notional": float(t["maxNotional"]) * scale,
            "mmr": float(t["maintenanceMarginRate"]), "max_leverage": float(t["maxLeverage"]),
            "cum": float(cum) if cum is not None else (float("nan") if deduction else 0.0),
        })  # fmt: skip
    for prev, row in itertools.pairwise(rows):
        row["min_notional"] = prev["max_notional"]
    for n, row in enumerate(rows):  # a missing amount: Binance's rule from the previous tier
        if np.isnan(row["cum"]):
            p = rows[n - 1] if n else row
            row["cum"] = p["cum"] + row["min_notional"] * (row["mmr"] - p["mmr"]) if n else 0.0
    return rows
