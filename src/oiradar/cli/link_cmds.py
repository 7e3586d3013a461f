"""``link``: which series an OI-only market takes its prices from (kept in the catalog)."""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import OutFormat

commands = CommandSet()

MARKETS_HELP = (
    "EXCHANGE:SYMBOL of the series to link, or a pattern ('*:BTC/*': every stored series it "
    "matches that has open interest). Without any: list the links."
)


@commands.add("link")
def link_cmd(
    ctx: typer.Context,
    markets: Annotated[list[str] | None, typer.Argument(help=MARKETS_HELP)] = None,
    prices: Annotated[str | None, typer.Option("--prices", help="EXCHANGE:SYMBOL whose OHLCV these series take.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the links of these series.")] = False,
    fmt: o.Format = OutFormat.TABLE,
) -> None:  # fmt: skip
    """Link OI-only series to the series their prices come from, once: features, scan, study,
    backtest, liqmap and export then use it (their --prices overrides it)."""
    from oiradar.app import links
    from oiradar.render.console import say
    from oiradar.render.tables import show

    s = session(ctx)
    if not markets:
        if prices or remove:
            raise InputError("link: name the series to link, e.g. oiradar link okx:BTC/USDT:USDT "
                             "--prices binance:BTC/USDT")  # fmt: skip
        table = links.list_links(s)
        if fmt is OutFormat.TABLE and table.is_empty():
            say("No price links. Add one: oiradar link EXCHANGE:SYMBOL --prices EXCHANGE:SYMBOL")
            return
        show(table, fmt, title="Price links")
        return
    if remove == bool(prices):
        raise InputError("link: give --prices EXCHANGE:SYMBOL (to link) or --remove (to unlink)")
    if remove:
        report = links.unlink(s, markets)
        for e, sym in report.linked:
            say(f"Unlinked {e}:{sym}: it uses its own prices again")
        return
    market = o.market(prices)
    assert market is not None
    report = links.link(s, markets, market)
    for e, sym in report.linked:
        say(f"Linked {e}:{sym}: prices from {market}")
    if not report.linked:
        say("Nothing linked: no series with open interest matches")
