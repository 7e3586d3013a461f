"""Run the simulator and package its output: bars, liquidations, ground truth, regimes.

Time step: one minute, aggregated into bars of the requested timeframe (documented in
``docs/simulator.md``). A warm-up of ``warmup_days`` before ``start`` builds the initial book of
positions; its bars are discarded, the positions still open at ``start`` are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from oiradar.errors import InputError, StoreError
from oiradar.model import (
    LIQUIDATION_SCHEMA,
    MINUTE_MS,
    SeriesKey,
    Source,
    Timeframe,
    conform_bars,
    side_names,
)
from oiradar.sim import engine as E
from oiradar.sim.params import SimParams, check_linear, resolve_params
from oiradar.sim.plant import PlantSpec, plant_log_rows, plant_state
from oiradar.sim.regimes import REGIMES, Segments, labels_at, schedule, transition_matrix
from oiradar.store import (
    Catalog,
    WriteResult,
    clear_ground_truth,
    read_ground_truth_params,
    write_ground_truth,
)
from oiradar.timeutil import day_start_ms

Progress = Callable[[int, int], None]  # (steps done, steps total)
CHUNK_STEPS = 5 * 1440
EXIT_REASONS = ("open", "closed", "liquidated")
POSITION_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "side": pl.String, "entry_ts": pl.Int64, "entry_price": pl.Float64,
    "qty": pl.Float64, "leverage": pl.Float64, "mmr": pl.Float64, "cum": pl.Float64,
    "liq_price": pl.Float64,
    "exit_ts": pl.Int64, "exit_price": pl.Float64, "exit_reason": pl.String,
}  # fmt: skip


@dataclass(frozen=True, kw_only=True, slots=True)
class SimWrite:
    """What :meth:`SimResult.write` changed in the catalog."""

    bars: WriteResult
    liquidations: WriteResult

    @property
    def unchanged(self) -> bool:
        return self.bars.unchanged and self.liquidations.unchanged


@dataclass(frozen=True, kw_only=True)
class SimResult:
    """One simulated market: what a venue would publish plus the ground truth behind it."""

    bars: pl.DataFrame  # canonical bar columns (oiradar.model.BAR_SCHEMA), source "sim"
    liquidations: pl.DataFrame  # LIQUIDATION_SCHEMA columns, side = the liquidated position's side
    positions: pl.DataFrame  # every position open at any time in [start, end): POSITION_SCHEMA
    regimes: pl.DataFrame  # ts, regime (OI/leverage chain), price_regime (price chain)
    params: dict[str, Any]  # the SimParams plus seed, days, timeframe, start (and the overlay's)
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)  # more ground truth (an overlay's)

    @property
    def timeframe(self) -> Timeframe:
        return Timeframe(self.params["timeframe"])

    def key(self, exchange: str = "sim", symbol: str | None = None) -> SeriesKey:
        if symbol is not None:
            check_linear(symbol)
        return SeriesKey(
            exchange=exchange, symbol=symbol or self.params["symbol"], timeframe=self.timeframe
        )

    def write(
        self,
        catalog: Catalog,
        exchange: str = "sim",
        symbol: str | None = None,
        *,
        replace: bool = False,
    ) -> SimWrite:
        """Write bars and liquidations to the catalog, the ground truth beside it.

        Ground truth goes to ``<home>/sim/<exchange>/<symbol-slug>/`` (``positions.parquet``,
        ``regimes.parquet``, ``params.json``). ``symbol`` defaults to the preset's symbol.
        Writing the same simulation again changes nothing. A *different* simulation under the same
        (exchange, symbol) is refused unless ``replace``, which first deletes the old one: two
        markets merged into one series would be neither.
        """
        key = self.key(exchange, symbol)
        meta = _normalised({**self.params, "exchange": exchange, "symbol": key.symbol})
        stored = read_ground_truth_params(catalog, exchange, key.symbol)
        if stored is not None and stored != meta:
            if not replace:
                raise StoreError(
                    f"{exchange} {key.symbol} already holds a different simulation "
                    f"(preset {stored.get('preset')}, seed {stored.get('seed')}, days "
                    f"{stored.get('days')}); pass --replace to overwrite it, or --exchange NAME"
                )
            clear_simulation(catalog, exchange, key.symbol)
        elif stored is None and replace:
            clear_simulation(catalog, exchange, key.symbol)
        bars = catalog.write_bars(key, self.bars, source=Source.SIM)
        liq = self.liquidations.with_columns(
            pl.lit(exchange).alias("exchange"), pl.lit(key.symbol).alias("symbol")
        )
        liquidations = catalog.write_liquidations(liq, source=Source.SIM)
        truth = {"positions": self.positions, "regimes": self.regimes, **self.extra}
        write_ground_truth(catalog, exchange, key.symbol, truth, meta)
        return SimWrite(bars=bars, liquidations=liquidations)


def clear_simulation(catalog: Catalog, exchange: str, symbol: str) -> None:
    """Delete every stored bar series, the liquidations and the ground truth of (exchange, symbol).

    Both go through the store (:meth:`Catalog.delete_series`, :func:`clear_ground_truth`), under
    one hold of the catalog lock: other writers see the simulation whole or gone.
    """
    with catalog.lock():
        catalog.delete_series(exchange, symbol)
        clear_ground_truth(catalog, exchange, symbol)


def _normalised(meta: dict[str, Any]) -> dict[str, Any]:
    """The params as they read back from JSON (tuples become lists), for comparison."""
    return dict(json.loads(json.dumps(meta)))


DEFAULT_START_MS = day_start_ms(date(2024, 1, 1))
PLANTED_SCHEMA: dict[str, Any] = {
    "ts": pl.Int64, "outcome": pl.String, "close": pl.Float64, "atr": pl.Float64,
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Overlay:
    """What a universe adds to one market (``oiradar.sim.universe``); all optional.

    ``exo``: one log-price move per one-minute step, warm-up included (``warmup_days`` before
    ``start``): the market factor and noise, moving price and the regimes' targets together.
    ``crashes``: ``(epoch ms, hours)`` of cascades forced on both regime chains. ``plant``: a
    known outcome after each ``divergence`` event (:mod:`oiradar.sim.plant`). ``meta`` joins the
    stored params; ``positions=False`` leaves the positions out of the result (a universe's
    ground truth is its factor, crashes and planted events).
    """

    exo: np.ndarray | None = None
    crashes: tuple[tuple[int, int], ...] = ()
    plant: PlantSpec | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    positions: bool = True


def simulate(
    preset: str = "ksm",
    days: int = 365,
    seed: int = 7,
    timeframe: Timeframe = Timeframe.M5,
    start: int = DEFAULT_START_MS,
    *,
    progress: Progress | None = None,
    overlay: Overlay | None = None,
    **overrides: Any,
) -> SimResult:
    """Simulate ``days`` of a perpetual market from ``start`` (epoch ms, on the ``timeframe``
    grid); a pure function of its arguments. Text is parsed by the caller (``Timeframe.parse``,
    ``oiradar.timeutil.parse_instant``)."""
    params = resolve_params(preset, **overrides)
    _check_grid(days, timeframe, start)
    ov = overlay or Overlay()
    spb = timeframe.ms // MINUTE_MS
    warm = params.warmup_days * 1440
    steps = days * 1440
    ts0 = start - warm * MINUTE_MS
    forced = tuple(((ms - ts0) // MINUTE_MS, hours) for ms, hours in ov.crashes)
    seeds = np.random.SeedSequence(seed).spawn(4)  # price chain, OI chain, engine, planting
    pseg, oseg = _segments(params, seeds[0], seeds[1], warm, steps, forced)
    run = _Run(params, seeds[2], warm=warm, steps=steps, spb=spb, ts0=ts0)
    run.overlay(ov, days, timeframe, seeds[3])
    run.execute(pseg, oseg, progress)
    meta = {
        **params.to_dict(), "seed": seed, "days": days, "timeframe": timeframe.value,
        "start": start, "step_ms": MINUTE_MS, **ov.meta,
    }  # fmt: skip
    extra = {} if ov.exo is None else {"market": run.outside_frame(start, timeframe)}
    if ov.plant is not None:
        extra["planted"] = run.planted_frame(start, ov.plant)
    return SimResult(
        bars=run.bars_frame(start, timeframe),
        liquidations=run.liquidations_frame(start, params.symbol),
        positions=run.positions_frame(start) if ov.positions else _no_positions(),
        regimes=_regimes_frame(pseg, oseg, warm, steps, spb, start, timeframe),
        params=meta,
        extra=extra,
    )


def _no_positions() -> pl.DataFrame:
    return pl.DataFrame(schema=POSITION_SCHEMA)


def _check_grid(days: int, tf: Timeframe, start_ms: int) -> None:
    if days < 1:
        raise InputError("days must be >= 1", column="days", value=days)
    if start_ms % tf.ms:
        raise InputError(
            f"start must be aligned to the {tf.value} grid (UTC)", column="start", value=start_ms
        )
    if (days * 1440 * MINUTE_MS) % tf.ms:
        raise InputError(f"days must hold whole {tf.value} bars", column="days", value=days)


def _segments(
    params: SimParams, s_price: np.random.SeedSequence, s_oi: np.random.SeedSequence,
    warm: int, steps: int, forced: tuple[tuple[int, int], ...] = (),
) -> tuple[Segments, Segments]:  # fmt: skip
    """Price and OI segments: one chain for both (coupled) or two independent chains (null);
    ``forced`` cascades (first step, hours) cut into both."""
    trans = transition_matrix(params.reversal_prob)

    def chain(seed: np.random.SeedSequence) -> Segments:
        rng = np.random.default_rng(seed)
        return schedule(
            rng, warm_steps=warm, steps=steps, transitions=trans,
            tilt_scale=params.long_tilt_scale, forced=forced,
        )  # fmt: skip

    price_chain = chain(s_price)
    return (price_chain, price_chain) if params.coupled else (price_chain, chain(s_oi))


def _regimes_frame(
    pseg: Segments, oseg: Segments, warm: int, steps: int, spb: int, start_ms: int, tf: Timeframe
) -> pl.DataFrame:
    """One label per bar: the regime in force at the bar's first step."""
    first = warm + np.arange(0, steps, spb, dtype=np.int64)
    names = np.array([r.value for r in REGIMES])
    return pl.DataFrame(
        {
            "ts": start_ms + np.arange(first.size, dtype=np.int64) * tf.ms,
            "regime": names[labels_at(oseg, first)],
            "price_regime": names[labels_at(pseg, first)],
        }
    )


