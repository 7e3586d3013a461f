"""The evidence for people: the event-study table, the verdicts, a backtest, a sweep."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from oiradar.render.console import say
from oiradar.render.formats import OutFormat, money, number, percent, ratio, settle_unit
from oiradar.render.tables import Kind, as_data, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.backtest import BacktestReport, SweepReport
    from oiradar.app.study import StudyReport

FRACTION_METRICS = ("total_return", "annual_return", "max_drawdown", "win_rate", "exposure")
RATIO_METRICS = ("sharpe", "sortino", "profit_factor", "expectancy_r")
MONEY_METRICS = ("fees", "funding_net", "final_equity", "funding_received", "funding_paid")
TRADE_KEY = ("entry_ts", "exit_ts", "entry_price", "exit_price", "reason", "pnl", "r_multiple")
TRADE_HEADERS = {"entry_ts": "entry", "exit_ts": "exit", "entry_price": "price in",
                 "exit_price": "price out", "r_multiple": "R"}  # fmt: skip


def _rate(row: dict[str, Any], k: str) -> str:
    """``73.3% [48.0, 89.1]``: a rate with its interval, in percent."""
    v, lo, hi = row.get(k), row.get(f"{k}_low"), row.get(f"{k}_high")
    if v is None:
        return "n/a"
    return (
        percent(v) if lo is None or hi is None else f"{percent(v)} [{100 * lo:.1f}, {100 * hi:.1f}]"
    )


def _lift(row: dict[str, Any], k: str) -> str:
    """``+7.4 [-12.9, +26.6]``: a difference of rates in percentage points, with its interval."""
    v, lo, hi = row.get(k), row.get(f"{k}_low"), row.get(f"{k}_high")
    if v is None:
        return "n/a"
    return (
        f"{100 * v:+.1f}"
        if lo is None or hi is None
        else f"{100 * v:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"
    )


def study_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per study, each value as people read it (rates in %, lifts in points)."""
    p = [None if r["p_near_high"] is None else f"{r['p_near_high']:.3g}" for r in rows]
    return pl.DataFrame({
        "series": [f"{r['exchange']} {r['symbol']}" for r in rows],
        "signal": [f"{r['signal']}/{r['side']}" for r in rows],
        "events": [r["events"] for r in rows],
        "reversal rate": [_rate(r, "rate") for r in rows],
        "base all": [percent(r["base_all"]) for r in rows],
        "base matched": [percent(r["base_matched"]) for r in rows],
        "base near_high": [percent(r["base_near_high"]) for r in rows],
        "lift matched, pp": [_lift(r, "lift_matched") for r in rows],
        "lift near_high, pp": [_lift(r, "lift_near_high") for r in rows],
        "p (near_high)": [v or "n/a" for v in p],
    }, schema_overrides={"events": pl.Int64})  # fmt: skip


STUDY_KEY = ("series", "signal", "events", "reversal rate", "lift near_high, pp", "p (near_high)")
VERDICT_KEY = ("series", "as stated", "measured", "verdict")


def show_study(report: StudyReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: pl.DataFrame(report.studies)):
        return
    cfg = report.config
    show(study_frame(report.studies), title=f"Event study ({report.timeframe}, H={cfg.horizon})",
         key=STUDY_KEY, wide=wide, same=("series",))  # fmt: skip
    show(report.verdicts, title="Verdicts", key=VERDICT_KEY, wide=wide, same=("series",))
    say(f"Rates are triple-barrier ({cfg.width:g} ATR, {cfg.horizon} bars) with Wilson "
        f"{cfg.conf:.0%} intervals; lift = rate - baseline rate in percentage points, with a "
        f"block-bootstrap interval; fewer than {cfg.min_events} events is 'insufficient data'.")  # fmt: skip


def metric_text(name: str, value: float | None, unit: str) -> str:
    """A backtest metric as people read it: returns in %, money with its unit, ratios 2 decimals."""
    if value is None:
        return "n/a"
    if name in FRACTION_METRICS:
        return percent(value, 2)
    if name in MONEY_METRICS:
        return money(value, unit, 2)
    if name in RATIO_METRICS:
        return ratio(value)
    return number(int(value) if float(value).is_integer() else value)


def show_backtest(report: BacktestReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: report.trades):
        return
    unit = settle_unit(report.key.symbol)
    metrics = pl.DataFrame({"metric": list(report.metrics),
                            "value": [metric_text(k, v, unit) for k, v in report.metrics.items()]})  # fmt: skip
    show(metrics, title=f"Backtest {report.key} ({report.signal}/{report.side})", right=("value",))
    trades = report.trades
    if trades.height:
        last = trades.tail(10)
        show(last, title=f"Last {last.height} of {trades.height} trades", key=TRADE_KEY, wide=wide,
             kinds={"pnl": _amount, "funding": _amount, "fees": _amount, "r_multiple": Kind.RATIO},
             headers={**TRADE_HEADERS, "pnl": f"pnl {unit}", "funding": f"funding {unit}",
                      "fees": f"fees {unit}"})  # fmt: skip


def _amount(v: float) -> str:
    return f"{v:,.2f}"


SWEEP_FRACTIONS = {"total_return": Kind.FRACTION, "max_drawdown": Kind.FRACTION,
                   "win_rate": Kind.FRACTION}  # fmt: skip


def show_sweep(report: SweepReport, fmt: OutFormat, top: int, wide: bool = False) -> None:
    table, spec = report.table, report.spec
    if as_data(fmt, report.to_dict, lambda: table):
        return
    varied = [c for c in table.columns if c in spec.params or c.startswith("signal.")]
    key = ["series", "config", *varied, spec.metric, "total_return", "trades", "p_bh", "discovery"]
    best = table.sort(spec.metric, descending=True, nulls_last=True).head(top)
    show(best, title=f"Top {top} of {table.height} configurations (development part)", key=key,
         wide=wide, kinds=SWEEP_FRACTIONS)  # fmt: skip
    for key_, r in report.results:
        show(
            r.walk_forward,
            title=f"Walk-forward {key_}",
            wide=wide,
            kinds={"test_total_return": Kind.FRACTION},
        )
        ho = r.holdout
        hold = (f"return {percent(ho['total_return'], 2)}, Sharpe {ho['sharpe']:.2f}, "
                f"trades {ho['trades']:.0f}") if ho else "none (no hold-out bars)"  # fmt: skip
        say(f"{key_}: best config #{r.best}; deflated Sharpe ratio {r.dsr:.3f} over {r.n_trials} "
            f"trials; hold-out (run once): {hold}")  # fmt: skip
    say(f"Discoveries (Benjamini-Hochberg, q={spec.q:g}): {int(table['discovery'].sum())}")


__all__ = ["metric_text", "show_backtest", "show_study", "show_sweep", "study_frame"]
