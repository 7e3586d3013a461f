"""``liqmap``: the estimated liquidation map of a stored series, its score against realized
liquidations, and the what-if map of a synthetic book. Everything here is ESTIMATED from OI,
volume and an assumed leverage mix; realized liquidations only grade the estimate."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from oiradar.app.series import Market, SeriesOptions, Skipped, each_series, load_series
from oiradar.app.session import Session
from oiradar.config import LiquidationSettings
from oiradar.errors import InputError
from oiradar.liquidations import (
    DEFAULT_MOVES,
    PRESETS,
    MapSpec,
    Snapshot,
    Turnover,
    WalkForward,
    band,
    cascade_table,
    parse_mix,
    score_mixes,
    score_time_mixes,
    snapshot,
    walk_forward,
    what_if_levels,
)
from oiradar.model import DAY_MS, SeriesKey, Timeframe
from oiradar.stats import Interval
from oiradar.store import Catalog
from oiradar.timeutil import iso_utc


@dataclass(frozen=True)
class MapOptions:
    mix: str | None = None  # a preset or "5:0.5,10:0.5" (default: [liquidations] mix)
    moves: tuple[float, ...] | None = None  # price moves as fractions (None: DEFAULT_MOVES)
    to: float | None = None  # also the move that takes price to this level
    impact: float | None = None  # % move per $1M liquidated (default: the settings')
    prices: Market | None = None  # --prices: OHLC from this series (default: the price link)
    at: int | None = None  # epoch ms: the map as of then (closed bars only)
    from_timeframe: Timeframe | None = None  # the stored timeframe to build the bars from
    turnover: Turnover | None = None  # --half-life / --churn (default: the model's, none)


def map_spec(ls: LiquidationSettings, exchange: str | None, symbol: str | None, mix: str | None) -> MapSpec:
    return MapSpec.from_settings(ls, exchange or "binanceusdm", symbol or "BTC/USDT:USDT", mix)


def series_spec(ls: LiquidationSettings, key: SeriesKey, opts: MapOptions) -> MapSpec:
    """The map spec of a stored series: the settings, ``--mix``, and ``--half-life``/``--churn``."""
    spec = map_spec(ls, key.exchange, key.symbol, opts.mix)
    return spec if opts.turnover is None else replace(spec, turnover=opts.turnover)


def turnover_of(half_life: float | None, churn: float | None) -> Turnover | None:
    """``--half-life`` / ``--churn``: None when neither is given (the model without turnover)."""
    if half_life is None and churn is None:
        return None
    return Turnover(half_life=math.inf if half_life is None else half_life, churn=churn or 0.0)


@dataclass(frozen=True)
class MapReport:
    key: SeriesKey
    spec: MapSpec
    snap: Snapshot
    notes: tuple[str, ...] = ()  # how the bars were built (stored timeframe, prices)
    warning: str | None = None  # the OI ends long before the mapped bar (see stale_oi)

    def to_dict(self) -> dict[str, Any]:
        s = self.snap
        warn = {} if self.warning is None else {"warning": self.warning}
        return {"kind": "estimated", "series": str(self.key), "bar": iso_utc(s.ts), **warn,
                "price": s.price, "mix": self.spec.mix.describe(),
                "est_open_long_usd": s.open_long_usd, "est_open_short_usd": s.open_short_usd,
                "band_over": list(s.mixes), "clusters": s.clusters, "cascade": s.cascade,
                "band": s.band}  # fmt: skip


def closed_bars(bars: pl.DataFrame, bar_ms: int, at: int | None = None) -> pl.DataFrame:
    """The complete bars closed by ``at``; at least two with OI, else an error. An ``at`` after
    the last bar closed or before the first one did is an error naming both (``--at``): the map
    would otherwise be the latest bar's, or none, without a word."""
    if at is not None:
        check_at(bars, bar_ms, at)
        bars = bars.filter(pl.col("ts") + bar_ms <= at)
    if "complete" in bars.columns:
        bars = bars.filter(pl.col("complete"))
    if bars.height < 2 or bars["oi"].drop_nulls().len() < 2:
        raise InputError(
            "not enough bars with open interest for a liquidation map (need >= 2 with oi)"
        )
    if bars["close"][-1] is None:
        raise InputError(
            f"the last closed bar ({iso_utc(int(bars['ts'][-1]))} UTC) has no price: pass "
            "--prices EXCHANGE:SYMBOL (or --at an earlier time)"
        )
    return bars


