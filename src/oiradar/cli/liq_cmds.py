"""Liquidation commands: ``liqprice`` (a calculator) and ``liqmap`` (the estimated map).

Everything ``liqmap`` prints is **estimated** from OI, volume and an assumed leverage mix; realized
liquidations stored in the catalog are only used by ``--score``, to grade the estimate.
"""

from __future__ import annotations

import json
import math
import shlex
from datetime import UTC, datetime
from typing import Annotated, Any

import polars as pl
import typer

from oiradar.cli.context import console, fail, state, styled
from oiradar.cli.data_cmds import OutFormat, parse_date, print_frame
from oiradar.errors import InputError, OiradarError
from oiradar.liquidations.cascade import band, cascade_table, what_if_levels
from oiradar.liquidations.heatmap import MapSpec
from oiradar.liquidations.levels import PRESETS, parse_mix
from oiradar.liquidations.mapview import (
    DEFAULT_MOVES,
    score_mixes,
    score_time_mixes,
    snapshot,
    with_prices,
)
from oiradar.liquidations.prices import liq_price_inverse, liq_price_linear, liq_price_tiered
from oiradar.liquidations.tiers import load_tiers
from oiradar.model import MarginType, SeriesKey, Timeframe, margin_type

BINANCE_USDM = "https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93"
BINANCE_COINM = "https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46"


def _side(text: str) -> int:
    t = text.strip().lower()
    if t in ("long", "buy"):
        return 1
    if t in ("short", "sell"):
        return -1
    raise InputError(f"--side must be long or short, got {text!r}")


def liqprice_result(
    *, side: str, entry: float, leverage: float, qty: float, mmr: float | None, cum: float,
    inverse: bool, exchange: str | None, symbol: str | None,
) -> dict[str, Any]:  # fmt: skip
    """The calculator behind ``oiradar liqprice`` (tiers unless ``mmr`` is given)."""
    s = _side(side)
    if entry <= 0 or leverage < 1 or qty <= 0:
        raise InputError("need --entry > 0, --leverage >= 1 and --qty > 0")
    if symbol:
        inverse = margin_type(symbol) is MarginType.INVERSE
    out: dict[str, Any] = {"side": "long" if s > 0 else "short", "entry": entry, "leverage": leverage,
                           "qty": qty, "inverse": inverse, "kind": "formula",
                           "source": BINANCE_COINM if inverse else BINANCE_USDM}  # fmt: skip
    if mmr is not None:
        f = liq_price_inverse if inverse else liq_price_linear
        lp = float(f(s, entry, leverage, mmr, cum, qty))
        out |= {"mmr": mmr, "cum": cum, "tiers": "given"}
    else:
        sym = symbol or ("BTC/USD:BTC" if inverse else "BTC/USDT:USDT")
        ex = exchange or ("binancecoinm" if inverse else "binanceusdm")
        table = (
            load_tiers(ex, sym)
            if symbol
            else load_tiers(ex, "ANY/USD:ANY" if inverse else "ANY/USDT:USDT")
        )
        r = liq_price_tiered(s, entry, leverage, qty, table, inverse=inverse)
        lp = float(r.price)
        _, _, max_lev = table.lookup(qty / entry if inverse else qty * entry)
        out |= {"mmr": float(r.mmr), "cum": float(r.cum), "tier": int(r.tier) + 1, "tiers": table.origin,
                "max_leverage_at_size": float(max_lev)}  # fmt: skip
        if leverage > float(max_lev):
            out["warning"] = f"{leverage:g}x exceeds the venue's {float(max_lev):g}x for this size"
    out["liq_price"] = lp
    out["distance_pct"] = 100.0 * (lp / entry - 1.0) if math.isfinite(lp) else math.inf
    return out


