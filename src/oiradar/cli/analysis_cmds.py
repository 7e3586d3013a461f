"""Analysis commands: ``features`` (SPEC section 2 columns of one series) and ``scan`` (events)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from oiradar.cli.context import console, fail, state
from oiradar.cli.data_cmds import OutFormat, parse_date, print_frame, write_frame
from oiradar.errors import InputError, OiradarError
from oiradar.features import FEATURE_COLUMNS, compute_features
from oiradar.model import SeriesKey, Timeframe
from oiradar.signals import SIGNALS, signal_states
from oiradar.signals.scan import multi_timeframe, scan, with_liquidations

FEATURE_VIEW = ("ts", "close", "oi", "oi_z_30d", "oi_chg_7d", "oi_vol_ratio", "oi_dd",
                "oi_down_streak", "new_high", "near_high", "rejection", "atr_14", "phase")  # fmt: skip
EVENT_VIEW = ("ts", "exchange", "symbol", "timeframe", "signal", "side", "close", "why")


def _with_dates(frame: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.from_epoch(c, time_unit="ms").dt.strftime("%Y-%m-%d %H:%M").alias(c) for c in cols
    )


def _demo_step(run: Any) -> None:
    """``oiradar demo`` extension: the framework's signals on the demo market (4h)."""
    from oiradar.config import Settings

    key = run.key.with_timeframe(Timeframe.H4)
    try:
        events = scan(run.catalog, Settings(), key.timeframe, [key.exchange], [key.symbol]).events
    except OiradarError as exc:
        run.notes.append(f"(signal step skipped: {exc})")
        return
    counts = events.group_by("signal", "side").agg(
        pl.len().alias("events"), pl.col("ts").max().alias("last")
    )
    print_frame(
        _with_dates(counts.sort("signal"), "last"),
        OutFormat.TABLE,
        title=f"Signals on the demo market ({key}), SPEC section 3 defaults",
    )
    home = shlex.quote(str(run.catalog.home))
    run.notes += [
        "Signals (docs/analysis.md)",
        f"  oiradar --home {home} scan -t 4h --signal divergence --signal entry",
        f"  oiradar --home {home} features -e {key.exchange} -s {key.symbol} -t 4h",
        f"  oiradar --home {home} scan --mtf -s {key.symbol}",
    ]


def register(app: typer.Typer) -> None:
    from oiradar.cli.sim_cmds import add_demo_step

    add_demo_step(_demo_step)

    @app.command("features")
    def features_cmd(
        ctx: typer.Context,
        exchange: Annotated[str, typer.Option("--exchange", "-e")],
        symbol: Annotated[str, typer.Option("--symbol", "-s")],
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="FILE.csv/.parquet/.json")
        ] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="Keep bars from this UTC date.")
        ] = None,
        tail: Annotated[int, typer.Option("--tail", "-n", help="Rows to print.")] = 10,
        fmt: Annotated[OutFormat, typer.Option("--format")] = OutFormat.TABLE,
    ) -> None:
        """Bars of one series with every feature (SPEC section 2) and the phase label per bar."""
        try:
            st = state(ctx)
            tf = Timeframe.parse(timeframe)
            key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=tf)
            settings = st.settings.for_symbol(symbol)
            bars = with_liquidations(st.catalog, key, st.catalog.read_bars(key))
            feats = compute_features(bars, tf, settings)
            feats = feats.with_columns(signal_states(feats, tf, settings)["phase"])
            start = parse_date(since)
            if start is not None:
                feats = feats.filter(pl.col("ts") >= start)
            if out is not None:
                write_frame(feats, out)
                console.print(
                    f"Wrote {feats.height} bars x {len(FEATURE_COLUMNS)} features to {out}"
                )
                return
        except OiradarError as exc:
            raise fail(exc) from None
        view = feats.select(FEATURE_VIEW).tail(tail)
        if fmt is OutFormat.TABLE:
            view = _with_dates(view, "ts")
        print_frame(view, fmt, title=f"{key} (last {view.height} bars)")

    @app.command("scan")
    def scan_cmd(
        ctx: typer.Context,
        exchange: Annotated[list[str] | None, typer.Option("--exchange", "-e")] = None,
        symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s")] = None,
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
        since: Annotated[
            str | None, typer.Option("--since", help="Events from this UTC date.")
        ] = None,
        signal: Annotated[
            list[str] | None, typer.Option("--signal", help="Only these signals.")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", "-o", help="FILE.csv/.parquet/.json")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON records on stdout.")] = False,
        mtf: Annotated[
            bool, typer.Option("--mtf", help="15m/1h/4h/1d side by side for --symbol.")
        ] = False,
    ) -> None:
        """Signal events (SPEC section 3) of every stored series, with the values that fired them."""
        try:
            st = state(ctx)
            if mtf:
                _mtf(st, exchange or [], symbol or [], as_json)
                return
            unknown = sorted(set(signal or []) - set(SIGNALS))
            if unknown:
                raise InputError(f"unknown signal(s) {unknown}; valid: {', '.join(SIGNALS)}")
            result = scan(st.catalog, st.settings, timeframe, exchange or [], symbol or [],
                          parse_date(since))  # fmt: skip
            events = result.events
            if signal:
                events = events.filter(pl.col("signal").is_in(signal))
            if out is not None:
                write_frame(events, out)
        except OiradarError as exc:
            raise fail(exc) from None
        if as_json:
            typer.echo(events.write_json())  # records; polars writes them far faster than json
            return
        title = f"{events.height} events on {len(result.features)} series ({timeframe})"
        print_frame(_with_dates(events.select(EVENT_VIEW), "ts"), OutFormat.TABLE, title=title)
        if out is not None:
            console.print(f"Wrote {events.height} events to {out}")


def _mtf(st, exchanges: list[str], symbols: list[str], as_json: bool) -> None:
    if len(symbols) != 1:
        raise InputError("--mtf needs exactly one --symbol")
    venues = exchanges or sorted(
        {k.exchange for k in st.catalog.stored_keys() if k.symbol == symbols[0]}
    )
    if not venues:
        raise InputError(f"no stored series for {symbols[0]}")
    for venue in venues:
        view = multi_timeframe(st.catalog, st.settings, venue, symbols[0])
        if as_json:
            typer.echo(
                json.dumps(
                    {"exchange": venue, "symbol": symbols[0], **view.to_dict(as_series=False)}
                )
            )
        else:
            print_frame(view, OutFormat.TABLE, title=f"{venue} {symbols[0]}: latest complete bars")