def check_at(bars: pl.DataFrame, bar_ms: int, at: int) -> None:
    """``--at`` must fall inside the stored bars: from the first bar's close to the last one's."""
    if bars.is_empty():
        return
    first, last = int(bars["ts"].min()), int(bars["ts"].max())  # type: ignore[arg-type]
    span = (f"the series' bars run from {iso_utc(first)} to {iso_utc(last)} UTC "
            f"(last bar closed {iso_utc(last + bar_ms)} UTC)")  # fmt: skip
    if at > last + bar_ms:
        raise InputError(f"--at {iso_utc(at)} UTC is after the last bar ({iso_utc(last)} UTC): "
                         f"{span}; pass --at {iso_utc(last + bar_ms)!r} or earlier")  # fmt: skip
    if at < first + bar_ms:
        raise InputError(f"--at {iso_utc(at)} UTC is before the first bar closed: {span}; "
                         f"pass --at {iso_utc(first + bar_ms)!r} or later")  # fmt: skip


def _map_bars(
    catalog: Catalog, key: SeriesKey, opts: MapOptions
) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The series' bars with their prices (``--prices``, else its link, else its own), and the
    notes on how they were built: a series without prices is an error naming the fix (the map
    needs a price to place the levels)."""
    loaded = load_series(catalog, key, SeriesOptions(opts.prices, opts.from_timeframe))
    return closed_bars(loaded.bars, key.timeframe.ms, opts.at), loaded.notes


def with_target(moves: tuple[float, ...] | None, to: float | None, price: float) -> tuple[float, ...]:
    """The moves (the default ones if None), with the move that takes ``price`` to ``to``
    (``--to``) added, kept sorted."""
    moves = DEFAULT_MOVES if moves is None else moves
    if to is None:
        return moves
    if to <= 0:
        raise InputError(f"--to must be a price > 0, got {to}")
    return tuple(sorted({*moves, to / price - 1.0}))


def liquidation_map(session: Session, key: SeriesKey, opts: MapOptions) -> MapReport:
    """Nearest clusters, the cascade estimate and its band over the leverage-mix presets."""
    ls = session.settings.liquidations
    spec = series_spec(ls, key, opts)
    bars, notes = _map_bars(session.catalog, key, opts)
    moves = with_target(opts.moves, opts.to, float(bars["close"][-1]))
    impact = ls.impact_pct_per_musd if opts.impact is None else opts.impact
    snap = snapshot(bars, spec, moves=moves, impact_pct_per_musd=impact,
                    cluster_min_share=ls.cluster_min_share)  # fmt: skip
    return MapReport(key, spec, snap, notes, stale_oi(bars, key.timeframe.ms))


STALE_OI_BARS = 3  # the OI may lag the price by this many bars (or a day) without a warning


def stale_oi(bars: pl.DataFrame, bar_ms: int) -> str | None:
    """A warning when the last bar with OI is long before the mapped (last) bar: the map then
    holds the positions of that time, priced at today's close (e.g. OI imported up to 2023 and
    candles up to 2025)."""
    last = int(bars["ts"][-1])
    last_oi = int(bars.filter(pl.col("oi").is_not_null())["ts"][-1])
    gap = last - last_oi
    if gap <= max(STALE_OI_BARS * bar_ms, DAY_MS):
        return None
    ago = f"{gap / DAY_MS:,.0f} days" if gap >= 2 * DAY_MS else f"{gap / 3_600_000:,.0f} hours"
    return (f"the open interest ends at {iso_utc(last_oi)} UTC, {ago} before the mapped bar "
            f"({iso_utc(last)} UTC): the map holds the positions of then, priced at the last close; "
            f"import recent OI, or map that time with --at '{iso_utc(last_oi + bar_ms)}'")  # fmt: skip


@dataclass(frozen=True)
class ScoreReport:
    key: SeriesKey
    n_records: int  # realized liquidation records inside the bars
    method: str
    table: pl.DataFrame
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "estimated vs realized", "series": str(self.key), "method": self.method,
                "score": self.table}  # fmt: skip


BY_PRICE = "share of realized notional in the model's top-quartile PRICE bins (of the bar's range)"
BY_BAR = "share of realized notional on the model's top-quartile BARS (records have no price)"


def score_map(session: Session, key: SeriesKey, opts: MapOptions) -> ScoreReport:
    """Grade the estimated map (each preset mix) against the realized liquidations stored."""
    ls = session.settings.liquidations
    spec = series_spec(ls, key, opts)
    bars, notes = _map_bars(session.catalog, key, opts)
    liqs = _realized(session.catalog, key, bars)
    priced = liqs.filter(pl.col("price").is_not_null() & (pl.col("price") > 0))
    bar_ms = key.timeframe.ms
    if priced.height:
        table = score_mixes(bars, priced, spec, bar_ms, n_boot=ls.bootstrap)
        return ScoreReport(key, liqs.height, BY_PRICE, table, notes)
    table = score_time_mixes(bars, liqs, spec, bar_ms, n_boot=ls.bootstrap)
    return ScoreReport(key, liqs.height, BY_BAR, table, notes)


def _realized(catalog: Catalog, key: SeriesKey, bars: pl.DataFrame) -> pl.DataFrame:
    """Realized records with a notional, inside the span of ``bars``."""
    liqs = catalog.read_liquidations(key.exchange, key.symbol).filter(
        pl.col("quote_qty").is_not_null()
        | (pl.col("price").is_not_null() & pl.col("qty").is_not_null())
    )
    if liqs.is_empty():
        raise InputError(f"no realized liquidations stored for {key.exchange} {key.symbol}; "
                         "import some first (oiradar import ...)")  # fmt: skip
    liqs = liqs.with_columns(
        pl.coalesce("quote_qty", pl.col("qty") * pl.col("price")).alias("quote_qty")
    )
    start, end = int(bars["ts"][0]), int(bars["ts"][-1]) + key.timeframe.ms
    liqs = liqs.filter(pl.col("ts").is_between(start, end, closed="left"))
    if liqs.is_empty():
        raise InputError(
            f"no realized liquidations of {key.exchange} {key.symbol} fall inside the bars "
            f"({iso_utc(start)} .. {iso_utc(end)} UTC)"
        )
    return liqs


@dataclass(frozen=True)
class WalkForwardOptions:
    timeframe: Timeframe
    exchanges: tuple[str, ...] = ()  # none: every venue with realized liquidations stored
    symbol: str | None = None  # none: every symbol with realized liquidations stored
    folds: int = 5


@dataclass(frozen=True)
class WalkForwardReport:
    """One series: the map fitted walk-forward and scored out of sample (ESTIMATED vs REALIZED)."""

    key: SeriesKey
    n_records: int
    folds: int
    mix: str  # the mix the fit starts from (--mix or the settings')
    result: WalkForward
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"series": str(self.key), "exchange": self.key.exchange, "symbol": self.key.symbol,
                "timeframe": str(self.key.timeframe), "method": r.method, "folds": self.folds,
                "records": self.n_records, "scored_bars": r.scored_bars,
                "realized_bars": r.realized_bars, "realized_usd": r.realized_usd,
                **{name: _interval(iv) for name, iv in r.scores.items()},
                "map_minus_baseline": _interval(r.vs_baseline),
                "map_minus_chance": _interval(r.vs_chance), "verdict": r.verdict_baseline,
                "verdict_vs_chance": r.verdict_chance, "start_mix": self.mix,
                "fold_table": r.folds}  # fmt: skip


def _interval(iv: Interval) -> dict[str, float]:
    return {"score": iv.estimate, "lo": iv.low, "hi": iv.high}


@dataclass(frozen=True)
class WalkForwardScores:
    reports: tuple[WalkForwardReport, ...]
    skipped: tuple[Skipped, ...] = ()

    def table(self) -> pl.DataFrame:
        """One row per series: the scores, their intervals and the verdicts (``--format csv``)."""
        rows = []
        for r in self.reports:
            d = r.to_dict()
            row = {k: d[k] for k in ("exchange", "symbol", "timeframe", "scored_bars")}
            for name in ("map", "unfitted", "baseline", "chance", "map_minus_baseline"):
                row |= {name: d[name]["score"], f"{name}_lo": d[name]["lo"],
                        f"{name}_hi": d[name]["hi"]}  # fmt: skip
            rows.append(
                row | {"verdict": d["verdict"], "verdict_vs_chance": d["verdict_vs_chance"]}
            )
        return pl.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "estimated vs realized, walk-forward",
                "venues": [r.to_dict() for r in self.reports],
                "skipped": [{"series": s.series, "why": s.why} for s in self.skipped]}  # fmt: skip


def walk_forward_scores(
    session: Session, wf: WalkForwardOptions, opts: MapOptions
) -> WalkForwardScores:
    """The map's free parameters fitted walk-forward on each series' realized liquidations and
    scored on the period after each fit, beside the no-OI baseline and chance: one report per
    series (every stored venue and symbol with realized records, unless ``wf`` names some)."""
    keys = _walk_forward_keys(session.catalog, wf)
    done, skipped = each_series(
        keys, lambda k: walk_forward_score(session, k, opts, wf.folds), "liqmap --walk-forward"
    )
    return WalkForwardScores(tuple(done), tuple(skipped))


def walk_forward_score(
    session: Session, key: SeriesKey, opts: MapOptions, folds: int = 5
) -> WalkForwardReport:
    ls = session.settings.liquidations
    spec = series_spec(ls, key, opts)
    bars, notes = _map_bars(session.catalog, key, opts)
    liqs = _realized(session.catalog, key, bars)
    result = walk_forward(bars, liqs, spec, key.timeframe.ms, folds=folds, n_boot=ls.bootstrap)
    return WalkForwardReport(key, liqs.height, folds, spec.mix.name, result, notes)


def _walk_forward_keys(catalog: Catalog, wf: WalkForwardOptions) -> list[SeriesKey]:
    """Named venues and symbol as given; otherwise every stored pair with realized records."""
    if wf.exchanges and wf.symbol:
        pairs = [(e, wf.symbol) for e in wf.exchanges]
    else:
        stored = catalog.read_liquidations().select("exchange", "symbol").unique()
        pairs = sorted((e, s) for e, s in stored.iter_rows()
                       if (not wf.exchanges or e in wf.exchanges)
                       and (wf.symbol is None or s == wf.symbol))  # fmt: skip
    if not pairs:
        raise InputError("no realized liquidations stored" + _which(wf) + "; import some first "
                         "(oiradar import ...) or name the series with -e and -s")  # fmt: skip
    return [SeriesKey(exchange=e, symbol=s, timeframe=wf.timeframe) for e, s in pairs]


def _which(wf: WalkForwardOptions) -> str:
    parts = [f"-e {','.join(wf.exchanges)}"] if wf.exchanges else []
    parts += [f"-s {wf.symbol}"] if wf.symbol else []
    return f" for {' '.join(parts)}" if parts else ""


@dataclass(frozen=True)
class WhatIfOptions:
    oi_usd: float
    price: float
    entry_distance: float = 0.0  # average entry vs price (0.05 = 5 % above)
    long_share: float = 0.5
    spread: float = 0.0  # entries spread +- this around the average
    exchange: str | None = None  # picks the tier table
    symbol: str | None = None


@dataclass(frozen=True)
class WhatIfReport:
    opts: WhatIfOptions
    mix: str  # the chosen mix, described
    tiers: str  # the tier table's origin
    already_liquidated_usd: float
    levels: pl.DataFrame  # by side and leverage
    cascade: pl.DataFrame
    band: pl.DataFrame
    band_over: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        o = self.opts
        return {"kind": "estimated (what-if)", "oi_usd": o.oi_usd, "price": o.price,
                "entry_distance": o.entry_distance, "mix": self.mix, "tiers": self.tiers,
                "already_liquidated_usd": self.already_liquidated_usd, "levels": self.levels,
                "cascade": self.cascade, "band": self.band}  # fmt: skip


def what_if(session: Session, w: WhatIfOptions, opts: MapOptions) -> WhatIfReport:
    """A synthetic book of ``oi_usd`` with entries ``entry_distance`` from ``price``, no catalog."""
    ls = session.settings.liquidations
    spec = map_spec(ls, w.exchange, w.symbol, opts.mix)
    moves = list(with_target(opts.moves, opts.to, w.price))
    tables, main = {}, None
    for name in dict.fromkeys([spec.mix.name, *PRESETS]):
        book = what_if_levels(oi_usd=w.oi_usd, price=w.price, entry_distance=w.entry_distance,
                              mix=parse_mix(name), tiers=spec.tiers(), long_share=w.long_share,
                              spread=w.spread, position_notional=spec.position_notional,
                              inverse=spec.inverse)  # fmt: skip
        tables[name] = cascade_table(book.levels, w.price, moves)
        main = main or book
    assert main is not None
    impact = ls.impact_pct_per_musd if opts.impact is None else opts.impact
    casc = cascade_table(main.levels, w.price, moves, impact)
    return WhatIfReport(w, spec.mix.describe(), spec.tiers().origin, main.already_liquidated_usd,
                        main.table, casc, band(tables), tuple(tables))  # fmt: skip


__all__ = [
    "MapOptions",
    "MapReport",
    "ScoreReport",
    "WalkForwardOptions",
    "WalkForwardReport",
    "WalkForwardScores",
    "WhatIfOptions",
    "WhatIfReport",
    "closed_bars",
    "liquidation_map",
    "map_spec",
    "score_map",
    "series_spec",
    "stale_oi",
    "turnover_of",
    "walk_forward_score",
    "walk_forward_scores",
    "what_if",
    "with_target",
]
