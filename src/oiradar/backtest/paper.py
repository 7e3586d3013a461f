"""Paper trading's trade model: SPEC section 4 in plain Python, one closed bar at a time.

:class:`TradeModel` needs nothing but the bars seen so far, so it is what paper trading runs on live
bars. Written as slowly and plainly as possible (no numba, no arrays, one ``if`` per rule in the
order the engine's docstring gives), it is also the oracle of :mod:`oiradar.backtest.engine`: the
hypothesis test that holds the engine equal to it holds paper trading equal to the backtest.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from oiradar.backtest.params import ExitReason, MarginTable, TradeParams, margin_table
from oiradar.liquidations.prices import position_lp
from oiradar.liquidations.tiers import TierTable


@dataclass
class PaperTrade:
    entry_bar: int
    entry: float
    qty: float
    stop: float
    target: float
    liq: float
    margin: float
    risk_amt: float
    fees: float
    funding: float = 0.0
    exit_bar: int = -1
    exit: float = math.nan
    pnl: float = math.nan
    reason: ExitReason | None = None
    equity_after: float = math.nan


def _worse(a: float, b: float, side: int) -> bool:
    """Is price ``a`` at least as adverse as ``b`` for a position on ``side``?"""
    return a >= b if side < 0 else a <= b


@dataclass(frozen=True, slots=True)
class Bar:
    """One closed bar's inputs to the trade model (see :class:`~oiradar.backtest.run.BacktestInputs`)."""

    open: float
    high: float
    low: float
    close: float
    atr: float = math.nan
    entry: bool = False  # the entry signal fired at this bar's close
    streak: float = 0.0  # oi_up_streak for a short (the thesis exit)
    oi_z: float = math.nan
    funding: float = 0.0  # rate settled at this bar's open

    @classmethod
    def at(cls, bars: Mapping[str, np.ndarray], j: int) -> Bar:
        """Bar ``j`` of the engine's input arrays (:meth:`BacktestInputs.as_dict`), as plain floats."""
        return cls(
            open=float(bars["open"][j]), high=float(bars["high"][j]), low=float(bars["low"][j]),
            close=float(bars["close"][j]), atr=float(bars["atr"][j]), entry=bool(bars["entry"][j]),
            streak=float(bars["streak"][j]), oi_z=float(bars["oi_z"][j]),
            funding=float(bars["funding"][j]),
        )  # fmt: skip


class TradeModel:
    """The trade model one closed bar at a time: what paper trading runs on live bars.

    Feed every bar in order with :meth:`on_bar`; closed trades collect in :attr:`trades`. It is the
    same model as the numba engine, rule for rule; a hypothesis test holds the two equal.
    """

    def __init__(self, p: TradeParams, tiers: TierTable | None = None) -> None:
        self.p = p
        self.margin = margin_table(tiers, p)  # the venue's tiers (None: one flat tier of p.mmr)
        self.cash = p.initial_equity
        self.trades: list[PaperTrade] = []
        self.pos: PaperTrade | None = None
        self.j = -1  # index of the last bar seen
        self._pending_entry: tuple[float, float, float] | None = (
            None  # stop, atr, oi_z of the signal
        )
        self._pending_exit: ExitReason | None = None
        self._recent: deque[float] = deque(maxlen=p.stop_lookback)  # highs (short) / lows (long)

    @property
    def pending_entry(self) -> tuple[float, float, float] | None:
        """The entry queued at the last close (its stop, atr and oi_z), filled at the next open."""
        return self._pending_entry

    @property
    def pending_exit(self) -> ExitReason | None:
        """The exit queued at the last close (thesis broken, time stop), at the next open."""
        return self._pending_exit

    def equity(self, price: float) -> float:
        """Cash plus the open position marked at ``price``."""
        if self.pos is None:
            return self.cash
        return self.cash + self.p.side.sign * self.pos.qty * (price - self.pos.entry)

    def on_bar(self, bar: Bar, *, last: bool = False) -> float:
        """Process one closed bar; returns the equity at its close. ``last``: the data end here
        (an open position is closed at this close, no new entry is queued)."""
        p, side = self.p, self.p.side.sign
        self.j = j = self.j + 1
        # 1. the open: funding of a position held into this bar, then queued orders
        held_into = self.pos is not None and self.pos.entry_bar < j
        if held_into and not math.isnan(bar.funding) and bar.funding != 0.0:
            assert self.pos is not None
            payment = (
                -side * self.pos.qty * bar.open * bar.funding
            )  # a short receives a positive rate
            self.pos.funding += payment
            self.cash += payment
        if self.pos is not None and self._pending_exit is not None:
            self._close(bar.open * (1 - side * p.slippage), self._pending_exit)
        elif self._pending_entry is not None:
            self.pos = _open(p, self.margin, *self._pending_entry, bar.open, j, self.cash)
            if self.pos is not None:
                self.cash -= self.pos.fees
        self._pending_entry, self._pending_exit = None, None
        # 2. intrabar: adverse first (liquidation / stop), then the take-profit
        if self.pos is not None and (p.entry_bar_stops or self.pos.entry_bar < j):
            reason, price = _intrabar(self.pos, bar.open, bar.high, bar.low, p)
            if reason is not None:
                self._close(price, reason)
        if self.pos is not None and last:
            self._close(bar.close * (1 - side * p.slippage), ExitReason.END)
        # 3. the close: mark to market, queue exits or an entry
        self._recent.append(bar.high if side < 0 else bar.low)
        if self.pos is not None:
            held = j - self.pos.entry_bar + 1
            if p.thesis_streak > 0 and bar.streak >= p.thesis_streak:
                self._pending_exit = ExitReason.THESIS
            elif p.time_stop > 0 and held >= p.time_stop:
                self._pending_exit = ExitReason.TIME
        elif bar.entry and not last and self.cash > 0:
            extreme = max(self._recent) if side < 0 else min(self._recent)
            stop = extreme - side * p.stop_atr * bar.atr
            self._pending_entry = (stop, bar.atr, bar.oi_z)
        return self.equity(bar.close)

    def _close(self, price: float, reason: ExitReason) -> None:
        pos, p = self.pos, self.p
        assert pos is not None
        if reason is ExitReason.LIQUIDATION:
            gross, exit_fee = -pos.margin, 0.0  # isolated: the margin is lost
        else:
            gross, exit_fee = p.side.sign * pos.qty * (price - pos.entry), pos.qty * price * p.fee
        self.cash += gross - exit_fee
        pos.fees += exit_fee
        pos.exit_bar, pos.exit, pos.reason = self.j, price, reason
        pos.pnl = gross - pos.fees + pos.funding
        pos.equity_after = self.cash
        self.trades.append(pos)
        self.pos = None


