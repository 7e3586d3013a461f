"""``oiradar demo`` and ``oiradar simulate`` for people: the market, then each step's table, then
the commands to go on with (each step names its own)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

import polars as pl
from rich.table import Table

from oiradar.model import Timeframe
from oiradar.render.console import say, table_console
from oiradar.render.formats import iso, percent, short_money
from oiradar.render.liq import show_band
from oiradar.render.tables import Kind, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.sim import DemoReport, SimReport, UniverseReport

CLAIMS_KEY = ("as stated", "measured", "verdict")


def market_table(report: DemoReport) -> Table:
    s, base = report.summary, report.key.symbol.split("/")[0]
    cov = s.coverage
    table = Table(title=f"Simulated market: {report.key}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    span = f"{iso(cov.get('first_ts')) or '?'} .. {iso(cov.get('last_ts')) or '?'} UTC"  # type: ignore[arg-type]
    table.add_row(
        "coverage", f"{span}, {cov.get('rows', 0):,} bars, {cov.get('missing_bars', 0)} missing"
    )
    lo, hi, close = s.price
    table.add_row("price", f"{lo:,.2f} .. {hi:,.2f} (last close {close:,.2f})")
    table.add_row("open interest", f"{s.oi[0]:,.0f} .. {s.oi[1]:,.0f} {base}  "
                  f"({short_money(s.oi_value[0])} .. {short_money(s.oi_value[1])})")  # fmt: skip
    table.add_row("volume", f"{short_money(s.volume_per_day)} a day")
    for side, (n, notional) in s.liquidations.items():
        table.add_row(f"liquidations ({side}s)", f"{n:,} events, {short_money(notional)}")
    fmin, fmax, fmean, nf = s.funding
    table.add_row("funding", f"{percent(fmin, 4, sign=True)} .. {percent(fmax, 4, sign=True)} per "
                  f"8 h (mean {percent(fmean, 4, sign=True)}, {nf} settlements)")  # fmt: skip
    regimes = ", ".join(f"{r} {ep} ({bars:,} bars)" for r, (bars, ep) in sorted(s.regimes.items()))
    table.add_row("regimes", regimes)
    table.add_row("ground truth", f"{s.positions:,} positions in {report.ground_truth}")
    table.add_row("took", f"{report.seconds:.1f} s")
    return table


def show_step(name: str, report: DemoReport, wide: bool = False) -> None:
    """Print what step ``name`` added to ``report`` (on_step of :func:`oiradar.app.sim.run_demo`)."""
    if name == "market":
        table_console().print(market_table(report))
    elif name == "signal" and report.signals is not None:
        key = report.key.with_timeframe(Timeframe.H4)
        show(report.signals, title=f"Signals on the demo market ({key}), default settings",
             kinds={"last": Kind.TIME})  # fmt: skip
    elif name == "evidence" and report.claims is not None:
        key = report.key.with_timeframe(Timeframe.H4)
        show(report.claims, title=f"The claims of docs/evidence.md on the demo market ({key})", key=CLAIMS_KEY,
             wide=wide)  # fmt: skip
    elif name == "liquidation-map" and report.cascade is not None:
        snap, key = report.cascade, report.key.with_timeframe(Timeframe.H1)
        show_band(snap.band, snap.mixes, wide=wide, title=(
            f"ESTIMATED cascade on the demo market ({key}, price {snap.price:.4g}): liquidated "
            f"USD if price moved, band over {', '.join(snap.mixes)}"))  # fmt: skip


def next_steps(report: DemoReport) -> list[str]:
    """Each step's follow-up commands (or the note that it was skipped), then the catalog's."""
    home, key = shlex.quote(str(report.home)), report.key
    cmd = f"  oiradar --home {home}"
    sym = shlex.quote(key.symbol)
    lines = [*report.skipped]
    if report.signals is not None:
        lines += ["Signals (docs/analysis.md)",
                  f"{cmd} scan -t 4h --signal divergence --signal entry",
                  f"{cmd} features -e {key.exchange} -s {key.symbol} -t 4h",
                  f"{cmd} scan --mtf -s {key.symbol}"]  # fmt: skip
    if report.claims is not None:
        lines += ["Evidence (docs/evidence.md)", f"{cmd} study -t 4h",
                  f"{cmd} backtest -t 4h --trades trades.csv"]  # fmt: skip
    if report.cascade is not None:
        lines += ["Liquidation map (docs/liquidations.md)",
                  f"{cmd} liqmap -e {key.exchange} -s {key.symbol} -t 1h",
                  f"{cmd} liqmap -e {key.exchange} -s {key.symbol} -t 1h --score"]  # fmt: skip
    return [*lines, "Next steps", f"{cmd} list",
            f'{cmd} sql "select timeframe, count(*) as bars, min(close), max(close), max(oi) from '
            "bars where exchange = 'sim' group by 1\"",
            f'{cmd} sql "select side, count(*), sum(quote_qty) from liquidations group by 1"',
            f"{cmd} export -e sim -s {sym} -t 4h --out ksm_4h.csv"]  # fmt: skip


def show_next_steps(report: DemoReport) -> None:
    say("\n".join(next_steps(report)))


def show_simulated(report: SimReport) -> None:
    res, w = report.result, report.written
    liq = res.liquidations
    n_long = int((liq["side"] == "long").sum())
    lo, hi = res.bars["low"].to_numpy().min(), res.bars["high"].to_numpy().max()
    oi = res.bars["oi"].to_numpy()
    say(f"Simulated {report.key}: {res.bars.height:,} bars, {res.positions.height:,} positions, "
        f"{liq.height:,} liquidations ({n_long:,} long, {liq.height - n_long:,} short) in "
        f"{report.seconds:.1f} s; {w.bars.rows_added:,} bars added, {w.bars.rows_changed:,} "
        f"changed.\nprice {lo:,.2f} .. {hi:,.2f}, OI {oi.min():,.0f} .. {oi.max():,.0f} (base), "
        f"ground truth in {report.ground_truth}")  # fmt: skip


UNIVERSE_TABLE_MAX = 12  # symbols listed one by one; larger universes print the totals only


def universe_lines(report: UniverseReport) -> list[str]:
    """What ``simulate --universe`` wrote: the universe, its crashes, the planted edge, where the
    ground truth is."""
    spec, f = report.spec, report.symbols
    names = spec.names
    span = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
    edge = "no edge planted" if spec.edge is None else (
        f"reversal rate {spec.edge:g} planted after divergence"
        + ("" if spec.edge_share >= 1 else f" on {spec.edge_share:.0%} of the symbols, 0.5 on the rest"))  # fmt: skip
    lines = [
        f"Simulated a universe of {spec.symbols:,} on {report.exchange} ({span}): {spec.days} days of "
        f"{spec.timeframe.value} from {iso(spec.start)} UTC, preset {spec.preset}, seed {spec.seed}, "
        f"correlation {spec.correlation:g}, {edge}; {report.seconds:.1f} s, "
        f"{int(f['added'].sum()):,} bars added, {int(f['changed'].sum()):,} changed.",
    ]  # fmt: skip
    for c in report.crashes.iter_rows(named=True):
        lines.append(f"crash at {iso(c['ts'])} UTC ({c['hours']} h): hit {c['symbols']} of "
                     f"{spec.symbols} symbols")  # fmt: skip
    if spec.edge is not None:
        n, k = int(f["events"].sum()), int(f["reversals"].sum())
        share = f" ({k / n:.1%})" if n else ""
        lines.append(f"planted: {n:,} divergence events the study will count, {k:,} reversals{share}")
    lines.append(f"ground truth in {report.ground_truth}/U*-USDT-USDT")
    return lines


def show_universe(report: UniverseReport) -> None:
    say("\n".join(universe_lines(report)))
    if report.symbols.height <= UNIVERSE_TABLE_MAX:
        cols = ["symbol", "beta", "edge", "bars", "liquidations", "events", "reversals", "crashes"]
        show(report.symbols.select(cols).with_columns(pl.col("beta").round(2)),
             title="Symbols of the universe", wide=True)  # fmt: skip


__all__ = [
    "market_table",
    "next_steps",
    "show_next_steps",
    "show_simulated",
    "show_step",
    "show_universe",
    "universe_lines",
]
