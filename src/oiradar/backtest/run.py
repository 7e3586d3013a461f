"""Run the trade model on one series and report the results (SPEC section 4, issue 5).

:class:`BacktestInputs` holds plain arrays, one value per closed bar; :func:`inputs_from_frame` builds
them from a bar frame with features and an entry-signal column, :func:`inputs_from_features` from a
feature frame on the regular grid (gaps included) and an entry mask. :func:`run_backtest` returns the
trade list, the equity curve and the metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar.backtest import engine as eng
from oiradar.backtest.params import ExitReason, TradeParams, margin_table
from oiradar.errors import InputError
from oiradar.liquidations.tiers import TierTable
from oiradar.model import DAY_MS, Side

YEAR_MS = 365 * DAY_MS
FloatArr = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class BacktestInputs:
    """Arrays of equal length. ``entry[i]``: the entry signal fired at the close of bar ``i``.
    ``streak``: the OI streak that breaks the thesis (``oi_up_streak`` for shorts). ``funding``: the
    sum of the rates settled inside each bar (0 or NaN where none), booked at its open: three 8-hour
    settlements on a daily bar (``docs/decisions/0606-funding-by-period.md``). ``tiers``: the
    venue's tiers of the series' symbol (maintenance rate, amount and maximum leverage by size, and
    its liquidation formula); None: one flat tier of ``TradeParams.mmr``."""

    open: FloatArr
    high: FloatArr
    low: FloatArr
    close: FloatArr
    atr: FloatArr
    entry: NDArray[np.bool_]
    streak: FloatArr
    oi_z: FloatArr
    funding: FloatArr
    ts: NDArray[np.int64] | None = None
    bar_ms: int = DAY_MS
    tiers: TierTable | None = None

    def __post_init__(self) -> None:
        n = self.open.shape[0]
        for name in ("high", "low", "close", "atr", "entry", "streak", "oi_z", "funding", "ts"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n,):
                raise InputError(
                    f"array {name!r} has shape {arr.shape}, expected ({n},)", column=name
                )
        bad = ~np.isfinite(self.open) | ~np.isfinite(self.high) | ~np.isfinite(self.low)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError("OHLC must be finite numbers", row=row, column="open/high/low",
                             value=(self.open[row], self.high[row], self.low[row]))  # fmt: skip

    @property
    def n(self) -> int:
        return int(self.open.shape[0])

    @property
    def bars_per_year(self) -> float:
        return YEAR_MS / self.bar_ms

    def slice(self, start: int, stop: int) -> BacktestInputs:
        """Bars ``[start, stop)``: a walk-forward window (signals past ``stop`` are not seen)."""
        w = slice(start, stop)
        return BacktestInputs(
            open=self.open[w], high=self.high[w], low=self.low[w], close=self.close[w],
            atr=self.atr[w], entry=self.entry[w], streak=self.streak[w], oi_z=self.oi_z[w],
            funding=self.funding[w], ts=None if self.ts is None else self.ts[w], bar_ms=self.bar_ms,
            tiers=self.tiers,
        )  # fmt: skip

    def as_dict(self) -> dict[str, NDArray]:
        return {k: getattr(self, k) for k in
                ("open", "high", "low", "close", "atr", "entry", "streak", "oi_z", "funding")}  # fmt: skip


@dataclass(frozen=True)
class BacktestResult:
    """Metrics, plus the engine's trade rows and equity curve; the frames are built on first use."""

    metrics: dict[str, float]
    trade_rows: FloatArr = field(repr=False)
    curve: FloatArr = field(repr=False)
    in_position: NDArray[np.bool_] = field(repr=False)
    ts: NDArray[np.int64] | None = field(repr=False)
    params: TradeParams = field(repr=False)

    @cached_property
    def trades(self) -> pl.DataFrame:
        """One row per trade: bars, prices, qty, stop, target, liquidation price, pnl, fees,
        funding, risk, reason, equity after, R multiple (and entry/exit ts when known)."""
        return trades_frame(self.trade_rows, self.ts)

    @cached_property
    def equity(self) -> pl.DataFrame:
        """Equity at every bar's close (mark to market) and whether a position was held."""
        cols = {
            "bar": np.arange(self.curve.size),
            "equity": self.curve,
            "in_position": self.in_position,
        }
        return pl.DataFrame({"ts": self.ts, **cols} if self.ts is not None else cols)


