"""The SPEC section 4 trade model as a numba event loop (one position at a time).

Timeline of bar ``j`` (a decision uses only data known at a bar's close; fills happen later):

1. **Open.** A position held since before this bar settles the bar's funding at ``open[j]``: the
   bar's ``funding_rate`` is the sum of the rates settled inside it (one settlement on an 8-hour or
   shorter bar, three on a daily bar of an 8-hour venue), so a position held ``k`` bars books ``k``
   bars' settlements whatever the timeframe (a short receives ``qty x mark x rate`` when
   ``rate > 0``).
   Then a pending next-open exit (thesis broken, time stop) fills at ``open[j]`` with slippage, or a
   pending entry (signal at the previous close) fills at ``open[j]`` with slippage.
2. **Intrabar**, adverse before favourable (conservative): liquidation if the open is already beyond
   the liquidation price; the stop at the open if the bar gaps through it; the stop at its price if
   it lies before the liquidation price; otherwise liquidation when touched. Then the take-profit
   (a limit: ``min(open, target)`` for a short, no slippage).
   With ``entry_bar_stops = False`` these checks start at the bar after the entry (vectorbt's rule).
3. **Close.** Mark to market; ``streak[j] >= thesis_streak`` or ``bars held >= time_stop`` queue an
   exit at the next open; a signal at this close, when flat, queues an entry at the next open.

Entry at the open after signal bar ``i``: stop ``max(high[i-L+1..i]) + k atr[i]`` (short); quantity
``risk x equity x scale / |fill - stop|`` with ``scale = 1/(1 + max(0, oi_z[i]))``, capped so that
margin + entry fee <= equity (notional <= leverage x equity). The venue's tiers (``tiers``: cap,
MMR, amount, maximum leverage per row; one flat row of ``TradeParams.mmr`` when the symbol has none)
then bound the leverage: where the position's size falls in a tier whose maximum leverage is lower,
the position takes that leverage and is re-sized under it, until the tier allows it. Isolated margin
``notional / leverage``; liquidation price from the venue's formula in the position's tier
(:func:`oiradar.liquidations.prices.position_lp`, compiled here; Binance re-picks the tier at the
liquidation price). A trade whose stop is not beyond the entry bar's open (it gapped past it) is skipped.
Without a stop (``use_stop = False``) risk sizing is undefined: the position takes the capped notional
(about ``leverage x equity``) x ``scale``, so a high-leverage position can only end by liquidation, target or time.
A liquidation loses the isolated margin (``pnl = -margin``, plus the entry fee already paid).

:mod:`oiradar.backtest.paper` is the same model written as a plain Python loop; a hypothesis test
holds the two equal.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from oiradar.backtest.params import ExitReason
from oiradar.liquidations.prices import position_lp

# Trade table columns.
T_ENTRY_BAR, T_EXIT_BAR, T_ENTRY, T_EXIT, T_QTY, T_STOP, T_TARGET, T_LIQ = range(8)
T_PNL, T_FEES, T_FUNDING, T_RISK, T_REASON, T_EQUITY = range(8, 14)
N_TCOLS = 14
# Summary vector (online statistics of the per-bar equity returns).
S_FINAL, S_NTRADES, S_SUM_R, S_SUM_R2, S_SUM_DOWN2, S_MAXDD, S_BARS_IN, S_WINS = range(8)
S_GROSS_WIN, S_GROSS_LOSS, S_SUM_RMULT, S_FEES, S_FUNDING, S_NRET = range(8, 14)
S_SUM_R3, S_SUM_R4 = range(14, 16)
N_SUMMARY = 16

_STOP, _LIQ, _TP = int(ExitReason.STOP), int(ExitReason.LIQUIDATION), int(ExitReason.TAKE_PROFIT)
_THESIS, _TIME, _END = int(ExitReason.THESIS), int(ExitReason.TIME), int(ExitReason.END)

# The venue formulas of the one liquidation-price module, compiled (paper trading runs the same
# function as Python).
_position_lp = nb.njit(cache=True, nogil=True)(position_lp)


@nb.njit(cache=True, nogil=True)
def tier_of(tiers, size):
    """Row of ``tiers`` (ascending caps) holding ``size``: the first with ``size <= cap``, else the last."""
    t = 0
    while t < tiers.shape[0] - 1 and size > tiers[t, 0]:
        t += 1
    return t


@nb.njit(cache=True, nogil=True)
def run_core(
    open_, high, low, close, atr, entry, streak, oi_z, funding,
    side, risk, scale_by_oi, leverage, formula, tiers, mfee, in_base, fee, slip,
    lookback, stop_atr, use_stop, tp_r, time_stop, thesis_streak, entry_bar_stops, equity0,
    start, stop_bar, record, trades, curve, inpos,
):  # fmt: skip
    """Run the model over bars ``[start, stop_bar)`` of the arrays as if nothing existed outside
    them (a walk-forward window; full arrays, no slicing, so numba keeps contiguous loads).
    ``record``: write ``trades``/``curve``/``inpos`` (else only the returned summary vector, for
    sweeps). Returns ``(summary, n_trades)``; bar indices in ``trades`` are absolute."""
    n = stop_bar
    summ = np.zeros(N_SUMMARY)
    cash = equity0
    peak, prev_eq = equity0, equity0
    in_pos, pend_entry, pend_exit = False, False, 0
    sig = -1
    eb = 0
    ep = qty = stop = target = liq = margin = fees = fund = risk_amt = 0.0
    sgn = -float(side)  # prices times sgn: larger = more adverse, for either side
    first_a = target_a = np.inf  # nearest adverse exit level and the target, in those units
    nt = 0
    # per-bar accumulators kept in locals (registers), written to ``summ`` once at the end
    s_r = s_r2 = s_r3 = s_r4 = s_down2 = maxdd = 0.0
    trough = equity0  # lowest equity since the last peak: max drawdown = max(1 - trough / peak)
    nret = bars_in = 0
    for j in range(start, n):
        if not in_pos and not pend_entry:
            # Flat and nothing queued: equity is unchanged (return 0, no new peak or drawdown).
            if entry[j] and j + 1 < n and cash > 0.0:
                pend_entry, sig = True, j
            if record:
                curve[j] = cash
                inpos[j] = False
            if prev_eq > 0.0:
                nret += 1
            continue
        exit_px, reason = 0.0, 0
        if in_pos and eb < j:
            r = funding[j]
            if r == r and r != 0.0:
                f = -side * qty * open_[j] * r
                fund += f
                cash += f
        if in_pos and pend_exit > 0:
            exit_px, reason = open_[j] * (1.0 - side * slip), pend_exit
        elif pend_entry:
            pend_entry = False
            fill = open_[j] * (1.0 + side * slip)
            a = atr[sig]
            lo = max(start, sig - lookback + 1)
            if side < 0:
                stop = np.max(high[lo : sig + 1]) + stop_atr * a
            else:
                stop = np.min(low[lo : sig + 1]) - stop_atr * a
            dist = (stop - fill) * -side
            if a > 0.0 and (stop - open_[j]) * -side > 0.0 and cash > 0.0:
                z = oi_z[sig]
                scale = 1.0 / (1.0 + max(0.0, z)) if (scale_by_oi and z == z) else 1.0
                lev = leverage
                for _ in range(tiers.shape[0] + 1):  # lower the leverage until the tier allows it
                    cap = cash / (fill * (1.0 / lev + fee))  # margin + entry fee <= equity
                    qty = min(risk * cash * scale / dist, cap) if use_stop else cap * scale
                    t_max = tiers[tier_of(tiers, qty if in_base else qty * fill), 3]
                    if t_max >= lev:
                        break
                    lev = t_max
                if qty > 0.0:
                    in_pos, eb, ep = True, j, fill
                    margin = qty * fill / lev
                    liq = _position_lp(formula, side, fill, lev, qty, tiers, mfee, in_base)[0]
                    target = fill + side * tp_r * dist if tp_r > 0.0 else np.nan
                    risk_amt = qty * dist
                    fees = qty * fill * fee
                    cash -= fees
                    fund = 0.0
                    first_a = min(
                        stop * sgn if use_stop else np.inf, liq * sgn if liq > 0.0 else np.inf
                    )
                    target_a = target * sgn if tp_r > 0.0 else -np.inf
        pend_exit = 0
        if in_pos and reason == 0 and (entry_bar_stops or eb < j):
            o, hi, lw = open_[j], high[j], low[j]
            if side < 0:
                adv_a, fav_a = max(o, hi), min(o, lw)
            else:
                adv_a, fav_a = -min(o, lw), -max(o, hi)
            quiet = adv_a < first_a and fav_a > target_a  # nothing touched: skip the checks below
            adv_open = o * -side  # larger = more adverse, for either side
            liq_on = liq > 0.0
            if quiet:
                pass
            elif liq_on and adv_open >= liq * -side:
                exit_px, reason = liq, _LIQ
            elif use_stop and adv_open >= stop * -side:
                exit_px, reason = o * (1.0 - side * slip), _STOP
            elif (
                use_stop
                and (not liq_on or stop * -side <= liq * -side)
                and ((side < 0 and hi >= stop) or (side > 0 and lw <= stop))
            ):
                exit_px, reason = stop * (1.0 - side * slip), _STOP
            elif liq_on and ((side < 0 and hi >= liq) or (side > 0 and lw <= liq)):
                exit_px, reason = liq, _LIQ
            elif tp_r > 0.0 and ((side < 0 and lw <= target) or (side > 0 and hi >= target)):
                exit_px = min(o, target) if side < 0 else max(o, target)
                reason = _TP
        if in_pos and reason == 0 and j == n - 1:
            exit_px, reason = close[j] * (1.0 - side * slip), _END
        if in_pos and reason > 0:
            if reason == _LIQ:
                pnl_px = -margin
                xfee = 0.0
            else:
                pnl_px = side * qty * (exit_px - ep)
                xfee = qty * exit_px * fee
            cash += pnl_px - xfee
            fees += xfee
            pnl = pnl_px - fees + fund
            summ[S_NTRADES] += 1
            if pnl > 0:
                summ[S_WINS] += 1
                summ[S_GROSS_WIN] += pnl
            else:
                summ[S_GROSS_LOSS] -= pnl
            summ[S_SUM_RMULT] += pnl / risk_amt
            summ[S_FEES] += fees
            summ[S_FUNDING] += fund
            if record and nt < trades.shape[0]:
                row = trades[nt]
                row[T_ENTRY_BAR], row[T_EXIT_BAR], row[T_ENTRY], row[T_EXIT] = eb, j, ep, exit_px
                row[T_QTY], row[T_STOP], row[T_TARGET], row[T_LIQ] = qty, stop, target, liq
                row[T_PNL], row[T_FEES], row[T_FUNDING], row[T_RISK] = pnl, fees, fund, risk_amt
                row[T_REASON], row[T_EQUITY] = reason, cash
            nt += 1
            in_pos = False
            bars_in += 1
        eq = cash
        if in_pos:
            eq += side * qty * (close[j] - ep)
            bars_in += 1
            held = j - eb + 1
            if thesis_streak > 0 and streak[j] >= thesis_streak:
                pend_exit = _THESIS
            elif time_stop > 0 and held >= time_stop:
                pend_exit = _TIME
        elif entry[j] and j + 1 < n and cash > 0.0:
            pend_entry, sig = True, j
        if record:
            curve[j] = eq
            inpos[j] = in_pos or reason > 0
        if prev_eq > 0.0:
            ret = eq / prev_eq - 1.0
            r2 = ret * ret
            s_r += ret
            s_r2 += r2
            s_r3 += r2 * ret
            s_r4 += r2 * r2
            if ret < 0.0:
                s_down2 += r2
            nret += 1
        prev_eq = eq
        if eq > peak:
            if peak > 0.0 and trough < peak:
                maxdd = max(maxdd, 1.0 - trough / peak)
            peak = trough = eq
        elif eq < trough:
            trough = eq
    if peak > 0.0 and trough < peak:
        maxdd = max(maxdd, 1.0 - trough / peak)
    summ[S_SUM_R], summ[S_SUM_R2], summ[S_SUM_R3], summ[S_SUM_R4] = s_r, s_r2, s_r3, s_r4
    summ[S_SUM_DOWN2], summ[S_MAXDD], summ[S_NRET], summ[S_BARS_IN] = s_down2, maxdd, nret, bars_in
    summ[S_FINAL] = cash if not in_pos else prev_eq
    return summ, nt
