"""Entry point: ``oiradar [--home DIR] [--config FILE] COMMAND ...``.

Each area declares its commands in its own module (``commands``, a CommandSet). Registering is cheap:
a command imports its use case (:mod:`oiradar.app`) and its views (:mod:`oiradar.render`) when it
runs, so ``oiradar --help`` loads neither polars nor numba, and each command only what it needs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli import (
    analysis_cmds,
    brief_cmds,
    data_cmds,
    evidence_cmds,
    fetch_cmds,
    import_cmds,
    link_cmds,
    liq_cmds,
    paper_cmds,
    report_cmds,
    serve_cmds,
    sim_cmds,
    watch_cmds,
)
from oiradar.cli.context import AppState, fail
from oiradar.errors import OiradarError

app = typer.Typer(
    name="oiradar",
    help="Open-interest radar for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from oiradar import __version__

        typer.echo(f"oiradar {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    home: Annotated[
        str | None,
        typer.Option(
            "--home", envvar="OIRADAR_HOME", help="Where data lives (default: user data dir)."
        ),
    ] = None,
    config: Annotated[
        str | None,
        typer.Option("--config", help="Path to an oiradar.toml (default: <home>/oiradar.toml)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print oiradar's version and exit.",
        ),
    ] = False,
) -> None:
    ctx.obj = AppState(home_option=home, config_option=config)


# list, gaps, sql, export | import | link | simulate, demo | markets, fetch, record | features, scan |
# study, backtest, sweep | liqprice, liqmap | watch, status | brief, sheet | paper | report | serve
for _module in (data_cmds, import_cmds, link_cmds, sim_cmds, fetch_cmds, analysis_cmds,
                evidence_cmds, liq_cmds, watch_cmds, brief_cmds, paper_cmds, report_cmds,
                serve_cmds):  # fmt: skip
    _module.commands.register(app)


def main() -> None:
    try:
        app()
    except OiradarError as exc:
        raise SystemExit(fail(exc).exit_code) from None
