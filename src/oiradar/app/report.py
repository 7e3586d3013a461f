"""``report`` and ``serve``'s symbol page: every number of one series' pictures, from the same use
cases as ``features``, ``scan``, ``study``, ``backtest`` and ``liqmap``.

:func:`report_data` gathers them; the figures (:mod:`oiradar.render.figures`) only draw. A part that
cannot be built (too few bars for the study, no other venue, no OI for the map) is left out and its
reason kept in :attr:`ReportData.missing`, so the page says why instead of drawing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from oiradar.app.aggregate import leg_keys
from oiradar.app.backtest import BacktestOptions, BacktestReport, backtest
from oiradar.app.features import series_features
from oiradar.app.liqmap import closed_bars, map_spec
from oiradar.app.scan import ScanOptions, scan_events
from oiradar.app.series import AS_STORED, SeriesOptions, load_series, series_key
from oiradar.app.session import Session
from oiradar.app.study import StudyOptions, run_studies
from oiradar.errors import InputError, OiradarError
from oiradar.liquidations.heatmap import LABEL, build_heatmap
from oiradar.liquidations.levels import PriceGrid, level_inputs
from oiradar.model import SeriesKey, Side, Timeframe
from oiradar.timeutil import iso_utc

# The feature columns the pictures draw (features' own names, so a test can compare them).
CHART_COLUMNS = ("ts", "open", "high", "low", "close", "volume", "oi", "oi_ma_30d", "oi_sd_30d",
                 "oi_z_30d", "oi_chg_7d", "oi_vol_ratio", "vol_ma_20d", "funding_rate", "phase",
                 "complete")  # fmt: skip
HEAT_BINS = 120  # price bins of the drawn heatmap (a screen is a few hundred pixels tall)
HEAT_COLUMNS = 720  # at most this many time columns: every k-th bar's levels beyond that
CROSS_SIGNALS = ("exchange_divergence", "margin_divergence")


@dataclass(frozen=True)
class ReportOptions:
    exchange: str
    symbol: str
    timeframe: Timeframe = Timeframe.H4
    since: int | None = None  # epoch ms: draw the bars from then on (computed on all of them)
    series: SeriesOptions = AS_STORED  # --prices, --from-timeframe
    signal: str = "entry"  # the backtest's entry signal
    side: Side = Side.SHORT
    heatmap: bool = True
    heat_bins: int = HEAT_BINS
    heat_columns: int = HEAT_COLUMNS
    study: bool = True  # the verdict table (the slowest part: its bootstrap)
    backtest: bool = True

    def __post_init__(self) -> None:
        if self.heat_bins < 10 or self.heat_columns < 10:
            raise InputError("the heatmap needs at least 10 price bins and 10 time columns")


@dataclass(frozen=True)
class Heat:
    """The ESTIMATED liquidation heatmap: open notional (USD) by liquidation price after each drawn
    bar. ``long``/``short`` are ``len(ts) x len(price)`` (float32); ``price`` the bins' middles."""

    ts: np.ndarray
    price: np.ndarray
    long: np.ndarray
    short: np.ndarray
    every: int  # one column per ``every`` bars
    mix: str
    label: str = LABEL


@dataclass(frozen=True)
class ReportData:
    key: SeriesKey
    bars: pl.DataFrame  # CHART_COLUMNS of the drawn bars (``features``' values)
    events: pl.DataFrame  # ``scan``'s events of this series, cross-venue ones included
    venues: pl.DataFrame  # ts, venue, oi (base units): the contracts of the same base asset
    heat: Heat | None
    verdicts: pl.DataFrame  # ``study``'s verdict table of this series
    studies: list[dict[str, Any]]
    backtest: BacktestReport | None
    notes: tuple[str, ...] = ()
    missing: dict[str, str] = field(default_factory=dict)  # part -> why it is not drawn
    z_alert: float = 2.0  # the OI z-score's alert level ([signals] oi_z_alert)

    @property
    def title(self) -> str:
        return f"{self.key.exchange} {self.key.symbol} {self.key.timeframe.value}"


def report_data(session: Session, opts: ReportOptions) -> ReportData:
    """Every number of the report of one series; a failing part is recorded in ``missing``."""
    key = series_key(opts.exchange, opts.symbol, opts.timeframe)
    feats = series_features(session, key, None, opts.series)  # the series itself must load
    key, frame = feats.key, feats.frame
    shown = frame if opts.since is None else frame.filter(pl.col("ts") >= opts.since)
    if shown.is_empty():  # the series loaded, so it has bars: all of them before --since
        last = int(frame["ts"][-1])
        raise InputError(f"{key}: no bar from --since on; the stored bars end {iso_utc(last)} UTC")
    missing: dict[str, str] = {}
    start = int(shown["ts"][0])
    events = _part(missing, "signals", lambda: _events(session, key, opts, start), _no_events())
    venues = _part(missing, "venues", lambda: _venues(session, key, opts, start), _no_venues())
    heat = _part(missing, "heatmap", lambda: _heat(session, key, opts, start), None) \
        if opts.heatmap else None  # fmt: skip
    verdicts, studies = pl.DataFrame(), []
    if opts.study:
        study = _part(missing, "verdicts", lambda: run_studies(session, _study_opts(key, opts)), None)
        if study is not None:
            verdicts, studies = study.verdicts, study.studies
    bt = _part(missing, "backtest", lambda: backtest(session, _bt_opts(key, opts)), None) \
        if opts.backtest else None  # fmt: skip
    cols = [c for c in CHART_COLUMNS if c in shown.columns]
    z_alert = session.settings.for_symbol(key.symbol).signals.oi_z_alert
    return ReportData(key, shown.select(cols), events, venues, heat, verdicts, studies, bt,
                      feats.notes, missing, z_alert)  # fmt: skip


