"""The SPEC section 4 trade model written as slowly and plainly as possible.

This is the oracle for :mod:`oiradar.backtest.engine`: no numba, no arrays of state, one ``if`` per
rule in the order the engine's docstring gives. Only the tests and the bench use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from oiradar.backtest.params import ExitReason, TradeParams
from oiradar.liquidations.prices import liq_price_linear


@dataclass
class RefTrade:
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


def run_reference(
    bars: dict[str, np.ndarray], p: TradeParams
) -> tuple[list[RefTrade], list[float]]:
    """Trades and the close-to-close equity curve of the trade model on ``bars`` (see engine)."""
    side = p.side
    o, h, lo, c = bars["open"], bars["high"], bars["low"], bars["close"]
    n = len(o)
    cash = p.initial_equity
    trades: list[RefTrade] = []
    curve: list[float] = []
    pos: RefTrade | None = None
    pending_entry_signal: int | None = None
    pending_exit: ExitReason | None = None

    def close_position(j: int, price: float, reason: ExitReason) -> None:
        nonlocal cash, pos
        assert pos is not None
        if reason is ExitReason.LIQUIDATION:
            gross, exit_fee = -pos.margin, 0.0  # isolated: the margin is lost
        else:
            gross, exit_fee = side * pos.qty * (price - pos.entry), pos.qty * price * p.fee
        cash += gross - exit_fee
        pos.fees += exit_fee
        pos.exit_bar, pos.exit, pos.reason = j, price, reason
        pos.pnl = gross - pos.fees + pos.funding
        pos.equity_after = cash
        trades.append(pos)
        pos = None

    for j in range(n):
        # 1. the open: funding of a position held into this bar, then queued orders
        if pos is not None and pos.entry_bar < j:
            rate = bars["funding"][j]
            if not math.isnan(rate) and rate != 0.0:
                payment = -side * pos.qty * o[j] * rate  # a short receives a positive rate
                pos.funding += payment
                cash += payment
        if pos is not None and pending_exit is not None:
            close_position(j, o[j] * (1 - side * p.slippage), pending_exit)
        elif pending_entry_signal is not None:
            pos = _open(bars, p, pending_entry_signal, j, cash)
            if pos is not None:
                cash -= pos.fees
        pending_entry_signal, pending_exit = None, None
        # 2. intrabar: adverse first (liquidation / stop), then the take-profit
        if pos is not None and (p.entry_bar_stops or pos.entry_bar < j):
            reason, price = _intrabar(pos, o[j], h[j], lo[j], p)
            if reason is not None:
                close_position(j, price, reason)
        if pos is not None and j == n - 1:
            close_position(j, c[j] * (1 - side * p.slippage), ExitReason.END)
        # 3. the close: mark to market, queue exits or an entry
        equity = cash
        if pos is not None:
            equity += side * pos.qty * (c[j] - pos.entry)
            held = j - pos.entry_bar + 1
            if p.thesis_streak > 0 and bars["streak"][j] >= p.thesis_streak:
                pending_exit = ExitReason.THESIS
            elif p.time_stop > 0 and held >= p.time_stop:
                pending_exit = ExitReason.TIME
        elif bars["entry"][j] and j + 1 < n and cash > 0:
            pending_entry_signal = j
        curve.append(equity)
    return trades, curve


def _open(
    bars: dict[str, np.ndarray], p: TradeParams, i: int, j: int, cash: float
) -> RefTrade | None:
    """Enter at the open of bar ``j`` after a signal at the close of bar ``i`` (or skip)."""
    side, lev = p.side, p.effective_leverage
    open_j = bars["open"][j]
    fill = open_j * (1 + side * p.slippage)
    atr = bars["atr"][i]
    window = range(max(0, i - p.stop_lookback + 1), i + 1)
    if side < 0:
        stop = max(bars["high"][k] for k in window) + p.stop_atr * atr
    else:
        stop = min(bars["low"][k] for k in window) - p.stop_atr * atr
    stop_beyond_open = stop > open_j if side < 0 else stop < open_j
    if not (atr > 0) or not stop_beyond_open or cash <= 0:
        return None
    distance = abs(fill - stop)
    z = bars["oi_z"][i]
    scale = 1 / (1 + max(0.0, z)) if (p.scale_by_oi and not math.isnan(z)) else 1.0
    max_qty = cash / (fill * (1 / lev + p.fee))  # margin + entry fee <= equity
    qty = min(p.risk * cash * scale / distance, max_qty) if p.use_stop else max_qty * scale
    liq = float(liq_price_linear(side, fill, lev, p.mmr))
    target = fill + side * p.take_profit_r * distance if p.take_profit_r > 0 else math.nan
    return RefTrade(
        entry_bar=j, entry=fill, qty=qty, stop=stop, target=target, liq=liq,
        margin=qty * fill / lev, risk_amt=qty * distance, fees=qty * fill * p.fee,
    )  # fmt: skip


def _intrabar(
    pos: RefTrade, o: float, h: float, lo: float, p: TradeParams
) -> tuple[ExitReason | None, float]:
    side = p.side
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
