"""Simulator commands: ``simulate`` (a market into the catalog) and ``demo`` (a guided first run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session

commands = CommandSet()


@commands.add("simulate")
def simulate_cmd(
    ctx: typer.Context,
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="ksm, planted, null or btc.")] = None,
    days: Annotated[int | None, typer.Option("--days", help="Default: the preset's.")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    exchange: Annotated[str, typer.Option("--exchange", "-e")] = "sim",
    symbol: Annotated[str | None, typer.Option("--symbol", "-s", help="Default: the preset's symbol.")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "5m",
    start: Annotated[str, typer.Option("--start", help="First bar, UTC date.")] = "2024-01-01",
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a different simulation stored there.")] = False,
) -> None:  # fmt: skip
    """Simulate a perpetual market (agent-based, seeded) and write it into the catalog."""
    from oiradar.app.sim import SimOptions, simulate_market
    from oiradar.render.demo import show_simulated
    from oiradar.render.progress import progress_bar

    if days is not None:
        o.at_least(days, 1, "--days")
    s = session(ctx)
    opts = SimOptions(preset, days, seed, exchange, symbol, o.timeframe(timeframe),
                      o.date(start, "--start"), replace).resolved(s.settings.sim)  # fmt: skip
    with progress_bar(f"simulating {opts.days} days ({opts.preset}, seed {opts.seed})") as tick:
        report = simulate_market(s, opts, tick)
    show_simulated(report)


@commands.add("demo")
def demo_cmd(
    ctx: typer.Context,
    fresh: Annotated[bool, typer.Option("--fresh", help="First delete <home>/catalog, <home>/sim and <home>/live (the watch ledger, paper accounts).")] = False,
    days: Annotated[int, typer.Option("--days")] = 180,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    wide: o.Wide = False,
    open_it: Annotated[bool, typer.Option("--open", help="Open the demo's HTML report in the default browser.")] = False,
) -> None:  # fmt: skip
    """Simulate a KSM-like market into the catalog, show what is there and write its HTML report
    (<home>/demo-report.html)."""
    from functools import partial

    from oiradar.app.sim import run_demo
    from oiradar.render.demo import show_next_steps, show_step
    from oiradar.render.progress import progress_bar

    o.at_least(days, 1, "--days")
    with progress_bar(f"simulating {days} days (ksm, seed {seed})") as tick:
        report = run_demo(session(ctx), days=days, seed=seed, fresh=fresh, progress=tick,
                          on_step=partial(show_step, wide=wide))  # fmt: skip
    show_next_steps(report)
    _demo_report(ctx, report.home / "demo-report.html", report.key.exchange, report.key.symbol,
                 open_it)  # fmt: skip


def _demo_report(ctx: typer.Context, path: Path, exchange: str, symbol: str, open_it: bool) -> None:
    """The demo market's report at 4h (``oiradar report``), its path printed."""
    from oiradar.app.report import ReportOptions, report_data
    from oiradar.model import Timeframe, now_ms
    from oiradar.render.report import show_demo_report, write_report

    from oiradar.errors import OiradarError
    from oiradar.render.console import say

    try:
        data = report_data(session(ctx), ReportOptions(exchange, symbol, Timeframe.H4))
        written = write_report(data, path, generated=now_ms())
    except OiradarError as exc:  # the demo's other steps stand; say why there is no report
        say(f"(report skipped: {exc})")
        return
    show_demo_report(written, data)
    if open_it:
        import webbrowser

        webbrowser.open(written.path.resolve().as_uri())
