"""Simulator commands: ``simulate`` (a market, or a universe of them, into the catalog) and ``demo``
(a guided first run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError

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
    universe: Annotated[int | None, typer.Option("--universe", help="Simulate N correlated perpetuals U001/USDT:USDT .. (docs/simulator.md#universe).")] = None,
    edge: Annotated[str | None, typer.Option("--edge", help="With --universe: the reversal rate planted after divergence (0.65; 0.5 is no edge), or none.")] = None,
    correlation: Annotated[float | None, typer.Option("--correlation", help="With --universe: correlation of any two symbols' bar returns (default 0.5).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="With --universe: markets simulated at once (default: up to 4).")] = None,
) -> None:  # fmt: skip
    """Simulate a perpetual market (agent-based, seeded), or a universe of them, and write it into the
    catalog."""
    from oiradar.app.sim import SimOptions, simulate_market
    from oiradar.render.demo import show_simulated
    from oiradar.render.progress import progress_bar

    if days is not None:
        o.at_least(days, 1, "--days")
    if seed is not None:
        o.at_least(seed, 0, "--seed")
    if universe is None:
        for name, value in (("--edge", edge), ("--correlation", correlation),
                            ("--workers", workers)):  # fmt: skip
            if value is not None:
                raise InputError(f"{name} goes with --universe N (a universe of simulated markets)")
    else:
        _universe(ctx, universe, days, seed, preset, exchange, symbol, timeframe, start, replace,
                  edge, correlation, workers)  # fmt: skip
        return
    s = session(ctx)
    opts = SimOptions(preset, days, seed, exchange, symbol, o.timeframe(timeframe),
                      o.date(start, "--start"), replace).resolved(s.settings.sim)  # fmt: skip
    with progress_bar(f"simulating {opts.days} days ({opts.preset}, seed {opts.seed})") as tick:
        report = simulate_market(s, opts, tick)
    show_simulated(report)


def _universe(
    ctx: typer.Context, n: int, days: int | None, seed: int | None, preset: str | None,
    exchange: str, symbol: str | None, timeframe: str, start: str, replace: bool,
    edge: str | None, correlation: float | None, workers: int | None,
) -> None:  # fmt: skip
    """``simulate --universe N``: parse, simulate and write the universe, print what it made."""
    from oiradar.app.sim import MAX_UNIVERSE, UniverseOptions, check_universe, simulate_universe
    from oiradar.render.demo import show_universe
    from oiradar.render.progress import progress_bar

    if not 1 <= n <= MAX_UNIVERSE:
        raise InputError(f"--universe must be 1 to {MAX_UNIVERSE} symbols, got {n}")
    if correlation is not None and not 0.0 <= correlation <= 0.95:
        raise InputError(f"--correlation must be in [0, 0.95], got {correlation}")
    if symbol is not None:
        raise InputError(
            "--symbol names one market; a universe names its own (U001/USDT:USDT, ...): drop --symbol"
        )
    if workers is not None:
        o.at_least(workers, 1, "--workers")
    opts = UniverseOptions(
        n, days, seed, preset, o.timeframe(timeframe), o.date(start, "--start"), _edge(edge),
        correlation=0.5 if correlation is None else correlation, exchange=exchange,
        replace=replace, workers=workers,
    )  # fmt: skip
    s = session(ctx)
    check_universe(s, opts)  # its values and its symbols, before the progress bar starts
    with progress_bar(f"simulating a universe of {n}") as tick:
        report = simulate_universe(s, opts, tick)
    show_universe(report)


def _edge(text: str | None) -> float | None:
    """``--edge``: a rate (0.65 or 65%) in [0, 1], or none."""
    if text is None or text.strip().lower() == "none":
        return None
    t = text.strip()
    try:
        rate = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        rate = float("nan")
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"--edge must be a rate such as 0.65 (0.5: no edge) or none, got {text!r}")
    return rate


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
    from oiradar.errors import OiradarError
    from oiradar.model import Timeframe, now_ms
    from oiradar.render.console import say
    from oiradar.render.report import show_demo_report, write_report

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
