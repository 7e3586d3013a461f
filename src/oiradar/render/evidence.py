"""The evidence for people: the event-study table, the verdicts, a backtest, a sweep."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import polars as pl

from oiradar.render.console import say
from oiradar.render.formats import OutFormat, money, number, percent, ratio, settle_unit
from oiradar.render.tables import Kind, as_data, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.backtest import BacktestReport, SweepReport
    from oiradar.app.study import PooledReport, StudyReport

FRACTION_METRICS = ("total_return", "annual_return", "max_drawdown", "win_rate", "exposure")
RATIO_METRICS = ("sharpe", "sortino", "profit_factor", "expectancy_r")
MONEY_METRICS = ("fees", "funding_net", "final_equity", "funding_received", "funding_paid")
TRADE_KEY = ("entry_ts", "exit_ts", "entry_price", "exit_price", "reason", "pnl", "r_multiple")
TRADE_HEADERS = {"entry_ts": "entry", "exit_ts": "exit", "entry_price": "price in",
                 "exit_price": "price out", "r_multiple": "R"}  # fmt: skip


def _interval(v: float | None, lo: float | None, hi: float | None, *, points: bool = False) -> str:
    """``73.3%`` over ``[48.0, 89.1]`` (a rate), or ``+7.4`` over ``[-12.9, +26.6]`` (percentage
    points): the estimate and its interval on two lines; the estimate alone without one."""
    if v is None:
        return "n/a"
    head = f"{100 * v:+.1f}" if points else percent(v)
    if lo is None or hi is None:
        return head
    fmt = "+.1f" if points else ".1f"
    return f"{head}\n[{100 * lo:{fmt}}, {100 * hi:{fmt}}]"


def _cell(row: dict[str, Any], k: str, *, points: bool = False) -> str:
    return _interval(row.get(k), row.get(f"{k}_low"), row.get(f"{k}_high"), points=points)


def _lift(row: dict[str, Any], b: str) -> str:
    """The lift over baseline ``b`` in points with its interval; none below 10 events."""
    if row.get(f"lift_{b}") is not None and row.get(f"lift_{b}_low") is None:
        return f"{100 * row[f'lift_{b}']:+.1f}\nn too small"
    return _cell(row, f"lift_{b}", points=True)


def _fwd(row: dict[str, Any], h: int) -> str:
    if row.get(f"fwd_{h}") is not None and row.get(f"fwd_{h}_low") is None:
        return f"{percent(row[f'fwd_{h}'])}\nn too small"
    return _cell(row, f"fwd_{h}")


def _wlt(w: int | None, lo: int | None, t: int | None) -> str:
    return "n/a" if w is None or lo is None or t is None else f"{w:,}/{lo:,}/{t:,}"


def _p(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.3g}"


def study_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per study, each value as people read it (rates in %, lifts in points, each with its
    interval on a second line)."""
    data: dict[str, list[Any]] = {
        "series": [f"{r['exchange']} {r['symbol']}" for r in rows],
        "signal": [f"{r['signal']}/{r['side']}" for r in rows],
        "events": [r["events"] for r in rows],
        "W/L/T": [_wlt(r["wins"], r["losses"], r["timeouts"]) for r in rows],
        "counted": [r["counted"] for r in rows],
        "reversal rate": [_cell(r, "rate") for r in rows],
    }
    for b in BASELINE_NAMES:
        data[f"base {b}"] = [_cell(r, f"base_{b}") for r in rows]
    for b in BASELINE_NAMES:
        data[f"lift {b}, pp"] = [_lift(r, b) for r in rows]
        data[f"p {b}"] = [_p(r[f"p_{b}"]) for r in rows]
    return pl.DataFrame(data, schema_overrides={"events": pl.Int64, "counted": pl.Int64})