def engine_args(x: BacktestInputs, p: TradeParams) -> tuple:
    """The positional arguments of :func:`engine.run_core` before the window bounds."""
    formula, tiers, mfee, in_base = margin_table(x.tiers, p)
    return (
        x.open, x.high, x.low, x.close, x.atr, x.entry, x.streak, x.oi_z, x.funding,
        p.side.sign, p.risk, p.scale_by_oi, p.effective_leverage, formula, tiers, mfee, in_base,
        p.fee, p.slippage,
        p.stop_lookback, p.stop_atr, p.use_stop, p.take_profit_r, p.time_stop, p.thesis_streak,
        p.entry_bar_stops, p.initial_equity,
    )  # fmt: skip


def run_backtest(x: BacktestInputs, p: TradeParams | None = None) -> BacktestResult:
    """Run the numba engine with recording on and build the trade list, curve and metrics."""
    p = p or TradeParams()
    trades = np.empty((x.n + 1, eng.N_TCOLS))  # at most one trade per bar; rows [:nt] written
    curve = np.empty(x.n)
    inpos = np.empty(x.n, dtype=np.bool_)
    summ, nt = eng.run_core(*engine_args(x, p), 0, x.n, True, trades, curve, inpos)  # type: ignore[call-arg]
    rows = trades[:nt]
    funding = rows[:, eng.T_FUNDING]
    metrics = metrics_from_summary(summ, x.n, x.bars_per_year, p.initial_equity)
    metrics["funding_received"] = float(funding[funding > 0].sum())
    metrics["funding_paid"] = float(-funding[funding < 0].sum()) + 0.0
    metrics["liquidations"] = float((rows[:, eng.T_REASON] == ExitReason.LIQUIDATION).sum())
    return BacktestResult(metrics, rows, curve, inpos, x.ts, p)


_TRADE_COLS = ("entry_bar", "exit_bar", "entry_price", "exit_price", "qty", "stop", "target",
               "liq_price", "pnl", "fees", "funding", "risk", "reason", "equity_after")  # fmt: skip
_REASON_LABELS = np.array(["", *(r.label for r in ExitReason)], dtype=object)


def trades_frame(rows: FloatArr, ts: NDArray[np.int64] | None = None) -> pl.DataFrame:
    """The engine's trade table as a frame with named reasons, R multiples and timestamps."""
    data: dict[str, object] = {c: rows[:, i] for i, c in enumerate(_TRADE_COLS)}
    entry_bar = rows[:, 0].astype(np.int64)
    exit_bar = rows[:, 1].astype(np.int64)
    data["entry_bar"], data["exit_bar"] = entry_bar, exit_bar
    data["reason"] = pl.Series(_REASON_LABELS[rows[:, 12].astype(np.int64)], dtype=pl.String)
    with np.errstate(divide="ignore", invalid="ignore"):
        data["r_multiple"] = rows[:, 8] / rows[:, 11]
    if ts is not None:
        data["entry_ts"], data["exit_ts"] = ts[entry_bar], ts[exit_bar]
    return pl.DataFrame(data)