def run_paper(
    bars: dict[str, np.ndarray], p: TradeParams, tiers: TierTable | None = None
) -> tuple[list[PaperTrade], list[float]]:
    """Trades and the close-to-close equity curve of :class:`TradeModel` fed ``bars`` in order."""
    model = TradeModel(p, tiers)
    n = len(bars["open"])
    curve = []
    for j in range(n):
        curve.append(model.on_bar(Bar.at(bars, j), last=j == n - 1))
    return model.trades, curve


def _open(
    p: TradeParams, margin: MarginTable, stop: float, atr: float, z: float, open_j: float, j: int,
    cash: float,
) -> PaperTrade | None:  # fmt: skip
    """Enter at the open of bar ``j`` after a signal whose stop/atr/oi_z are given (or skip)."""
    side, lev = p.side.sign, p.effective_leverage
    fill = open_j * (1 + side * p.slippage)
    stop_beyond_open = stop > open_j if side < 0 else stop < open_j
    if not (atr > 0) or not stop_beyond_open or cash <= 0:
        return None
    distance = abs(fill - stop)
    scale = 1 / (1 + max(0.0, z)) if (p.scale_by_oi and not math.isnan(z)) else 1.0
    formula, tiers, fee, in_base = margin
    for _ in range(tiers.shape[0] + 1):  # the venue's tier for the size may allow less leverage
        max_qty = cash / (fill * (1 / lev + p.fee))  # margin + entry fee <= equity
        qty = min(p.risk * cash * scale / distance, max_qty) if p.use_stop else max_qty * scale
        size = qty if in_base else qty * fill
        tier_max = float(tiers[_tier(tiers, size), 3])
        if tier_max >= lev:
            break
        lev = tier_max
    liq = position_lp(formula, side, fill, lev, qty, tiers, fee, in_base)[0]
    target = fill + side * p.take_profit_r * distance if p.take_profit_r > 0 else math.nan
    return PaperTrade(
        entry_bar=j, entry=fill, qty=qty, stop=stop, target=target, liq=liq,
        margin=qty * fill / lev, risk_amt=qty * distance, fees=qty * fill * p.fee,
    )  # fmt: skip


def _tier(tiers: np.ndarray, size: float) -> int:
    """The first tier whose cap holds ``size``; the last one beyond the table."""
    caps = [float(c) for c in tiers[:, 0]]
    return next((t for t, cap in enumerate(caps) if size <= cap), len(caps) - 1)


def _intrabar(
    pos: PaperTrade, o: float, h: float, lo: float, p: TradeParams
) -> tuple[ExitReason | None, float]:
    side = p.side.sign
    adverse_extreme = h if side < 0 else lo
    favourable_extreme = lo if side < 0 else h
    has_liq = pos.liq > 0
    if has_liq and _worse(o, pos.liq, side):
        return ExitReason.LIQUIDATION, pos.liq  # opened beyond the liquidation price
    if p.use_stop and _worse(o, pos.stop, side):
        return ExitReason.STOP, o * (1 - side * p.slippage)  # gapped through the stop
    stop_first = p.use_stop and (not has_liq or _worse(pos.liq, pos.stop, side))
    if stop_first and _worse(adverse_extreme, pos.stop, side):
        return ExitReason.STOP, pos.stop * (1 - side * p.slippage)
    if has_liq and _worse(adverse_extreme, pos.liq, side):
        return ExitReason.LIQUIDATION, pos.liq
    if p.take_profit_r > 0 and _worse(pos.target, favourable_extreme, side):
        return ExitReason.TAKE_PROFIT, (min(o, pos.target) if side < 0 else max(o, pos.target))
    return None, math.nan
