"""Entry point: ``oiradar [--home DIR] [--config FILE] COMMAND ...``.

Each area registers its commands from its own module (``register(app)``), so commands live next to
the code they drive and this file only assembles them.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from oiradar.cli.context import AppState, fail
from oiradar.errors import OiradarError

app = typer.Typer(
    name="oiradar",
    help="Open-interest radar for crypto perpetual futures.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command modules, each exposing ``register(app)``. A module that does not exist yet is skipped.
COMMAND_MODULES = (
    "oiradar.cli.data_cmds",  # list, gaps, sql, export
    "oiradar.cli.import_cmds",  # import
    "oiradar.cli.sim_cmds",  # simulate, demo
    "oiradar.cli.fetch_cmds",  # markets, fetch, record
    "oiradar.cli.analysis_cmds",  # features, scan
    "oiradar.cli.evidence_cmds",  # study, backtest, sweep
    "oiradar.cli.liq_cmds",  # liqprice, liqmap
)


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
) -> None:
    ctx.obj = AppState(home_option=home, config_option=config)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    try:
        app()
    except OiradarError as exc:
        raise SystemExit(fail(exc).exit_code) from None