def baseline_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The baselines of every series and side: ``all`` and ``near_high`` once (their bars do not
    depend on the signal), ``matched`` per signal (weighted by that signal's events)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        series, side = f"{r['exchange']} {r['symbol']}", r["side"]
        for b in BASELINE_NAMES:
            name = f"matched to {r['signal']}" if b == "matched" else b
            out.setdefault((series, f"{name} ({side})"), {
                "series": series, "baseline": f"{name} ({side})", "bars": r[f"base_{b}_n"],
                "W/L/T": "n/a" if b == "matched" else _wlt(r[f"base_{b}_wins"],
                    r[f"base_{b}_losses"], r[f"base_{b}_timeouts"]),
                "reversal rate": _cell(r, f"base_{b}"),
            })  # fmt: skip
    schema = {"series": pl.String, "baseline": pl.String, "bars": pl.Int64, "W/L/T": pl.String,
              "reversal rate": pl.String}  # fmt: skip
    return pl.DataFrame(list(out.values()), schema=schema)


def forward_frame(rows: list[dict[str, Any]], horizons: tuple[int, ...]) -> pl.DataFrame:
    """Mean side-adjusted return after the events at each horizon, with its bootstrap interval."""
    data: dict[str, list[str]] = {
        "series": [f"{r['exchange']} {r['symbol']}" for r in rows],
        "signal": [f"{r['signal']}/{r['side']}" for r in rows],
    }
    for h in horizons:
        data[f"{h} bar{'s' if h != 1 else ''}"] = [_fwd(r, h) for r in rows]
    return pl.DataFrame(data)


BASELINE_NAMES = ("all", "near_high", "matched")
# the baselines have a table of their own (with --wide, here too)
STUDY_KEY = ("series", "signal", "events", "W/L/T", "reversal rate", "lift near_high, pp",
             "p near_high")  # fmt: skip
STUDY_HEADERS = {"p near_high": "p"}
VERDICT_KEY = ("series", "as stated", "measured", "q", "needed", "verdict")
TIMEOUT_TEXT = {"fail": "timeouts count as no reversal", "exclude": "timeouts left out of the rates",
                "sign": "a timeout counts by the sign of its return at H"}  # fmt: skip


def show_study(report: StudyReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: pl.DataFrame(report.studies)):
        return
    cfg, rows = report.config, report.studies
    rule = TIMEOUT_TEXT[str(cfg.timeouts)]
    show(study_frame(rows), title=f"Event study ({report.timeframe}, H={cfg.horizon}; {rule})",
         key=STUDY_KEY, wide=wide, same=("series",), headers=None if wide else STUDY_HEADERS,
         lines=True)  # fmt: skip
    show(baseline_frame(rows), title="Baselines: the same outcome without the signal", wide=wide,
         same=("series",), lines=True)  # fmt: skip
    show(forward_frame(rows, cfg.forward), title="Mean return after an event, side-adjusted",
         wide=wide, same=("series",), lines=True)  # fmt: skip
    show(report.verdicts, title="Verdicts", key=VERDICT_KEY, wide=wide, same=("series",),
         kinds={"p": _p, "q": _p, "needed": _needed}, lines=True)  # fmt: skip
    say(f"Outcomes are triple-barrier ({cfg.width:g} ATR, {cfg.horizon} bars): W/L/T = wins, "
        f"losses, timeouts ({rule}; --timeouts fail|exclude|sign). Rates have Wilson "
        f"{cfg.conf:.0%} intervals; lifts (rate - baseline, percentage points) and mean returns "
        f"block-bootstrap ones, none below {report.min_interval_events} events. p: one-sided binomial "
        f"test; q: p adjusted by Benjamini-Hochberg over the whole verdict table; a claim is "
        f"supported when its lower bound clears the claim and q <= {cfg.alpha:g}; fewer than "
        f"{cfg.min_events} counted events is 'insufficient data'; needed: events to tell the "
        f"claimed rate from the base rate ({cfg.power:.0%} power, {cfg.alpha:.0%} level). "
        f"{MEASURES_TEXT if report.measures else ''}Definitions: docs/evidence.md.")  # fmt: skip


MEASURES_TEXT = (
    "The OI-turn exit (hold until OI turns against the trade) and the liquidations after a "
    "signal are means over its events, with block-bootstrap intervals; their p is the share of "
    "replicates at or below the claim (pooled: the z-test). "
)


POOLED_KEY = ("signal", "events", "W/L/T", "reversal rate", "lift near_high, pp",
              "p near_high", "deff")  # fmt: skip
POOLED_VERDICT_KEY = ("as stated", "events", "measured", "q", "needed", "symbol-years",
                      "verdict")  # fmt: skip
BREAKDOWN_KEY = ("series", "signal", "events", "W/L/T", "reversal rate", "base near_high",
                 "lift near_high, pp")  # fmt: skip
BREAKDOWN_HEADERS = {"reversal rate": "rate", "base near_high": "near_high",
                     "lift near_high, pp": "lift, pp"}  # fmt: skip


def pooled_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """One row per pooled (signal, side): counts, the rate and each lift with its two-way
    interval, p, the design effect and the effective events."""
    data: dict[str, list[Any]] = {
        "signal": [f"{r['signal']}/{r['side']}" for r in rows],
        "series": [r["series"] for r in rows],
        "events": [r["events"] for r in rows],
        "W/L/T": [_wlt(r["wins"], r["losses"], r["timeouts"]) for r in rows],
        "counted": [r["counted"] for r in rows],
        "reversal rate": [_cell(r, "rate") for r in rows],
    }
    for b in BASELINE_NAMES:
        data[f"lift {b}, pp"] = [_lift(r, b) for r in rows]
        data[f"p {b}"] = [_p(r[f"p_{b}"]) for r in rows]
    data["deff"] = [_deff(r["deff"]) for r in rows]
    data["effective"] = [_one(r["effective"]) for r in rows]
    data["symbol-years"] = [_one(r["symbol_years"]) for r in rows]
    schema = {"series": pl.Int64, "events": pl.Int64, "counted": pl.Int64}
    return pl.DataFrame(data, schema_overrides=schema)


def pooled_baseline_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The pooled baselines (``all``, ``near_high`` per side; ``matched`` per signal), each rate
    with its two-way interval."""
    return baseline_frame([{**r, "exchange": "pooled", "symbol": ""} for r in rows]).drop("series")


def pooled_verdict_frame(verdicts: pl.DataFrame) -> pl.DataFrame:
    """The pooled verdict table as people read it: events counted (effective), q, the events
    needed and the symbol-years needed (and observed)."""
    return verdicts.select(
        "claim", "as stated",
        pl.struct("events", "effective").map_elements(_events_text, return_dtype=pl.String)
        .alias("events"),
        "reversals", "measured", "baseline", "p", "q", "deff", "needed",
        pl.struct("years_needed", "years").map_elements(_years_text, return_dtype=pl.String)
        .alias("symbol-years"),
        "verdict",
    )  # fmt: skip


def _events_text(v: dict[str, Any]) -> str:
    eff = v["effective"]
    if eff is None or round(eff) >= v["events"]:
        return f"{v['events']:,}"
    return f"{v['events']:,}\n({eff:,.0f} eff.)"


def _years_text(v: dict[str, Any]) -> str:
    need = "n/a" if v["years_needed"] is None else f"{v['years_needed']:,.1f}"
    return f"{need}\n(have {v['years']:,.1f})"


def breakdown_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Each series' own study, one line per (series, signal): what ``oiradar study`` gives it."""

    def one(r: dict[str, Any], k: str) -> str:
        return percent(r.get(k)) if r.get(k) is not None else "n/a"

    return pl.DataFrame({
        "series": [f"{r['exchange']} {r['symbol']}" for r in rows],
        "timeframe": [r["timeframe"] for r in rows],
        "signal": [f"{r['signal']}/{r['side']}" for r in rows],
        "events": [r["events"] for r in rows],
        "W/L/T": [_wlt(r["wins"], r["losses"], r["timeouts"]) for r in rows],
        "counted": [r["counted"] for r in rows],
        "reversal rate": [one(r, "rate") for r in rows],
        **{f"base {b}": [one(r, f"base_{b}") for r in rows] for b in BASELINE_NAMES},
        **{f"lift {b}, pp": [_points(r.get(f"lift_{b}")) for r in rows] for b in BASELINE_NAMES},
    }, schema_overrides={"events": pl.Int64, "counted": pl.Int64})  # fmt: skip


def _points(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:+.1f}"


def _deff(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.2f}"


def _one(v: float | None) -> str:
    return "n/a" if v is None else f"{v:,.1f}"


def show_pooled(report: PooledReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: report.verdicts):
        return
    cfg, rows = report.config, report.pooled
    if not rows:
        say("Nothing pooled: no claim or --signal selects a signal to study.")
        return
    rule = TIMEOUT_TEXT[str(cfg.timeouts)]
    tfs = ", ".join(str(t) for t in report.timeframes)
    where = (f"{rows[0]['series']:,} series, {rows[0]['symbol_years']:,.1f} symbol-years, "
             f"{rows[0]['blocks']:,} blocks of {report.block_days:g} days")  # fmt: skip
    show(pooled_frame(rows), title=f"Pooled event study ({tfs}, H={cfg.horizon}; {rule}): {where}",
         key=POOLED_KEY, wide=wide, headers=None if wide else STUDY_HEADERS, lines=True)  # fmt: skip
    show(pooled_baseline_frame(rows), title="Pooled baselines: the same outcome without the signal",
         wide=wide, lines=True)  # fmt: skip
    show(pooled_verdict_frame(report.verdicts), title="Verdicts, pooled", key=POOLED_VERDICT_KEY,
         wide=wide, kinds={"p": _p, "q": _p, "needed": _needed, "deff": _deff},
         lines=True)  # fmt: skip
    show(breakdown_frame(report.series), title="Each series alone (what `oiradar study` gives it)",
         key=BREAKDOWN_KEY, wide=wide, headers=None if wide else BREAKDOWN_HEADERS)  # fmt: skip
    say(f"Pooled: counts and rates are totals over the series ({rule}); matched is each series' "
        f"own, weighted by its events. Intervals ({cfg.conf:.0%}) are two-way bootstrap ones, "
        f"resampling whole series and whole {report.block_days:g}-day calendar blocks (one move "
        f"seen on many venues is one event in time), none below {report.min_interval_events} "
        f"events. deff: the rate's variance over that of as many independent events; eff.: "
        f"events / deff. p: one-sided z-test with the two-way variance; q: Benjamini-Hochberg over "
        f"the table; supported when the lower bound clears the claim and q <= {cfg.alpha:g}; "
        f"fewer than {cfg.min_events} effective events is 'insufficient data'. needed: events to "
        f"tell the claimed rate from the base rate ({cfg.power:.0%} power, {cfg.alpha:.0%} "
        f"level); symbol-years: the data that holds them at the observed event rate, times deff. "
        f"{MEASURES_TEXT if report.measures else ''}Definitions: docs/evidence.md.")  # fmt: skip


def _needed(v: int | None) -> str:
    return "n/a" if v is None else f"{v:,}"


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
    exits = "" if report.exits == "model" else f", exit {report.exits}"
    show(metrics, title=f"Backtest {report.key} ({report.signal}/{report.side}{exits})",
         right=("value",))
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


__all__ = [
    "baseline_frame", "breakdown_frame", "forward_frame", "metric_text", "pooled_baseline_frame",
    "pooled_frame", "pooled_verdict_frame", "show_backtest", "show_pooled", "show_study",
    "show_sweep", "study_frame",
]  # fmt: skip