def metrics_from_summary(
    summ: FloatArr, n: int, bars_per_year: float, equity0: float
) -> dict[str, float]:
    """Metrics from the engine's online summary (the same numbers for one run and for a sweep).

    Sharpe ``mean(r) / std(r, ddof=1) x sqrt(bars/year)`` and Sortino ``mean(r) / sqrt(mean(min(r,
    0)²)) x sqrt(bars/year)`` of the bar-to-bar equity returns ``r``.
    """
    summ = summ.tolist()  # plain floats: no numpy FP traps on tiny powers
    final = summ[eng.S_FINAL]
    k = summ[eng.S_NRET]
    nt = summ[eng.S_NTRADES]
    mean = summ[eng.S_SUM_R] / k if k else math.nan
    var = (summ[eng.S_SUM_R2] - k * mean * mean) / (k - 1) if k > 1 else math.nan
    down = math.sqrt(summ[eng.S_SUM_DOWN2] / k) if k else math.nan
    ann = math.sqrt(bars_per_year)
    growth = final / equity0
    return {
        "total_return": growth - 1.0,
        "annual_return": math.expm1(min(700.0, bars_per_year / n * math.log(growth)))
        if growth > 0 and n
        else -1.0,
        "sharpe": mean / math.sqrt(var) * ann if var and var > 0 else math.nan,
        "sortino": mean / down * ann if down and down > 0 else math.nan,
        "max_drawdown": summ[eng.S_MAXDD],
        "trades": nt,
        "win_rate": summ[eng.S_WINS] / nt if nt else math.nan,
        "profit_factor": summ[eng.S_GROSS_WIN] / summ[eng.S_GROSS_LOSS]
        if summ[eng.S_GROSS_LOSS] > 0
        else math.nan,
        "expectancy_r": summ[eng.S_SUM_RMULT] / nt if nt else math.nan,
        "exposure": summ[eng.S_BARS_IN] / n if n else math.nan,
        "fees": summ[eng.S_FEES],
        "funding_net": summ[eng.S_FUNDING],
        "final_equity": final,
    }


def inputs_from_frame(
    frame: pl.DataFrame, entry: str | NDArray[np.bool_], *, side: Side = Side.SHORT,
    bar_ms: int = DAY_MS, tiers: TierTable | None = None,
) -> BacktestInputs:  # fmt: skip
    """Build inputs from a bar frame with features (``atr_14``, ``oi_z_30d``, ``oi_up_streak`` or
    ``oi_down_streak``, ``funding_rate``). Missing optional columns mean: no OI scaling, no thesis
    exit, no funding; a missing ``atr_14`` is an error (the stop needs it)."""
    for col in ("open", "high", "low", "close", "atr_14"):
        if col not in frame.columns:
            raise InputError(
                f"the bar frame lacks column {col!r}; compute features first", column=col
            )

    def f64(col: str, default: float) -> FloatArr:
        if col not in frame.columns:
            return np.full(frame.height, default)
        return frame[col].cast(pl.Float64).fill_null(default).to_numpy().astype(np.float64)

    ent = frame[entry].fill_null(False).to_numpy() if isinstance(entry, str) else entry
    streak_col = "oi_up_streak" if side == Side.SHORT else "oi_down_streak"
    return BacktestInputs(
        open=f64("open", np.nan), high=f64("high", np.nan), low=f64("low", np.nan),
        close=f64("close", np.nan), atr=f64("atr_14", np.nan), entry=np.asarray(ent, dtype=np.bool_),
        streak=f64(streak_col, 0.0), oi_z=f64("oi_z_30d", np.nan), funding=f64("funding_rate", 0.0),
        ts=frame["ts"].to_numpy().astype(np.int64) if "ts" in frame.columns else None, bar_ms=bar_ms,
        tiers=tiers,
    )  # fmt: skip


def inputs_from_features(
    features: pl.DataFrame, entry: NDArray[np.bool_], *, side: Side = Side.SHORT,
    bar_ms: int = DAY_MS, tiers: TierTable | None = None,
) -> BacktestInputs:  # fmt: skip
    """Inputs from a feature frame on the regular grid and the entry mask aligned with its rows.

    Bars missing from the grid become flat bars at the previous close (no trading information, no
    signal); the rows before the first close are dropped.
    """
    f = features.with_columns(pl.Series("_entry", entry, dtype=pl.Boolean),
                              pl.col("close").forward_fill().alias("_c"))  # fmt: skip
    flat = pl.col("open").is_null()
    f = f.with_columns(
        [pl.when(flat).then(pl.col("_c")).otherwise(pl.col(c)).alias(c)
         for c in ("open", "high", "low", "close")]
    ).filter(pl.col("close").is_not_null())  # fmt: skip
    return inputs_from_frame(f, "_entry", side=side, bar_ms=bar_ms, tiers=tiers)