def _parse_moves(text: str | None) -> tuple[float, ...]:
    if not text:
        return DEFAULT_MOVES
    try:
        return tuple(float(x.strip().rstrip("%")) / 100.0 for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--moves {text!r}: write percents like -10,-5,5,10") from None


def _with_target(moves: tuple[float, ...], to: float, price: float) -> tuple[float, ...]:
    """Add the move that takes ``price`` to ``to`` (``--to``), keeping the table sorted."""
    if to <= 0:
        raise InputError(f"--to must be a price > 0, got {to}")
    return tuple(sorted({*moves, to / price - 1.0}))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _echo_json(obj: dict[str, Any]) -> None:
    def conv(v: Any) -> Any:
        if isinstance(v, pl.DataFrame):
            return v.to_dicts()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    typer.echo(json.dumps({k: conv(v) for k, v in obj.items()}, default=str, indent=1))


def _demo_step(run: Any) -> None:
    """``oiradar demo`` extension: the estimated map's cascade on the demo market, and its score
    against the liquidations the simulator really made."""
    from oiradar.config import Settings

    key = run.key.with_timeframe(Timeframe.H1)
    ls = Settings().liquidations
    try:
        bars = _closed_bars(run.catalog.read_bars(key), key.timeframe.ms, None)
        spec = MapSpec.from_settings(ls, key.exchange, key.symbol)
        snap = snapshot(bars, spec, moves=(-0.10, -0.05, 0.05, 0.10))
    except OiradarError as exc:
        run.notes.append(f"(liquidation-map step skipped: {exc})")
        return
    print_frame(
        _tidy(snap.band),
        OutFormat.TABLE,
        title=f"ESTIMATED cascade on the demo market ({key}, price {snap.price:.4g}): "
        f"liquidated USD if price moved, band over {', '.join(snap.mixes)}",
    )
    home = shlex.quote(str(run.catalog.home))
    run.notes += [
        "Liquidation map (docs/liquidations.md)",
        f"  oiradar --home {home} liqmap -e {key.exchange} -s {key.symbol} -t 1h",
        f"  oiradar --home {home} liqmap -e {key.exchange} -s {key.symbol} -t 1h --score",
    ]


def register(app: typer.Typer) -> None:
    from oiradar.cli.sim_cmds import add_demo_step

    add_demo_step(_demo_step)

    @app.command("liqprice")
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
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:  # fmt: skip
        """Liquidation price of an isolated position (Binance formulas, notional tiers)."""
        try:
            res = liqprice_result(side=side, entry=entry, leverage=leverage, qty=qty, mmr=mmr, cum=cum,
                                  inverse=inverse, exchange=exchange, symbol=symbol)  # fmt: skip
        except OiradarError as exc:
            raise fail(exc) from None
        if as_json:
            _echo_json(res)
            return
        console.print(
            styled(
                "liquidation price",
                "",
                f"{res['liq_price']:.6g} ({res['distance_pct']:+.2f} % from entry)",
            )
        )
        console.print(
            f"tier {res.get('tier', '-')}: mmr {res['mmr']:g}, cum {res['cum']:g} ({res['tiers']})"
        )
        console.print(f"formula: {res['source']}", soft_wrap=True)
        if "warning" in res:
            console.print(styled("warning:", "yellow", str(res["warning"])))

    @app.command("liqmap")
    def liqmap_cmd(
        ctx: typer.Context,
        exchange: Annotated[str | None, typer.Option("--exchange", "-e")] = None,
        symbol: Annotated[str | None, typer.Option("--symbol", "-s")] = None,
        timeframe: Annotated[str, typer.Option("--timeframe", "-t")] = "1h",
        at: Annotated[str | None, typer.Option("--at", help="Map as of this UTC date/time (closed bars only)")] = None,
        mix: Annotated[str | None, typer.Option("--mix", help=f"Leverage mix: {', '.join(PRESETS)} or '5:0.5,10:0.5'")] = None,
        moves: Annotated[str | None, typer.Option("--moves", help="Price moves in %, e.g. -10,-5,5,10")] = None,
        to: Annotated[float | None, typer.Option("--to", help="Also: the cascade if price moved to this level")] = None,
        impact: Annotated[float | None, typer.Option("--impact", help="Amplification: % move per $1M liquidated")] = None,
        score: Annotated[bool, typer.Option("--score", help="Grade the map against stored realized liquidations")] = False,
        price_from: Annotated[str | None, typer.Option("--price-from", help="EXCHANGE:SYMBOL whose OHLC fills bars that have none (e.g. Coinalyze OI)")] = None,
        what_if: Annotated[bool, typer.Option("--what-if", help="No catalog: a synthetic book from --oi-usd etc.")] = False,
        oi_usd: Annotated[float | None, typer.Option("--oi-usd", help="What-if: total OI in USD")] = None,
        entry_distance: Annotated[float, typer.Option("--entry-distance", help="What-if: average entry vs price (0.05 = 5 % above)")] = 0.0,
        price: Annotated[float | None, typer.Option("--price", help="What-if: current price")] = None,
        long_share: Annotated[float, typer.Option("--long-share", help="What-if: share of OI held by longs")] = 0.5,
        spread: Annotated[float, typer.Option("--spread", help="What-if: entries spread +-this around the average")] = 0.0,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:  # fmt: skip
        """Estimated liquidation map: nearest clusters and the cascade estimate (with a band over
        leverage-mix presets); --score grades it against realized liquidations."""
        st = state(ctx)
        ls = st.settings.liquidations
        try:
            spec = MapSpec.from_settings(
                ls, exchange or "binanceusdm", symbol or "BTC/USDT:USDT", mix
            )
            imp = ls.impact_pct_per_musd if impact is None else impact
            mv = _parse_moves(moves)
            if what_if:
                if to is not None and price:
                    mv = _with_target(mv, to, price)
                _what_if(spec, oi_usd, price, entry_distance, long_share, spread, mv, imp, as_json)
                return
            if not (exchange and symbol):
                raise InputError("liqmap needs --exchange and --symbol (or --what-if)")
            key = SeriesKey(exchange=exchange, symbol=symbol, timeframe=Timeframe.parse(timeframe))
            raw = st.catalog.read_bars(key)
            if price_from:
                raw = with_prices(raw, st.catalog.read_bars(_price_key(price_from, key.timeframe)))
            bars = _closed_bars(raw, key.timeframe.ms, parse_date(at, "--at"))
            if score:
                _score(st.catalog, key, bars, spec, ls.bootstrap, as_json)
                return
            if to is not None:
                mv = _with_target(mv, to, float(bars["close"][-1]))
            _show(snapshot(bars, spec, moves=mv, impact_pct_per_musd=imp,
                           cluster_min_share=ls.cluster_min_share), spec, key, as_json)  # fmt: skip
        except OiradarError as exc:
            raise fail(exc) from None


def _tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Round for reading: USD amounts to whole dollars, other floats to 4 decimals."""
    return frame.with_columns(
        pl.col(c).round(0).cast(pl.Int64) if "usd" in c else pl.col(c).round(4)
        for c, t in frame.schema.items()
        if t == pl.Float64 and frame[c].is_finite().all()
    )


def _price_key(text: str, timeframe: Timeframe) -> SeriesKey:
    exchange, sep, symbol = text.partition(":")
    if not sep or not symbol:
        raise InputError(f"--price-from {text!r}: write EXCHANGE:SYMBOL, e.g. binance:BTC/USDT")
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=timeframe)


def _closed_bars(bars: pl.DataFrame, bar_ms: int, at: int | None) -> pl.DataFrame:
    if at is not None:
        bars = bars.filter(pl.col("ts") + bar_ms <= at)
    if "complete" in bars.columns:
        bars = bars.filter(pl.col("complete"))
    if bars.height < 2 or bars["oi"].drop_nulls().len() < 2:
        raise InputError(
            "not enough bars with open interest for a liquidation map (need >= 2 with oi)"
        )
    return bars


def _show(snap: Any, spec: MapSpec, key: SeriesKey, as_json: bool) -> None:
    head = {
        "kind": "estimated", "series": str(key), "bar": _iso(snap.ts), "price": snap.price,
        "mix": spec.mix.describe(), "est_open_long_usd": snap.open_long_usd,
        "est_open_short_usd": snap.open_short_usd, "band_over": list(snap.mixes),
    }  # fmt: skip
    if as_json:
        _echo_json(head | {"clusters": snap.clusters, "cascade": snap.cascade, "band": snap.band})
        return
    console.print(
        styled(
            "ESTIMATED",
            "bold",
            f"liquidation map, {key} after the bar of {head['bar']} UTC, price {snap.price:.6g}",
        )
    )
    console.print(
        f"leverage mix: {head['mix']}; estimated open notional: long ${snap.open_long_usd:,.0f}, short ${snap.open_short_usd:,.0f}"
    )
    print_frame(
        _tidy(snap.clusters),
        OutFormat.TABLE,
        title="Estimated clusters (nearest significant and largest)",
    )
    print_frame(
        _tidy(snap.cascade),
        OutFormat.TABLE,
        title="Estimated cascade: liquidated if price moved by",
    )
    print_frame(
        _tidy(snap.band),
        OutFormat.TABLE,
        title=f"Band over leverage mixes: {', '.join(snap.mixes)}",
    )


def _score(
    catalog: Any, key: SeriesKey, bars: pl.DataFrame, spec: MapSpec, n_boot: int, as_json: bool
) -> None:
    liqs = catalog.read_liquidations(key.exchange, key.symbol)
    liqs = liqs.filter(
        pl.col("quote_qty").is_not_null()
        | (pl.col("price").is_not_null() & pl.col("qty").is_not_null())
    )
    if liqs.is_empty():
        raise InputError(
            f"no realized liquidations stored for {key.exchange} {key.symbol}; import some first (oiradar import ...)"
        )
    liqs = liqs.with_columns(
        pl.coalesce("quote_qty", pl.col("qty") * pl.col("price")).alias("quote_qty")
    )
    span = (int(bars["ts"][0]), int(bars["ts"][-1]) + key.timeframe.ms)
    liqs = liqs.filter(pl.col("ts").is_between(span[0], span[1], closed="left"))
    if liqs.is_empty():
        raise InputError(
            f"no realized liquidations of {key.exchange} {key.symbol} fall inside the bars "
            f"({_iso(span[0])} .. {_iso(span[1])} UTC)"
        )
    priced = liqs.filter(pl.col("price").is_not_null() & (pl.col("price") > 0))
    if priced.height:
        how = (
            "share of realized notional in the model's top-quartile PRICE bins (of the bar's range)"
        )
        table = score_mixes(bars, priced, spec, key.timeframe.ms, n_boot=n_boot)
    else:
        how = "share of realized notional on the model's top-quartile BARS (records have no price)"
        table = score_time_mixes(bars, liqs, spec, key.timeframe.ms, n_boot=n_boot)
    if as_json:
        _echo_json(
            {"kind": "estimated vs realized", "series": str(key), "method": how, "score": table}
        )
        return
    console.print(
        f"Score of the ESTIMATED map against {liqs.height} REALIZED liquidation records, {key}: {how}, vs chance"
    )
    print_frame(_tidy(table), OutFormat.TABLE)


def _what_if(spec: MapSpec, oi_usd: float | None, price: float | None, d: float, long_share: float,
             spread: float, moves: tuple[float, ...], impact: float, as_json: bool) -> None:  # fmt: skip
    if oi_usd is None or price is None:
        raise InputError("--what-if needs --oi-usd and --price")
    tables, main = {}, None
    for name in dict.fromkeys([spec.mix.name, *PRESETS]):
        w = what_if_levels(oi_usd=oi_usd, price=price, entry_distance=d, mix=parse_mix(name), tiers=spec.tiers(),
                           long_share=long_share, spread=spread, position_notional=spec.position_notional,
                           inverse=spec.inverse)  # fmt: skip
        tables[name] = cascade_table(w.levels, price, list(moves))
        main = main or w
    assert main is not None
    casc = cascade_table(main.levels, price, list(moves), impact)
    res = {"kind": "estimated (what-if)", "oi_usd": oi_usd, "price": price, "entry_distance": d,
           "mix": spec.mix.describe(), "tiers": spec.tiers().origin,
           "already_liquidated_usd": main.already_liquidated_usd,
           "levels": main.table, "cascade": casc, "band": band(tables)}  # fmt: skip
    if as_json:
        _echo_json(res)
        return
    console.print(
        styled(
            "ESTIMATED what-if:",
            "bold",
            f"OI ${oi_usd:,.0f}, average entry {d:+.1%} from price {price:g}, mix {res['mix']}",
        )
    )
    print_frame(_tidy(main.table), OutFormat.TABLE, title="Levels by side and leverage")
    if main.already_liquidated_usd > 0:
        console.print(
            f"${main.already_liquidated_usd:,.0f} would already be past its liquidation price (left out)"
        )
    print_frame(_tidy(casc), OutFormat.TABLE, title="Estimated liquidations if price moved by")
    print_frame(
        _tidy(band(tables)), OutFormat.TABLE, title=f"Band over leverage mixes: {', '.join(tables)}"
    )


__all__ = ["liqprice_result", "register"]
