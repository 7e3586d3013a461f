"""Liquidation commands: ``liqprice`` (a calculator) and ``liqmap`` (the estimated map).

Everything ``liqmap`` prints is **estimated** from OI, volume and an assumed leverage mix; realized
liquidations stored in the catalog are only used by ``--score``, to grade the estimate.
"""

from __future__ import annotations

from typing import Annotated

import typer

from oiradar.cli import options as o
from oiradar.cli.context import CommandSet, session
from oiradar.errors import InputError
from oiradar.render.formats import OutFormat

MIX_HELP = "Leverage mix: a preset (default, clustered10x, conservative, ...) or '5:0.5,10:0.5'"

commands = CommandSet()


@commands.add("liqprice")
def liqprice_cmd(
    side: Annotated[str, typer.Option("--side", help="long or short")],
    entry: Annotated[float, typer.Option("--entry", help="Entry price")],
    leverage: Annotated[float, typer.Option("--leverage", help="Leverage, e.g. 10")],
    qty: Annotated[float, typer.Option("--qty", help="Base units (linear) or USD face value (inverse)")] = 1.0,
    mmr: Annotated[float | None, typer.Option("--mmr", help="Maintenance margin rate; default: the venue's tier")] = None,
    cum: Annotated[float, typer.Option("--cum", help="Maintenance amount with --mmr")] = 0.0,
    inverse: Annotated[bool, typer.Option("--inverse", help="Coin-margined contract")] = False,
    exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", "-s", help="ccxt symbol, picks the tier table")] = None,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False,
) -> None:  # fmt: skip
    """Liquidation price of an isolated position (Binance formulas, notional tiers)."""
    from oiradar.app.liqprice import LiqPriceQuery, liquidation_price
    from oiradar.render.liq import show_liqprice

    q = LiqPriceQuery(o.side(side), entry, leverage, qty, mmr, cum, inverse, exchange, symbol)
    show_liqprice(liquidation_price(q), o.out_format(fmt, as_json))


@commands.add("liqmap")
def liqmap_cmd(
    ctx: typer.Context,
    exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
    timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "1h",
    at: Annotated[str | None, typer.Option("--at", help="Map as of this UTC date/time (closed bars only)")] = None,
    mix: Annotated[str | None, typer.Option("--mix", help=MIX_HELP)] = None,
    moves: Annotated[str | None, typer.Option("--moves", help="Price moves in %, e.g. -10,-5,5,10")] = None,
    to: Annotated[float | None, typer.Option("--to", help="Also: the cascade if price moved to this level")] = None,
    impact: Annotated[float | None, typer.Option("--impact", help="Amplification: % move per $1M liquidated")] = None,
    score: Annotated[bool, typer.Option("--score", help="Grade the map against stored realized liquidations")] = False,
    walk_forward: Annotated[bool, typer.Option("--walk-forward", help="Score: fit the mix, ageing and churn on the past, score the next period; every venue with realized liquidations unless -e/-s")] = False,
    folds: Annotated[int, typer.Option("--folds", help="With --walk-forward: periods scored, each fitted on the ones before")] = 5,
    half_life: Annotated[float | None, typer.Option("--half-life", help="Levels lose half their notional every this many bars (default: never)")] = None,
    churn: Annotated[float | None, typer.Option("--churn", help="Share of the OI closed and opened again each bar (default 0)")] = None,
    prices: o.Prices = None, price_from: o.PriceFrom = None, from_tf: o.FromTf = None,
    what_if: Annotated[bool, typer.Option("--what-if", help="No catalog: a synthetic book from --oi-usd etc.")] = False,
    oi_usd: Annotated[float | None, typer.Option("--oi-usd", help="What-if: total OI in USD")] = None,
    entry_distance: Annotated[float, typer.Option("--entry-distance", help="What-if: average entry vs price (0.05 = 5 % above)")] = 0.0,
    price: Annotated[float | None, typer.Option("--price", help="What-if: current price")] = None,
    long_share: Annotated[float, typer.Option("--long-share", help="What-if: share of OI held by longs")] = 0.5,
    spread: Annotated[float, typer.Option("--spread", help="What-if: entries spread +-this around the average")] = 0.0,
    fmt: o.Format = OutFormat.TABLE, as_json: o.Json = False, wide: o.Wide = False,
) -> None:  # fmt: skip
    """Estimated liquidation map: nearest clusters and the cascade estimate (with a band over
    leverage-mix presets); --score grades it against realized liquidations; --walk-forward fits
    its free parameters on the past and scores the next period against a no-OI baseline."""
    from oiradar.app import liqmap as lm
    from oiradar.render import liq

    fmt, s = o.out_format(fmt, as_json), session(ctx)
    so = o.series(prices, from_tf, price_from=price_from)
    opts = lm.MapOptions(mix, o.moves(moves), to, impact, so.prices, o.date(at, "--at"),
                         so.from_timeframe, lm.turnover_of(half_life, churn))  # fmt: skip
    if what_if:
        if oi_usd is None or price is None:
            raise InputError("--what-if needs --oi-usd and --price")
        w = lm.WhatIfOptions(oi_usd, price, entry_distance, long_share, spread, exchange, symbol)
        liq.show_what_if(lm.what_if(s, w, opts), fmt, wide)
        return
    if walk_forward:
        venues = tuple(e.strip() for e in (exchange or "").split(",") if e.strip())
        wf = lm.WalkForwardOptions(o.timeframe(timeframe), venues, symbol, folds)
        fitted = lm.walk_forward_scores(s, wf, opts)
        from oiradar.render.notes import show_notes

        show_notes(dict.fromkeys(n for r in fitted.reports for n in r.notes), fitted.skipped)
        liq.show_walk_forward(fitted, fmt, wide)
        return
    if not (exchange and symbol):
        raise InputError("liqmap needs --exchange and --symbol (or --what-if)")
    from oiradar.model import SeriesKey

    key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=o.timeframe(timeframe))
    from oiradar.render.notes import show_notes

    if score:
        scored = lm.score_map(s, key, opts)
        show_notes(scored.notes)
        liq.show_score(scored, fmt, wide)
    else:
        mapped = lm.liquidation_map(s, key, opts)
        show_notes(mapped.notes)
        liq.show_map(mapped, fmt, wide)
