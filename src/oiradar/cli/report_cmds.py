"""``report``: one series' pictures in a self-contained HTML file (and PNG images with ``--png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session

commands = CommandSet()

Out = Annotated[str | None, typer.Option("--out", "-o", help="The HTML file to write (default: report_<exchange>_<symbol>_<tf>.html here).")]  # fmt: skip
Png = Annotated[str | None, typer.Option("--png", help="Also write the main charts as PNG images into this folder (needs Debian's chromium).")]  # fmt: skip
Since = Annotated[str | None, typer.Option("--since", help="Draw the bars from this UTC date on, or a span back such as 90d (computed on all).")]  # fmt: skip
Signal = Annotated[str, typer.Option("--signal", help="The backtest's entry signal.")]


@commands.add("report")
def report_cmd(
    ctx: typer.Context,
    exchange: Annotated[str, typer.Option("--exchange", "-e", help="The series' exchange.")],
    symbol: Annotated[str, typer.Option("--symbol", "-s", help="ccxt symbol, e.g. KSM/USDT:USDT")],
    timeframe: o.Tf = "4h", since: Since = None, out: Out = None, png: Png = None,
    prices: o.Prices = None, from_tf: o.FromTf = None, signal: Signal = "entry",
    side: o.SideOpt = "short",
    heatmap: Annotated[bool, typer.Option("--heatmap/--no-heatmap", help="Draw the estimated liquidation heatmap.")] = True,
    study: Annotated[bool, typer.Option("--study/--no-study", help="Run the event study for the verdict table.")] = True,
    open_it: Annotated[bool, typer.Option("--open", help="Open the report in the default browser.")] = False,
) -> None:  # fmt: skip
    """A self-contained HTML report of one series: candles with signals and phases, OI with its
    30-day band and z-score, volume, funding, OI per venue, the ESTIMATED liquidation heatmap, the
    verdict table and the backtest's equity. It opens offline (plotly.js is inside)."""
    from oiradar.app.report import ReportOptions, report_data
    from oiradar.model import now_ms
    from oiradar.render.report import show_written, write_report

    s = session(ctx)
    tf = o.timeframe(timeframe)
    opts = ReportOptions(exchange, symbol, tf, o.when(since, now_ms()), o.series(prices, from_tf),
                         signal, o.side(side), heatmap=heatmap, study=study)  # fmt: skip
    data = report_data(s, opts)
    path = Path(out) if out else Path(_default_name(exchange, symbol, tf.value))
    written = write_report(data, path, png_dir=Path(png) if png else None, generated=now_ms())
    show_written(written, data)
    if open_it:
        import webbrowser

        webbrowser.open(written.path.resolve().as_uri())


def _default_name(exchange: str, symbol: str, tf: str) -> str:
    safe = symbol.replace("/", "-").replace(":", "-")
    return f"report_{exchange}_{safe}_{tf}.html"
