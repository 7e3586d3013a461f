"""Analysis commands: ``features`` (SPEC section 2 columns of one series) and ``scan`` (events)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.render.formats import Kind, OutFormat, TsFormat

FEATURE_KINDS = {"oi_chg_7d": Kind.FRACTION, "oi_dd": Kind.FRACTION, "oi_z_30d": Kind.RATIO}
Out = Annotated[Path | None, typer.Option("--out", "-o", help="FILE.csv/.parquet/.json")]


commands = CommandSet()


@commands.add("features")
def features_cmd(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Option("--exchange", "-e")],
    symbol: Annotated[str, typer.Option("--symbol", "-s")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
    out: Out = None,
    since: Annotated[str | None, typer.Option("--since", help="Keep bars from this UTC date.")] = None,
    tail: Annotated[int, typer.Option("--tail", "-n", help="Rows to print.")] = 10,
    fmt: o.Format = OutFormat.TABLE,
    wide: o.Wide = False,
    ts: o.Ts = TsFormat.MS,
) -> None:  # fmt: skip
    """Bars of one series with every feature (SPEC section 2) and the phase label per bar."""
    from oiradar.app.features import KEY_COLUMNS, VIEW_COLUMNS, series_features
    from oiradar.model import SeriesKey
    from oiradar.render.console import say
    from oiradar.render.tables import show, write_frame

    key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=o.timeframe(timeframe))
    res = series_features(session(ctx), key, o.date(since))
    if out is not None:
        write_frame(res.frame, out, ts=ts)
        say(f"Wrote {res.frame.height:,} bars x {res.n_features} features to {out}")
        return
    view = res.frame.tail(tail)
    if fmt is not OutFormat.TABLE and not wide:
        view = view.select(VIEW_COLUMNS)
    show(view, fmt, title=f"{key} (last {view.height} bars)", key=KEY_COLUMNS, wide=wide, ts=ts,
         kinds=FEATURE_KINDS)  # fmt: skip


@commands.add("scan")
def scan_cmd(
    ctx: typer.Context,
    exchange: Annotated[list[str] | None, typer.Option("--exchange", "-e")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
    since: Annotated[str | None, typer.Option("--since", help="Events from this UTC date.")] = None,
    signal: Annotated[list[str] | None, typer.Option("--signal", help="Only these signals.")] = None,
    out: Out = None,
    mtf: Annotated[bool, typer.Option("--mtf", help="15m/1h/4h/1d side by side for --symbol.")] = False,
    fmt: o.Format = OutFormat.TABLE,
    as_json: o.Json = False,
    wide: o.Wide = False,
    ts: o.Ts = TsFormat.MS,
) -> None:  # fmt: skip
    """Signal events (SPEC section 3) of every stored series, with the values that fired them."""
    fmt = o.out_format(fmt, as_json)
    if mtf:
        _mtf(ctx, exchange or [], symbol or [], fmt)
        return
    from oiradar.app.scan import KEY_COLUMNS, ScanOptions, scan_events
    from oiradar.render.console import say
    from oiradar.render.tables import show, write_frame

    opts = ScanOptions(o.timeframe(timeframe), tuple(exchange or ()), tuple(symbol or ()),
                       o.date(since), tuple(signal or ()))  # fmt: skip
    report = scan_events(session(ctx), opts)
    events = report.events
    if out is not None:
        write_frame(events, out, ts=ts)
    title = f"{events.height} events on {report.n_series} series ({report.timeframe})"
    show(events, fmt, title=title, key=KEY_COLUMNS, wide=wide, same=("exchange", "symbol"),
         ts=ts)  # fmt: skip
    if out is not None and fmt is OutFormat.TABLE:
        say(f"Wrote {events.height:,} events to {out}")


def _mtf(ctx: typer.Context, exchanges: list[str], symbols: list[str], fmt: OutFormat) -> None:
    """``scan --mtf``: one venue's latest complete bar of a symbol at 15m/1h/4h/1d."""
    from oiradar.app.scan import timeframe_views
    from oiradar.errors import InputError
    from oiradar.render.tables import echo_json, show

    if len(symbols) != 1:
        raise InputError("--mtf needs exactly one --symbol")
    for view in timeframe_views(session(ctx), exchanges, symbols[0]):
        if fmt is OutFormat.JSON:
            echo_json({"exchange": view.exchange, "symbol": view.symbol,
                       **view.frame.to_dict(as_series=False)}, line=True)  # fmt: skip
        else:
            show(view.frame, fmt, title=f"{view.exchange} {view.symbol}: latest complete bars")
