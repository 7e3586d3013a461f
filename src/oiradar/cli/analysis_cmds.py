"""Analysis commands: ``features`` (the columns of docs/analysis.md) and ``scan`` (events)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import Kind, OutFormat, TsFormat

if TYPE_CHECKING:
    from oiradar.app.features import FeatureBatches, FeaturesResult
    from oiradar.app.series import SeriesOptions

FEATURE_KINDS = {"oi_chg_7d": Kind.FRACTION, "oi_dd": Kind.FRACTION, "oi_z_30d": Kind.RATIO}
Out = Annotated[Path | None, typer.Option("--out", "-o", help="FILE.csv/.parquet/.json")]


commands = CommandSet()


@commands.add("features")
def features_cmd(
    ctx: typer.Context,
    exchange: Annotated[str | None, typer.Option("--exchange", "-e", help="Only this exchange ('all': OI summed over venues).")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", "-s", help="Only this symbol (without it: every stored series).")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
    out: Out = None,
    since: Annotated[str | None, typer.Option("--since", help="Keep bars from this UTC date.")] = None,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Rows to print.")] = 10,
    prices: o.Prices = None, from_tf: o.FromTf = None, margin: o.MarginOpt = "all",
    fmt: o.Format = OutFormat.TABLE,
    wide: o.Wide = False,
    ts: o.Ts = TsFormat.MS,
    batch_size: o.BatchSize = None,
) -> None:  # fmt: skip
    """Bars of a series with every feature (docs/analysis.md) and the phase label per bar;
    without --symbol (or --exchange), of every stored series, skipping those it cannot handle."""
    from oiradar.app.features import feature_batches, series_features
    from oiradar.model import SeriesKey
    from oiradar.render.notes import show_notes

    if tail < 0:
        raise InputError(f"--tail must be 0 or more, got {tail}")
    so, s = o.series(prices, from_tf, margin), session(ctx)
    tf = o.timeframe(timeframe)
    batches = o.batches(batch_size)
    if exchange and symbol and exchange != "all":
        key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)
        res = series_features(s, key, o.date(since), so)
        show_notes(res.notes)
        _show_features([res], out, tail, fmt, wide, ts)
        return
    stream = feature_batches(s, exchange, symbol, tf, o.date(since), so, batches)
    if out is not None:  # every series' rows, written batch by batch
        _write_features(stream, out, ts)
        return
    kept = []
    for results in stream:  # each batch dropped before the next is computed
        kept += [_last_rows(r, tail) for r in results]
        del results
    show_notes(stream.notes, stream.skipped)
    _show_features(kept, None, tail, fmt, wide, ts)


def _last_rows(res: FeaturesResult, tail: int) -> FeaturesResult:
    """``res`` with its last ``tail`` rows copied out, so that the series' whole frame is freed."""
    from dataclasses import replace

    import numpy as np

    frame = res.frame
    return replace(res, frame=frame[np.arange(max(0, frame.height - tail), frame.height)])


def _write_features(stream: FeatureBatches, out: Path, ts: TsFormat) -> None:
    """``--out`` of every series: one file, each row led by its series (several series), written
    as the batches come (``render.tables.write_frames``)."""
    import polars as pl

    from oiradar.render.console import say
    from oiradar.render.notes import show_notes
    from oiradar.render.tables import write_frames

    done = [0, 0]  # series, features per bar

    def frames() -> Iterator[pl.DataFrame]:
        for results in stream:  # each batch dropped before the next is computed
            while results:
                r = results.pop(0)
                done[:] = [done[0] + 1, r.n_features]
                yield r.frame.select(pl.lit(r.key.exchange).alias("exchange"),
                                     pl.lit(r.key.symbol).alias("symbol"), pl.all())  # fmt: skip
                del r
            del results

    def finish(lf: pl.LazyFrame) -> pl.LazyFrame:  # one series: no series columns (as before)
        return lf.drop("exchange", "symbol") if done[0] == 1 else lf

    rows = write_frames(frames(), out, ts=ts, finish=finish)
    show_notes(stream.notes, stream.skipped)
    say(f"Wrote {rows:,} bars x {done[1]} features of {done[0]} series to {out}" if done[0] > 1
        else f"Wrote {rows:,} bars x {done[1]} features to {out}")  # fmt: skip


