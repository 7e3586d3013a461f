"""Simulator commands: ``simulate`` (a market into the catalog) and ``demo`` (a guided first run).

``run_demo`` is the demo as a function so later parts of the pipeline can extend it: append a
callable to :data:`DEMO_STEPS`; each receives the :class:`DemoRun` after the market is written.
"""

from __future__ import annotations

import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from oiradar.cli.context import console, fail, state
from oiradar.errors import OiradarError
from oiradar.model import SeriesKey
from oiradar.sim import SimResult, ground_truth_dir, simulate
from oiradar.store import Catalog

DEMO_SYMBOL = "KSM/USDT:USDT"
DEMO_EXCHANGE = "sim"


@dataclass
class DemoRun:
    """What the demo did; extension steps read it and may add lines to ``notes``."""

    catalog: Catalog
    key: SeriesKey
    result: SimResult
    console: Console
    summary: dict[str, Any]
    seconds: float
    notes: list[str] = field(default_factory=list)


DEMO_STEPS: list[Callable[[DemoRun], None]] = []


def add_demo_step(step: Callable[[DemoRun], None]) -> None:
    """Let a later stage of the pipeline show itself at the end of ``oiradar demo`` (once)."""
    if step not in DEMO_STEPS:
        DEMO_STEPS.append(step)


