"""Evidence commands: ``study`` (event study + verdict table), ``backtest`` and ``sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.render.formats import OutFormat

Signal = Annotated[str, typer.Option("--signal", help="Entry signal.")]
RAY_ADDRESS_HELP = (
    "Ray cluster address (ray executor). Without it Ray runs on this machine and listens on "
    "127.0.0.1 only; with it the data and the work go to that cluster, and this process listens "
    "on the network so the cluster can reach it: use only a cluster on a network you trust "
    "(Ray's ports take commands from anyone)."
)


commands = CommandSet()


@commands.add("study")
def study_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: o.Tf = "4h",
    signal: Annotated[list[str] | None, typer.Option("--signal", help="Signal(s) to study (default: the claims').")] = None,
    side: o.SideOpt = "short", prices: o.Prices = None,
    horizon: Annotated[int | None, typer.Option(help="Barrier horizon H in bars.")] = None,
    reps: Annotated[int | None, typer.Option(help="Bootstrap replicates.")] = None,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Event study of each signal and the verdict table of the seed's and your claims."""
    from oiradar.app.study import StudyOptions, run_studies
    from oiradar.render.evidence import show_study

    opts = StudyOptions(o.timeframe(timeframe), exchange, symbol, tuple(signal or ()),
                        o.side(side), o.market(prices), horizon, reps)  # fmt: skip
    show_study(run_studies(session(ctx), opts), o.out_format(fmt, as_json), wide)


@commands.add("backtest")
def backtest_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: o.Tf = "4h", signal: Signal = "entry", side: o.SideOpt = "short",
    prices: o.Prices = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Trade parameter KEY=VALUE (repeatable).")] = None,
    trades: Annotated[Path | None, typer.Option("--trades", help="Write the trade list (.csv/.parquet).")] = None,
    equity: Annotated[Path | None, typer.Option("--equity", help="Write the equity curve (.csv/.parquet).")] = None,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Backtest the SPEC section 4 trade model on one series."""
    from oiradar.app.backtest import BacktestOptions, backtest
    from oiradar.render.console import say
    from oiradar.render.evidence import show_backtest
    from oiradar.render.tables import write_frame

    opts = BacktestOptions(o.timeframe(timeframe), exchange, symbol, signal, o.side(side),
                           o.market(prices), o.params(param or []))  # fmt: skip
    report = backtest(session(ctx), opts)
    for path, frame, option in ((trades, report.trades, "--trades"),
                                (equity, report.equity, "--equity")):  # fmt: skip
        if path is not None:
            write_frame(frame, path, option)
            say(f"Wrote {frame.height:,} rows to {path}", err=True)  # stdout may be JSON
    show_backtest(report, o.out_format(fmt, as_json), wide)


@commands.add("sweep")
def sweep_cmd(
    ctx: typer.Context,
    grid: Annotated[Path, typer.Option("--grid", help="Grid TOML: [params], [signals], folds, holdout, metric.")],
    exchange: o.Exchange = None, symbol: o.Symbol = None, timeframe: o.Tf = "4h",
    signal: Signal = "entry", side: o.SideOpt = "short", prices: o.Prices = None,
    executor: Annotated[str, typer.Option(help="local (processes), threads or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help=RAY_ADDRESS_HELP)] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: CPU count).")] = None,
    top: Annotated[int, typer.Option(help="Rows of the grid table to show.")] = 10,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Sweep trade (and signal) parameters with walk-forward splits and a final hold-out."""
    from oiradar.app.backtest import SweepOptions, sweep
    from oiradar.render.evidence import show_sweep

    opts = SweepOptions(grid, o.timeframe(timeframe), exchange, symbol, signal, o.side(side),
                        o.market(prices), executor, workers, address)  # fmt: skip
    show_sweep(sweep(session(ctx), opts), o.out_format(fmt, as_json), top, wide)
