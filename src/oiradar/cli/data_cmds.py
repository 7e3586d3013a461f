"""Catalog commands: ``list``, ``gaps``, ``sql``, ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.render.formats import OutFormat, TsFormat

LIST_HEADERS = {"first_ts": "first", "last_ts": "last", "missing_bars": "missing"}

commands = CommandSet()


@commands.add("list")
def list_cmd(ctx: typer.Context, fmt: o.Format = OutFormat.TABLE) -> None:
    """Stored series with their first/last bar, rows and missing bars."""
    from oiradar.app.catalog import list_series
    from oiradar.render.console import say
    from oiradar.render.tables import show

    s = session(ctx)
    cov = list_series(s.catalog)
    if fmt is OutFormat.TABLE and cov.is_empty():
        say(f"The catalog at {s.catalog.root} is empty. Try `oiradar demo`.")
        return
    show(cov, fmt, title="Stored series", headers=LIST_HEADERS)


@commands.add("gaps")
def gaps_cmd(
    ctx: typer.Context, exchange: o.Exchange = None, symbol: o.Symbol = None,
    timeframe: Annotated[str | None, typer.Option("--timeframe", "-t")] = None,
    fmt: o.Format = OutFormat.TABLE,
) -> None:  # fmt: skip
    """Missing bars per series (runs of absent bars inside the stored range)."""
    from oiradar.app.catalog import SeriesFilter, gaps
    from oiradar.render.console import say
    from oiradar.render.tables import show

    tf = o.timeframe(timeframe) if timeframe else None
    out = gaps(session(ctx).catalog, SeriesFilter(exchange or None, symbol or None, tf))
    if fmt is OutFormat.TABLE and out.is_empty():
        say("No gaps.")
        return
    show(out, fmt, title="Gaps")


@commands.add("sql")
def sql_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="SQL over the views `bars` and `liquidations`.")],
    fmt: o.Format = OutFormat.TABLE,
    allow_files: Annotated[bool, typer.Option("--allow-files", help=(
        "Let the query read files outside the catalog (read_csv, read_parquet...)."))] = False,
) -> None:  # fmt: skip
    """Query the catalog with DuckDB, e.g. `oiradar sql "select symbol, max(oi) from bars group by 1"`.

    Read-only: queries only (no COPY, ATTACH, SET, CREATE...), and no file outside the catalog
    unless --allow-files. Columns named ts, *_ts or ingested_at show as UTC dates in the table."""
    from oiradar.app.catalog import sql
    from oiradar.render.tables import show

    show(sql(session(ctx).catalog, query, allow_files=allow_files), fmt)


@commands.add("export")
def export_cmd(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Option("--exchange", "-e")],
    symbol: Annotated[str, typer.Option("--symbol", "-s")],
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")],
    out: Annotated[Path, typer.Option("--out", "-o", help="FILE.csv, FILE.parquet or FILE.json")],
    ts: o.Ts = TsFormat.MS,
    prices: o.Prices = None, from_tf: o.FromTf = None, margin: o.MarginOpt = "all",
) -> None:  # fmt: skip
    """Write one series (resampled if needed) to CSV, Parquet or JSON."""
    from oiradar.app.catalog import export_series
    from oiradar.app.series import series_key
    from oiradar.render.console import say
    from oiradar.render.notes import show_notes
    from oiradar.render.tables import check_out, write_frame

    so = o.series(prices, from_tf, margin)
    key = series_key(exchange, symbol, o.timeframe(timeframe), so.margin)
    check_out(out)
    loaded = export_series(session(ctx).catalog, key, so)
    show_notes(loaded.notes)
    frame = loaded.bars
    write_frame(frame, out, ts=ts)
    say(f"Wrote {frame.height:,} bars to {out}")