@contextmanager
def _progress(out: Console, label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar fed by the simulator's (done, total) callback."""
    columns = (TextColumn(label), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _simulate(out: Console, preset: str, days: int, seed: int, **kw: Any) -> SimResult:
    with _progress(out, f"simulating {days} days ({preset}, seed {seed})") as update:
        return simulate(preset, days=days, seed=seed, progress=update, **kw)


def summarise(catalog: Catalog, key: SeriesKey, result: SimResult) -> dict[str, Any]:
    """Figures read back from the catalog (what a user would see), plus regime counts."""
    cov = catalog.coverage().filter(
        (pl.col("exchange") == key.exchange)
        & (pl.col("symbol") == key.symbol)
        & (pl.col("timeframe") == key.timeframe.value)
    )
    bars = catalog.read_stored(key)
    liq = catalog.read_liquidations(key.exchange, key.symbol)
    fund = bars["funding_rate"].drop_nulls()
    regimes = (
        result.regimes.with_columns(
            pl.col("regime").ne(pl.col("regime").shift(1)).fill_null(True).alias("starts")
        )
        .group_by("regime")
        .agg(pl.len().alias("bars"), pl.col("starts").sum().alias("episodes"))
    )
    return {
        "coverage": cov.row(0, named=True) if cov.height else {},
        "price": (bars["low"].min(), bars["high"].max(), bars["close"][-1]),
        "oi": (bars["oi"].min(), bars["oi"].max()),
        "oi_value": (bars["oi_value"].min(), bars["oi_value"].max()),
        "volume_per_day": float(bars["quote_volume"].sum()) / max(1, result.params["days"]),
        "liquidations": {
            side: (
                int(liq.filter(pl.col("side") == side).height),
                float(liq.filter(pl.col("side") == side)["quote_qty"].sum()),
            )
            for side in ("long", "short")
        },
        "funding": (fund.min(), fund.max(), fund.mean(), fund.len()),
        "regimes": {r["regime"]: (r["bars"], r["episodes"]) for r in regimes.iter_rows(named=True)},
        "positions": result.positions.height,
    }


def run_demo(
    catalog: Catalog,
    *,
    days: int = 180,
    seed: int = 7,
    fresh: bool = False,
    out: Console | None = None,
) -> DemoRun:
    """Simulate a KSM-like market into ``catalog``, print a summary, then run :data:`DEMO_STEPS`.

    ``fresh``: empty the catalog and the ground truth first. The wipe and the write hold the
    catalog's write lock together, so another writer's data lands wholly before the wipe (and is
    wiped) or wholly after it (and is kept), never in between.
    """
    out = out or console
    t0 = time.perf_counter()
    result = _simulate(out, "ksm", days, seed)
    key = result.key(DEMO_EXCHANGE, DEMO_SYMBOL)
    with catalog.lock():
        if fresh:
            catalog.reset()
            shutil.rmtree(catalog.home / "sim", ignore_errors=True)
        result.write(catalog, DEMO_EXCHANGE, DEMO_SYMBOL, replace=True)
    run = DemoRun(
        catalog=catalog, key=key, result=result, console=out,
        summary=summarise(catalog, key, result), seconds=time.perf_counter() - t0,
    )  # fmt: skip
    print_summary(run)
    for step in DEMO_STEPS:
        step(run)
    print_next_steps(run)
    return run


def _money(x: float) -> str:
    return f"${x / 1e6:,.1f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def print_summary(run: DemoRun) -> None:
    s, out, base = run.summary, run.console, run.key.symbol.split("/")[0]
    cov = s["coverage"]
    table = Table(title=f"Simulated market: {run.key}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    first, last = (_fmt_ts(cov.get("first_ts")), _fmt_ts(cov.get("last_ts")))
    table.add_row("coverage", f"{first} .. {last} UTC, {cov.get('rows', 0):,} bars, "
                  f"{cov.get('missing_bars', 0)} missing")  # fmt: skip
    lo, hi, close = s["price"]
    table.add_row("price", f"{lo:,.2f} .. {hi:,.2f} (last close {close:,.2f})")
    table.add_row("open interest", f"{s['oi'][0]:,.0f} .. {s['oi'][1]:,.0f} {base}  "
                  f"({_money(s['oi_value'][0])} .. {_money(s['oi_value'][1])})")  # fmt: skip
    table.add_row("volume", f"{_money(s['volume_per_day'])} a day")
    for side, (n, notional) in s["liquidations"].items():
        table.add_row(f"liquidations ({side}s)", f"{n:,} events, {_money(notional)}")
    fmin, fmax, fmean, nf = s["funding"]
    table.add_row(
        "funding", f"{fmin:+.4%} .. {fmax:+.4%} per 8 h (mean {fmean:+.4%}, {nf} settlements)"
    )
    regimes = ", ".join(
        f"{r} {ep} ({bars:,} bars)" for r, (bars, ep) in sorted(s["regimes"].items())
    )
    table.add_row("regimes", regimes)
    table.add_row("ground truth", f"{s['positions']:,} positions in "
                  f"{ground_truth_dir(run.catalog, run.key.exchange, run.key.symbol)}")  # fmt: skip
    table.add_row("took", f"{run.seconds:.1f} s")
    out.print(table)


def print_next_steps(run: DemoRun) -> None:
    home = shlex.quote(str(run.catalog.home))
    sym = shlex.quote(run.key.symbol)
    lines = [
        *run.notes,
        "Next steps",
        f"  oiradar --home {home} list",
        f'  oiradar --home {home} sql "select timeframe, count(*) as bars, min(close), max(close),'
        " max(oi) from bars where exchange = 'sim' group by 1\"",
        f'  oiradar --home {home} sql "select side, count(*), sum(quote_qty) from liquidations'
        ' group by 1"',
        f"  oiradar --home {home} export -e sim -s {sym} -t 4h --out ksm_4h.csv",
    ]
    run.console.print("\n".join(lines), highlight=False, soft_wrap=True)


def _fmt_ts(ms: int | None) -> str:
    if ms is None:
        return "?"
    return pl.Series([ms]).cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%d %H:%M")[0]


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    def simulate_cmd(
        ctx: typer.Context,
        preset: Annotated[
            str | None, typer.Option("--preset", "-p", help="ksm, planted, null or btc.")
        ] = None,
        days: Annotated[int | None, typer.Option("--days", min=1)] = None,
        seed: Annotated[int | None, typer.Option("--seed")] = None,
        exchange: Annotated[str, typer.Option("--exchange", "-e")] = "sim",
        symbol: Annotated[
            str | None, typer.Option("--symbol", "-s", help="Default: the preset's symbol.")
        ] = None,
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "5m",
        start: Annotated[str, typer.Option("--start", help="First bar, UTC date.")] = "2024-01-01",
        replace: Annotated[
            bool, typer.Option("--replace", help="Overwrite a different simulation stored there.")
        ] = False,
    ) -> None:
        """Simulate a perpetual market (agent-based, seeded) and write it into the catalog."""
        st = state(ctx)
        cfg = st.settings.sim
        preset, days, seed = (
            preset or cfg.preset,
            days or cfg.days,
            cfg.seed if seed is None else seed,
        )
        try:
            t0 = time.perf_counter()
            res = _simulate(console, preset, days, seed, timeframe=timeframe, start=start)
            sim_s = time.perf_counter() - t0
            catalog = st.catalog
            with catalog.lock():  # the check, the clear and the writes: one step for other writers
                written = res.write(catalog, exchange, symbol, replace=replace)
        except OiradarError as exc:
            raise fail(exc) from None
        key = res.key(exchange, symbol)
        liq = res.liquidations
        n_long = int((liq["side"] == "long").sum())
        lo, hi = res.bars["low"].to_numpy().min(), res.bars["high"].to_numpy().max()
        oi = res.bars["oi"].to_numpy()
        console.print(
            f"Simulated {key}: {res.bars.height:,} bars, {res.positions.height:,} positions, "
            f"{liq.height:,} liquidations ({n_long:,} long, {liq.height - n_long:,} short) "
            f"in {sim_s:.1f} s; "
            f"{written.bars.rows_added:,} bars added, {written.bars.rows_changed:,} changed.\n"
            f"price {lo:,.2f} .. {hi:,.2f}, OI {oi.min():,.0f} .. {oi.max():,.0f} (base), "
            f"ground truth in {ground_truth_dir(st.catalog, exchange, key.symbol)}",
            highlight=False,
            soft_wrap=True,
        )

    @app.command("demo")
    def demo_cmd(
        ctx: typer.Context,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="First delete <home>/catalog and <home>/sim.")
        ] = False,
        days: Annotated[int, typer.Option("--days", min=1)] = 180,
        seed: Annotated[int, typer.Option("--seed")] = 7,
    ) -> None:
        """Simulate a KSM-like market into the catalog and show what is there."""
        try:
            run_demo(state(ctx).catalog, days=days, seed=seed, fresh=fresh)
        except OiradarError as exc:
            raise fail(exc) from None