def _part(missing: dict[str, str], name: str, build: Any, empty: Any) -> Any:
    try:
        return build()
    except OiradarError as exc:
        missing[name] = str(exc)
        return empty


def _no_events() -> pl.DataFrame:
    return pl.DataFrame(schema={"ts": pl.Int64, "exchange": pl.String, "symbol": pl.String,
                                "signal": pl.String, "side": pl.String, "close": pl.Float64,
                                "why": pl.String})  # fmt: skip


def _no_venues() -> pl.DataFrame:
    return pl.DataFrame(schema={"ts": pl.Int64, "venue": pl.String, "oi": pl.Float64})


def _events(session: Session, key: SeriesKey, opts: ReportOptions, start: int) -> pl.DataFrame:
    """``scan``'s events of the series' symbol on every stored venue (so the cross-venue signals
    see the others), kept for this series and for the cross-venue signals of its base asset."""
    scan = scan_events(session, ScanOptions(timeframe=key.timeframe, symbols=(key.symbol,),
                                            since=start, series=opts.series))  # fmt: skip
    ev = scan.events
    own = (pl.col("exchange") == key.exchange) & (pl.col("symbol") == key.symbol)
    return ev.filter(own | pl.col("signal").is_in(CROSS_SIGNALS))


def _venues(session: Session, key: SeriesKey, opts: ReportOptions, start: int) -> pl.DataFrame:
    """The OI in base units of every stored contract of the base asset (``--exchange all``'s legs)."""
    legs = []
    catalog = session.catalog
    for leg in leg_keys(catalog, key, replace(opts.series, prices=None)):
        try:
            loaded = load_series(catalog, leg, replace(opts.series, prices=None), need=("oi",))
        except OiradarError:
            continue  # a leg that cannot be read only adds context
        legs.append(loaded.bars.filter(pl.col("ts") >= start).select(
            "ts", pl.lit(f"{leg.exchange} {leg.symbol}").alias("venue"),
            pl.col("oi").cast(pl.Float64)))  # fmt: skip
    if len(legs) < 2:
        raise InputError("one venue only: store the same contract of another venue "
                         "(oiradar fetch) to compare OI across venues")  # fmt: skip
    return pl.concat(legs).drop_nulls("oi").sort("venue", "ts")


def _heat(session: Session, key: SeriesKey, opts: ReportOptions, start: int) -> Heat:
    """The level model over every closed bar (positions opened before ``start`` still count),
    drawn from ``start`` on a grid around the drawn prices, at most ``heat_columns`` columns."""
    loaded = load_series(session.catalog, key, opts.series)
    bars = closed_bars(loaded.bars, key.timeframe.ms)
    spec = replace(map_spec(session.settings.liquidations, key.exchange, key.symbol, None),
                   bins=opts.heat_bins)  # fmt: skip
    inputs = level_inputs(bars, spec.colour_long_share)
    drawn = bars["ts"].to_numpy() >= start
    if not drawn.any():
        raise InputError("no closed bar with OI from --since on")
    every = max(1, -(-int(drawn.sum()) // opts.heat_columns))
    grid = PriceGrid.around(inputs.low[drawn], inputs.high[drawn], opts.heat_bins, 0.15)
    run = build_heatmap(bars, spec, grid=grid, record_every=every, inputs=inputs)
    ts = run.ts[run.row_bar]
    keep = ts >= start
    edges = run.grid.edges
    return Heat(ts[keep], (edges[:-1] + edges[1:]) / 2, run.heat_long[keep], run.heat_short[keep],
                every, spec.mix.describe())  # fmt: skip


def _study_opts(key: SeriesKey, opts: ReportOptions) -> StudyOptions:
    return StudyOptions(timeframe=key.timeframe, exchange=key.exchange, symbol=key.symbol,
                        series=opts.series)  # fmt: skip


def _bt_opts(key: SeriesKey, opts: ReportOptions) -> BacktestOptions:
    return BacktestOptions(timeframe=key.timeframe, exchange=key.exchange, symbol=key.symbol,
                           signal=opts.signal, side=opts.side, series=opts.series)  # fmt: skip


__all__ = ["CHART_COLUMNS", "Heat", "ReportData", "ReportOptions", "report_data"]