class _Run:
    """The engine's arrays, grown when the kernel runs out of room, and their conversion to frames."""

    def __init__(
        self,
        p: SimParams,
        seed: np.random.SeedSequence,
        *,
        warm: int,
        steps: int,
        spb: int,
        ts0: int,
    ) -> None:
        self.p, self.warm, self.steps = p, warm, steps
        total = warm + steps
        est = int(total * p.trade_rate * 2.5) + 4 * E.STEP_HEADROOM
        self.pos_f = np.empty((est, 8))
        self.pos_i = np.empty((est, 5), dtype=np.int64)
        self.slot = np.empty(est, dtype=np.int64)
        self.buckets = np.empty((2, len(p.lots), 8 * E.STEP_HEADROOM), dtype=np.int64)
        self.counts = np.zeros((2, len(p.lots)), dtype=np.int64)
        self.liq_i = np.empty((max(est // 8, 4 * E.STEP_HEADROOM), 2), dtype=np.int64)
        self.liq_f = np.empty(self.liq_i.shape[0])
        n_bars = steps // spb
        self.bars = np.zeros((n_bars, E.N_BAR_COLS))
        self.funding = np.full(n_bars, np.nan)
        self.rng = np.array([seed.generate_state(1, np.uint64)[0]], dtype=np.uint64)
        lp0 = np.log(p.price0)
        self.st = np.zeros(E.N_STATE)
        self.st[[E.S_LP, E.S_LPS]] = lp0
        self.st[E.S_BL], self.st[E.S_BS] = -np.inf, np.inf
        self.st[E.S_LOS] = np.log(0.01 * p.oi0)
        self.ist = np.zeros(E.N_ISTATE, dtype=np.int64)
        phi = float(np.exp(-1.0 / (p.sentiment_hours * 60.0)))
        self.pf = np.array([
            p.depth, p.liq_impact, p.trade_rate, p.churn_ratio, p.premium_k,
            p.interest, p.interest_clamp, p.funding_cap, phi, p.sentiment_sd * np.sqrt(1 - phi * phi),
            lp0, np.log(p.oi0), 0.01 * p.oi0, p.liq_ref_qty, p.stop_share, p.stop_frac,
            p.churn_floor,
        ])  # fmt: skip
        self.pi = np.array([ts0, MINUTE_MS, warm, spb, p.funding_hours * 3_600_000], dtype=np.int64)
        self.lots = np.asarray(p.lots, dtype=np.float64)
        self.lot_cum = _cum(p.lot_weights)
        self.levs = np.asarray(p.leverages, dtype=np.float64)
        w = np.asarray(p.leverage_weights)
        self.lev_cum = _cum(w)
        self.lev_cum_hi = _cum(np.where(self.levs >= 25, w, 0.0))
        self.lev_cum_lo = _cum(np.where(self.levs <= 10, w, 0.0))
        self.tiers = np.asarray(p.mmr_tiers, dtype=np.float64)
        self.brackets = np.asarray(p.leverage_brackets, dtype=np.float64)
        self.exo = np.empty(0)
        self.pp, self.ps, self.plog = np.empty(0), plant_state(), np.empty((0, 4))
        self.prng = np.zeros(1, dtype=np.uint64)

    def overlay(
        self, ov: Overlay, days: int, tf: Timeframe, seed: np.random.SeedSequence
    ) -> None:
        """Take a universe's outside moves and planting (checked against this run's steps). The
        planted outcomes come from a stream of their own: the k-th event counted gets the k-th
        draw, whatever the market did before it."""
        if ov.exo is not None:
            if ov.exo.shape != (self.warm + self.steps,):
                raise InputError(
                    f"exo must hold one move per step ({self.warm + self.steps}), got {ov.exo.shape}"
                )
            self.exo = np.ascontiguousarray(ov.exo, dtype=np.float64)
        if ov.plant is not None:
            self.pp = ov.plant.vector(tf)
            self.prng = np.array([seed.generate_state(1, np.uint64)[0]], dtype=np.uint64)
            self.plog = np.full((plant_log_rows(days, ov.plant), 4), np.nan)

    def execute(self, pseg: Segments, oseg: Segments, progress: Progress | None) -> None:
        k, total = 0, self.warm + self.steps
        while k < total:
            code, k = E.simulate_steps(
                k, min(k + CHUNK_STEPS, total), self.rng, self.st, self.ist, self.pf, self.pi,
                pseg.bounds, pseg.price, oseg.bounds, oseg.oi,
                self.lots, self.lot_cum, self.levs, self.lev_cum, self.lev_cum_hi, self.lev_cum_lo,
                self.tiers, self.brackets, self.pos_f, self.pos_i, self.slot, self.buckets, self.counts,
                self.liq_i, self.liq_f, self.bars, self.funding,
                self.exo, self.pp, self.ps, self.plog, self.prng,
            )  # fmt: skip
            self._grow(code)
            if progress is not None:
                progress(max(0, k - self.warm), self.steps)

    def _grow(self, code: int) -> None:
        if code == E.NEED_POSITIONS:
            self.pos_f = _double(self.pos_f)
            self.pos_i = _double(self.pos_i)
            self.slot = _double(self.slot)
        elif code == E.NEED_BUCKETS:
            self.buckets = np.concatenate([self.buckets, np.empty_like(self.buckets)], axis=2)
        elif code == E.NEED_LIQ_LOG:
            self.liq_i = _double(self.liq_i)
            self.liq_f = _double(self.liq_f)

    def bars_frame(self, start_ms: int, tf: Timeframe) -> pl.DataFrame:
        b = self.bars
        frame = pl.DataFrame(
            {
                "ts": start_ms + np.arange(b.shape[0], dtype=np.int64) * tf.ms,
                "open": b[:, E.B_OPEN], "high": b[:, E.B_HIGH], "low": b[:, E.B_LOW],
                "close": b[:, E.B_CLOSE], "volume": b[:, E.B_VOL], "quote_volume": b[:, E.B_QVOL],
                "taker_buy_volume": b[:, E.B_TBV], "oi": b[:, E.B_OI],
                "oi_value": b[:, E.B_OI] * b[:, E.B_CLOSE],
                "funding_rate": self.funding,
            }
        ).with_columns(
            pl.col("funding_rate").fill_nan(None),
            pl.col("oi").alias("oi_raw"),
            pl.lit("base").alias("oi_unit"),
            pl.lit(False).alias("quote_volume_estimated"),
            pl.lit(Source.SIM.value).alias("source"),
        )  # fmt: skip
        return conform_bars(frame)

    def outside_frame(self, start_ms: int, tf: Timeframe) -> pl.DataFrame:
        """The sum of the outside moves (log price) at each bar's close."""
        ts = start_ms + np.arange(self.bars.shape[0], dtype=np.int64) * tf.ms
        return pl.DataFrame({"ts": ts, "outside": self.bars[:, E.B_X].copy()})

    def planted_frame(self, start_ms: int, spec: PlantSpec) -> pl.DataFrame:
        """Every event the study will count, at the open time of its planting bar, with the outcome
        planted (null where no ATR was known yet), the bar's close and its ATR."""
        log = self.plog[: int(self.ps[E.PS_N])]
        names = np.array([None, "reversal", "no reversal"], dtype=object)
        code = log[:, E.L_OUTCOME].astype(np.int64)  # 0 none, 1 reversal, -1 none
        frame = pl.DataFrame(
            {
                "ts": start_ms + log[:, E.L_BAR].astype(np.int64) * Timeframe(spec.timeframe).ms,
                "outcome": pl.Series(names[np.where(code < 0, 2, code)], dtype=pl.String),
                "close": log[:, E.L_CLOSE], "atr": log[:, E.L_ATR],
            }
        )  # fmt: skip
        return frame.with_columns(pl.col("atr").fill_nan(None)).cast(PLANTED_SCHEMA)  # type: ignore[arg-type]

    def liquidations_frame(self, start_ms: int, symbol: str) -> pl.DataFrame:
        n = int(self.ist[E.N_LIQ])
        ts, pid, price = self.liq_i[:n, 0], self.liq_i[:n, 1], self.liq_f[:n]
        keep = ts >= start_ms
        pid = pid[keep]
        qty = self.pos_f[pid, E.F_QTY]
        side = side_names(self.pos_i[pid, E.I_SIDE])
        frame = pl.DataFrame(
            {
                "ts": ts[keep], "exchange": "sim", "symbol": symbol, "side": side,
                "price": price[keep], "qty": qty, "quote_qty": price[keep] * qty,
                "source": Source.SIM.value,
            }
        )  # fmt: skip
        return frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("ingested_at")).select(
            [pl.col(c).cast(t) for c, t in LIQUIDATION_SCHEMA.items()]
        )

    def positions_frame(self, start_ms: int) -> pl.DataFrame:
        n = int(self.ist[E.N_POS])
        f, i = self.pos_f[:n], self.pos_i[:n]
        exit_ts = i[:, E.I_EXIT_TS]
        keep = (exit_ts < 0) | (exit_ts >= start_ms)  # drop positions that lived only in warm-up
        ids = np.flatnonzero(keep)
        frame = pl.DataFrame(
            {
                "id": ids, "side": side_names(i[ids, E.I_SIDE]),
                "entry_ts": i[ids, E.I_ENTRY_TS], "entry_price": f[ids, E.F_ENTRY],
                "qty": f[ids, E.F_QTY], "leverage": f[ids, E.F_LEV], "mmr": f[ids, E.F_MMR],
                "cum": f[ids, E.F_CUM],
                "liq_price": f[ids, E.F_LIQ], "exit_ts": exit_ts[ids], "exit_price": f[ids, E.F_EXIT],
                "exit_reason": np.array(EXIT_REASONS)[i[ids, E.I_REASON]],
            }
        )  # fmt: skip
        return frame.with_columns(
            pl.when(pl.col("exit_ts") >= 0).then(pl.col("exit_ts")).alias("exit_ts"),
            pl.col("exit_price").fill_nan(None),
        ).select([pl.col(c).cast(t) for c, t in POSITION_SCHEMA.items()])


def _cum(weights: Any) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return c


def _double(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a, np.empty_like(a)], axis=0)
