"""Evidence commands: ``study`` (event study + verdict table), ``backtest`` and ``sweep``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import OutFormat

if TYPE_CHECKING:
    import polars as pl

    from oiradar.config import TimeoutRule
    from oiradar.model import SeriesKey, Timeframe

Signal = Annotated[str, typer.Option("--signal", help="Entry signal.")]
RAY_ADDRESS_HELP = o.RAY_ADDRESS_HELP


TIMEOUTS_HELP = (
    "How an event that touches neither barrier counts: fail (no reversal), exclude (left out of "
    "the rate) or sign (a reversal when the return at the horizon is in favour). Default: "
    "timeouts in the evidence section of oiradar.toml, else exclude."
)


commands = CommandSet()


def timeout_rule(text: str | None) -> TimeoutRule | None:
    """``--timeouts fail|exclude|sign`` -> the rule (None: the configuration's)."""
    if text is None:
        return None
    from oiradar.config import TimeoutRule

    try:
        return TimeoutRule(text.strip().lower())
    except ValueError:
        rules = ", ".join(r.value for r in TimeoutRule)
        raise InputError(f"--timeouts must be one of {rules}, got {text!r}") from None


@commands.add("study")
def study_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: o.Tf = "4h",
    signal: Annotated[list[str] | None, typer.Option("--signal", help="Signal(s) to study (default: the claims').")] = None,
    side: o.SideOpt = "short", prices: o.Prices = None, from_tf: o.FromTf = None,
    margin: o.MarginOpt = "all",
    horizon: Annotated[int | None, typer.Option(help="Barrier horizon H in bars.")] = None,
    reps: Annotated[int | None, typer.Option(help="Bootstrap replicates.")] = None,
    timeouts: Annotated[str | None, typer.Option(help=TIMEOUTS_HELP)] = None,
    pooled: Annotated[bool, typer.Option("--pooled", help=POOLED_HELP)] = False,
    with_total: Annotated[bool, typer.Option("--with-total", help=TOTAL_HELP)] = False,
    block_days: Annotated[float | None, typer.Option("--block-days", help=BLOCK_HELP)] = None,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
    batch_size: o.BatchSize = None, executor: o.ExecutorOpt = None,
    address: Annotated[str | None, typer.Option("--address", help=RAY_ADDRESS_HELP)] = None,
) -> None:  # fmt: skip
    """Event study of each signal and the verdict table of the built-in and your claims (each
    series alone; --pooled: all of them together)."""
    from oiradar.app.study import StudyOptions, pooled_study, run_studies
    from oiradar.render.evidence import show_pooled, show_study
    from oiradar.render.notes import show_notes

    tfs = _timeframes(timeframe, pooled)
    if block_days is not None and not pooled:
        raise InputError("--block-days sets the pooled study's calendar blocks: add --pooled")
    for name, value in (("--batch-size", batch_size), ("--executor", executor),
                        ("--address", address)):  # fmt: skip
        if value is not None and not pooled:
            raise InputError(f"{name} batches the pooled study's series: add --pooled (each "
                             "series alone is studied one at a time already)")  # fmt: skip
    if with_total and pooled:
        raise InputError("--with-total studies the summed OI beside each venue; pooling both "
                         "would count every move twice: pool the sums alone with --exchange all")
    opts = StudyOptions(tfs[0], exchange, symbol, tuple(signal or ()),
                        o.side(side), horizon, reps, timeout_rule(timeouts),
                        o.series(prices, from_tf, margin), with_total=with_total)  # fmt: skip
    if pooled:
        report = pooled_study(session(ctx), opts, timeframes=tfs, block_days=block_days,
                              batch=o.batches(batch_size, executor, address))  # fmt: skip
        show_notes(report.notes, report.skipped)
        show_pooled(report, o.out_format(fmt, as_json), wide)
        return
    single = run_studies(session(ctx), opts)
    show_notes(single.notes, single.skipped)
    show_study(single, o.out_format(fmt, as_json), wide)


POOLED_HELP = (
    "Pool every selected series (venues, symbols, and timeframes given as -t 4h,1d) into one "
    "verdict per claim, with intervals from a bootstrap of whole series and calendar blocks, a "
    "per-series breakdown and the symbol-years each claim needs."
)
EXIT_HELP = (
    "model (the configured exits), oi_turn (hold while OI keeps falling: no take-profit, out when "
    "OI turns up for thesis_streak bars) or barriers (the stop and the take-profit only, OI "
    "ignored); the stop and the time stop stay."
)
TOTAL_HELP = (
    "Also study the OI summed over the venues of each selected base asset (--exchange all, "
    "--margin), its verdicts beside each venue's."
)
BLOCK_HELP = (
    "With --pooled: length in days of the calendar blocks the bootstrap resamples (default: "
    "2 x horizon bars of the longest timeframe)."
)


