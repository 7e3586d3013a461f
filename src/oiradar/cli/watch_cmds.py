"""``watch`` (the live radar) and ``status`` (what it is doing)."""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import OutFormat

commands = CommandSet()


@commands.add("watch")
def watch_cmd(
    ctx: typer.Context,
    exchange: Annotated[str | None, typer.Option("--exchange", "-e", help="binanceusdm, bybit, okx, ... or 'sim' (the simulated live venue). Without it: \\[watch] series.")] = None,
    symbol: Annotated[list[str] | None, typer.Option("--symbol", "-s", help="ccxt symbol (repeatable), e.g. KSM/USDT:USDT")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "4h",
    notify: Annotated[list[str] | None, typer.Option("--notify", help="an Apprise URL (tgram://, discord://, json://host/path, ...), 'console' or jsonl:///path (repeatable)")] = None,
    signal: Annotated[list[str] | None, typer.Option("--signal", help="alert on these signals only (repeatable)")] = None,
    sim_speed: Annotated[float | None, typer.Option("--sim-speed", help="-e sim: run the simulated clock N times faster than real time")] = None,
    stop_after_bars: Annotated[int | None, typer.Option("--stop-after-bars", help="end after N closed bars per series")] = None,
    poll: Annotated[float | None, typer.Option("--poll", help="seconds between a venue's polls when no bar is due (\\[watch] poll_s)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no alerts on the terminal (the channels still get them)")] = False,
) -> None:  # fmt: skip
    """Keep the series current, evaluate every closed bar as `oiradar scan` does, and alert once per
    event on the configured channels. Ctrl-C stops it; run it again to resume where it stopped."""
    from oiradar.app.live import check_watch_signals, parse_series
    from oiradar.live.watch import WatchOptions, run_watch
    from oiradar.render.console import say
    from oiradar.render.live import watch_line

    s = session(ctx)
    if exchange is not None:
        if not symbol:
            raise InputError("-e without -s: give the symbols to watch, e.g. -s KSM/USDT:USDT")
        tf = o.timeframe(timeframe)
        text = [f"{exchange} {sym} {tf.value}" for arg in symbol for sym in arg.split(",") if sym]
    elif symbol:
        raise InputError("-s without -e: give the exchange too, e.g. -e binanceusdm")
    else:
        text = list(s.settings.watch.series)
    keys = tuple(dict.fromkeys(parse_series(t, "--symbol" if exchange else "[watch] series")
                               for t in text))  # fmt: skip
    signals = tuple(signal or s.settings.watch.signals)
    check_watch_signals(signals)
    opts = WatchOptions(keys, tuple(notify or ()), signals, sim_speed, stop_after_bars, poll,
                        console=not quiet)  # fmt: skip
    names = ", ".join(f"{k.exchange} {k.symbol} {k.timeframe.value}" for k in keys[:5])
    more = f" and {len(keys) - 5} more" if len(keys) > 5 else ""
    watch_line(f"watching {names}{more}; Ctrl-C stops (the ledger keeps where it was)")
    try:
        summary = run_watch(s, opts, say=watch_line, echo=lambda line: say(line))
    except KeyboardInterrupt:
        watch_line("stopped; `oiradar watch` again resumes from the ledger")
        return
    watch_line(f"done: {_n(summary.bars, 'closed bar')}, {_n(summary.alerts, 'alert')} "
               f"({summary.late:,} late), {_n(summary.errors, 'series error')}")  # fmt: skip


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@commands.add("status")
def status_cmd(ctx: typer.Context, fmt: o.Format = OutFormat.TABLE) -> None:
    """What `oiradar watch` on this home is doing: each series' last bar, lag, errors and last
    alert; each channel's state (an unreachable one is named)."""
    from oiradar.app.live import watch_status
    from oiradar.render.live import show_status

    s = session(ctx)
    show_status(watch_status(s), fmt, str(s.home))