def _show_features(
    results: list[FeaturesResult], out: Path | None, tail: int, fmt: OutFormat, wide: bool,
    ts: TsFormat,
) -> None:  # fmt: skip
    import polars as pl

    from oiradar.app.features import KEY_COLUMNS, VIEW_COLUMNS
    from oiradar.render.console import say
    from oiradar.render.tables import show, write_frame

    def one_frame(frames: list[pl.DataFrame]) -> pl.DataFrame:
        if len(results) == 1:
            return frames[0]
        return pl.concat([f.select(pl.lit(r.key.exchange).alias("exchange"),
                                   pl.lit(r.key.symbol).alias("symbol"), pl.all())
                          for r, f in zip(results, frames, strict=True)],
                         how="diagonal_relaxed")  # fmt: skip

    if out is not None:  # one file: with several series, each row says its series
        frame = one_frame([r.frame for r in results])
        write_frame(frame, out, ts=ts)
        say(f"Wrote {frame.height:,} bars x {results[0].n_features} features of "
            f"{len(results)} series to {out}" if len(results) > 1 else
            f"Wrote {frame.height:,} bars x {results[0].n_features} features to {out}")  # fmt: skip
        return
    if fmt is not OutFormat.TABLE:  # one document for machines
        views = [r.frame.tail(tail) for r in results]
        view = one_frame(views if wide else [v.select(VIEW_COLUMNS) for v in views])
        show(view, fmt, ts=ts)
        return
    for res in results:
        view = res.frame.tail(tail)
        show(view, fmt, title=f"{res.key} (last {view.height} bars)", key=KEY_COLUMNS, wide=wide,
             ts=ts, kinds=FEATURE_KINDS)  # fmt: skip


@commands.add("scan")
def scan_cmd(
    ctx: typer.Context,
    exchange: Annotated[list[str] | None, typer.Option("--exchange", "-e", help="Only these exchanges ('all': OI summed over venues).")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
    since: Annotated[str | None, typer.Option("--since", help="Events from this UTC date.")] = None,
    signal: Annotated[list[str] | None, typer.Option("--signal", help="Only these signals.")] = None,
    out: Out = None,
    mtf: Annotated[bool, typer.Option("--mtf", help="15m/1h/4h/1d side by side for --symbol.")] = False,
    prices: o.Prices = None, from_tf: o.FromTf = None, margin: o.MarginOpt = "all",
    fmt: o.Format = OutFormat.TABLE,
    as_json: o.Json = False,
    wide: o.Wide = False,
    ts: o.Ts = TsFormat.MS,
    batch_size: o.BatchSize = None,
    executor: o.ExecutorOpt = None,
    address: Annotated[str | None, typer.Option("--address", help=o.RAY_ADDRESS_HELP)] = None,
) -> None:  # fmt: skip
    """Signal events (docs/analysis.md) of every stored series, with the values that fired them;
    a series it cannot handle is skipped and listed on stderr."""
    fmt = o.out_format(fmt, as_json)
    so = o.series(prices, from_tf, margin)
    if mtf:
        _mtf(ctx, exchange or [], symbol or [], fmt, so)
        return
    from oiradar.app.scan import KEY_COLUMNS, ScanOptions, scan_events
    from oiradar.render.console import say
    from oiradar.render.notes import show_notes
    from oiradar.render.tables import show, write_frame

    opts = ScanOptions(o.timeframe(timeframe), tuple(exchange or ()), tuple(symbol or ()),
                       o.date(since), tuple(signal or ()), so)  # fmt: skip
    report = scan_events(session(ctx), opts, o.batches(batch_size, executor, address))
    show_notes(report.notes, report.skipped)
    events = report.events
    if out is not None:
        write_frame(events, out, ts=ts)
    title = f"{events.height} events on {report.n_series} series ({report.timeframe})"
    show(events, fmt, title=title, key=KEY_COLUMNS, wide=wide, same=("exchange", "symbol"),
         ts=ts)  # fmt: skip
    if out is not None and fmt is OutFormat.TABLE:
        say(f"Wrote {events.height:,} events to {out}")


def _mtf(
    ctx: typer.Context, exchanges: list[str], symbols: list[str], fmt: OutFormat,
    so: SeriesOptions,
) -> None:  # fmt: skip
    """``scan --mtf``: one venue's latest complete bar of a symbol at 15m/1h/4h/1d."""
    from oiradar.app.scan import timeframe_views
    from oiradar.errors import InputError
    from oiradar.render.tables import echo_json, show

    if len(symbols) != 1:
        raise InputError("--mtf needs exactly one --symbol")
    for view in timeframe_views(session(ctx), exchanges, symbols[0], so):
        if fmt is OutFormat.JSON:
            echo_json({"exchange": view.exchange, "symbol": view.symbol,
                       **view.frame.to_dict(as_series=False)}, line=True)  # fmt: skip
        else:
            show(view.frame, fmt, title=f"{view.exchange} {view.symbol}: latest complete bars")