def _timeframes(text: str, pooled: bool) -> list[Timeframe]:
    """``-t 4h`` or, pooled, ``-t 4h,1d``."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    if not words:
        raise InputError(f"--timeframe needs a timeframe such as 4h, got {text!r}")
    if len(words) > 1 and not pooled:
        raise InputError(f"-t {text}: several timeframes are studied together with --pooled only; "
                         f"add --pooled or give one timeframe")  # fmt: skip
    return [o.timeframe(w) for w in words]


@commands.add("backtest")
def backtest_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: o.Tf = "4h", signal: Signal = "entry", side: o.SideOpt = "short",
    prices: o.Prices = None, from_tf: o.FromTf = None, margin: o.MarginOpt = "all",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Trade parameter KEY=VALUE (repeatable).")] = None,
    trades: Annotated[Path | None, typer.Option("--trades", help="Write the trade list (.csv/.parquet).")] = None,
    equity: Annotated[Path | None, typer.Option("--equity", help="Write the equity curve (.csv/.parquet).")] = None,
    exits: Annotated[str, typer.Option("--exit", help=EXIT_HELP)] = "model",
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Backtest the trade model (entry, stop, exits, sizing, costs: docs/evidence.md) on each
    selected series (every stored one without --exchange/--symbol; those it cannot run on are
    skipped and listed)."""
    from oiradar.app.backtest import BacktestOptions, backtests
    from oiradar.render.console import say
    from oiradar.render.evidence import show_backtest
    from oiradar.render.notes import show_notes
    from oiradar.render.tables import echo_json, write_frame

    opts = BacktestOptions(o.timeframe(timeframe), exchange, symbol, signal, o.side(side),
                           o.params(param or []), o.series(prices, from_tf, margin),
                           exits=exits.strip().lower())  # fmt: skip
    run = backtests(session(ctx), opts)
    show_notes(run.notes, run.skipped)
    for path, option in ((trades, "--trades"), (equity, "--equity")):
        if path is not None:
            frame = _per_series([(r.key, r.trades if option == "--trades" else r.equity)
                                 for r in run.reports])  # fmt: skip
            write_frame(frame, path, option)
            say(f"Wrote {frame.height:,} rows to {path}", err=True)  # stdout may be JSON
    fmt = o.out_format(fmt, as_json)
    if len(run.reports) > 1 and fmt is OutFormat.JSON:
        echo_json([r.to_dict() for r in run.reports])
        return
    if len(run.reports) > 1 and fmt is OutFormat.CSV:
        from oiradar.render.tables import show

        show(_per_series([(r.key, r.trades) for r in run.reports]), fmt)
        return
    for report in run.reports:
        show_backtest(report, fmt, wide)


def _per_series(frames: list[tuple[SeriesKey, pl.DataFrame]]) -> pl.DataFrame:
    """One frame; with several series, each row led by its ``exchange`` and ``symbol``."""
    import polars as pl

    if len(frames) == 1:
        return frames[0][1]
    return pl.concat([f.select(pl.lit(k.exchange).alias("exchange"), pl.lit(k.symbol).alias("symbol"),
                               pl.all()) for k, f in frames], how="diagonal_relaxed")  # fmt: skip


@commands.add("sweep")
def sweep_cmd(
    ctx: typer.Context,
    grid: Annotated[Path, typer.Option("--grid", help="Grid TOML: \\[params], \\[signals], folds, holdout, metric (docs/evidence.md).")],
    exchange: o.Exchange = None, symbol: o.Symbol = None, timeframe: o.Tf = "4h",
    signal: Signal = "entry", side: o.SideOpt = "short", prices: o.Prices = None,
    executor: Annotated[str, typer.Option(help="local (processes), threads or ray (several series: one Ray task per batch of series).")] = "local",
    address: Annotated[str | None, typer.Option(help=RAY_ADDRESS_HELP)] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default: CPU count).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Series per Ray task with --executor ray (default: \\[performance] batch_series).")] = None,
    top: Annotated[int, typer.Option(help="Rows of the grid table to show.")] = 10,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Sweep trade (and signal) parameters with walk-forward splits and a final hold-out."""
    from oiradar.app.backtest import SweepOptions, sweep
    from oiradar.render.evidence import show_sweep

    opts = SweepOptions(grid, o.timeframe(timeframe), exchange, symbol, signal, o.side(side),
                        o.market(prices), executor, workers, address)  # fmt: skip
    size = None if batch_size is None else o.at_least(batch_size, 1, "--batch-size")
    if size is not None and executor != "ray":
        raise InputError("--batch-size sets the series per Ray task: add --executor ray (the other "
                         "executors sweep one series at a time)")  # fmt: skip
    show_sweep(sweep(session(ctx), opts, size), o.out_format(fmt, as_json), top, wide)
