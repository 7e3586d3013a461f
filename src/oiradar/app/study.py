"""``study``: the event study of each signal on each selected series, and the claims' verdicts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from oiradar.app.aggregate import leg_keys
from oiradar.app.availability import with_input_notes
from oiradar.app.batches import (
    LOCAL,
    BatchOptions,
    Indexed,
    Packed,
    Tried,
    estimate_rows,
    plan_batches,
    run_batches,
    settle,
    try_each,
)
from oiradar.app.scan import check_signals
from oiradar.app.series import (
    ALL_VENUES,
    AS_STORED,
    SeriesOptions,
    Skipped,
    each_series,
    load_series,
    series_key,
    studied_keys,
    summary_notes,
)
from oiradar.app.session import Session
from oiradar.app.values import finite_or_none
from oiradar.config import TimeoutRule
from oiradar.errors import InputError
from oiradar.evidence import (
    BASELINES,
    MIN_INTERVAL_EVENTS,
    Claim,
    Judgement,
    StudyConfig,
    StudyResult,
    all_claims,
    control_fdr,
    judge_claims,
    prepare,
    run_signal_study,
    study_config,
    verdict_table,
)
from oiradar.evidence.measures import MeasurePart
from oiradar.evidence.pipeline import measure_parts, signal_arrays
from oiradar.evidence.pooled import (
    MeasureKey,
    PooledResult,
    SeriesPart,
    judge_pooled_claims,
    pool,
    pooled_verdict_table,
    series_part,
)
from oiradar.model import DAY_MS, SeriesKey, Side, Timeframe, parse_symbol
from oiradar.signals import with_liquidations


@dataclass(frozen=True)
class StudyOptions:
    timeframe: Timeframe = Timeframe.H4
    exchange: str | None = None
    symbol: str | None = None
    signals: tuple[str, ...] = ()  # studied besides the claims' (only these claims when given)
    side: Side = Side.SHORT
    horizon: int | None = None  # barrier horizon H in bars (default: [evidence])
    reps: int | None = None  # bootstrap replicates
    timeouts: TimeoutRule | None = None  # how a barrier timeout counts (default: [evidence])
    series: SeriesOptions = AS_STORED  # --prices, --from-timeframe, --margin
    with_total: bool = False  # also the OI summed over the venues of each base (--exchange all)

    def __post_init__(self) -> None:
        check_signals(self.signals)
        for option, value, least in (("--horizon", self.horizon, 1), ("--reps", self.reps, 100)):
            if value is not None and value < least:
                raise InputError(f"{option} must be {least} or more, got {value}")


@dataclass(frozen=True)
class StudyReport:
    config: StudyConfig
    studies: list[dict[str, Any]]  # one row per (series, signal, side): counts, rates, lifts, p
    # series, claim, as stated, measured, baseline, p, q, events, needed, verdict
    verdicts: pl.DataFrame
    timeframe: Timeframe = field(default=Timeframe.H4)
    min_interval_events: int = MIN_INTERVAL_EVENTS  # fewer counted events: no lift interval
    skipped: tuple[Skipped, ...] = ()  # series that could not be studied, and why
    notes: tuple[str, ...] = ()  # how the studied series were built (timeframes, prices, sums)
    measures: bool = False  # some claim is judged on a measure (exit_gain, liq_ratio), not a rate

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable report (``--format json``)."""
        return {"config": asdict(self.config), "studies": self.studies,
                "verdicts": self.verdicts.to_dicts()}  # fmt: skip


def run_studies(session: Session, opts: StudyOptions) -> StudyReport:
    """Study every selected series; judge the built-in and the user's claims on each."""
    settings = session.settings
    cfg = study_config(settings, horizon=opts.horizon, reps=opts.reps, timeouts=opts.timeouts)
    claims = _claims(all_claims(settings), opts)
    keys = studied_keys(session.catalog, opts.exchange, opts.symbol, opts.timeframe,
                        opts.series.prices, opts.series.margin)  # fmt: skip
    keys, total_skipped = _with_totals(session, keys, opts) if opts.with_total else (keys, [])
    rows: list[dict[str, Any]] = []
    judged: list[tuple[SeriesKey, Judgement]] = []

    def study_one(key: SeriesKey) -> tuple[SeriesKey, tuple[str, ...]]:
        loaded = with_input_notes(load_series(session.catalog, key, opts.series))
        key = loaded.key
        prep = prepare(with_liquidations(session.catalog, key, loaded.bars), key, settings)
        results, verdicts = judge_claims(prep, claims, cfg)
        for sig in opts.signals:
            if (sig, opts.side) not in results:
                results[(sig, opts.side)] = run_signal_study(prep, sig, opts.side, cfg)
        rows.extend(study_rows(key, results))
        judged.extend((key, j) for j in verdicts)
        return key, loaded.notes

    # a series that cannot be studied (no prices, too few bars...) is skipped and listed
    done, skipped = each_series(keys, study_one, "study")
    return StudyReport(cfg, rows, verdict_frame(judged, cfg.alpha), opts.timeframe,
                       skipped=(*skipped, *total_skipped),
                       measures=any(not c.is_rate for c in claims),
                       notes=tuple(summary_notes(done)))  # fmt: skip


def _with_totals(
    session: Session, keys: list[SeriesKey], opts: StudyOptions
) -> tuple[list[SeriesKey], list[Skipped]]:
    """``keys`` and, after them, the OI summed over the venues (``--exchange all``) of each base
    asset they hold: its verdicts sit beside each venue's. A base stored on one contract only is
    skipped (its sum is that contract's own OI)."""
    out, skipped = list(keys), []
    for base in dict.fromkeys(parse_symbol(k.symbol)[0] for k in keys if k.exchange != ALL_VENUES):
        total = series_key(ALL_VENUES, base, opts.timeframe, opts.series.margin)
        if total in out:
            continue
        legs = leg_keys(session.catalog, total, opts.series)
        if len(legs) < 2:
            why = f"--with-total: {base} is stored on one contract; its sum is that contract's OI"
            skipped.append(Skipped(f"{total.exchange} {total.symbol}", why))
            continue
        out.append(total)
    return out, skipped


@dataclass(frozen=True)
class PooledReport:
    """The pooled study (``study --pooled``): one row per (signal, side) pooled over every studied
    series, the pooled verdict table, and each series' own study (the rows ``run_studies`` gives)."""

    config: StudyConfig
    timeframes: tuple[Timeframe, ...]
    block_ms: int  # the calendar blocks the bootstrap resamples
    pooled: list[dict[str, Any]]  # per (signal, side): counts, rates, lifts with two-way intervals
    # claim, as stated, series, events, reversals, rate(_low/_high), measured, baseline, p, q,
    # deff, effective, needed, years, years_needed, verdict
    verdicts: pl.DataFrame
    series: list[dict[str, Any]]  # per (series, signal, side): study_rows of each series alone
    min_interval_events: int = MIN_INTERVAL_EVENTS
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[str, ...] = ()
    measures: bool = False  # some claim is judged on a measure (exit_gain, liq_ratio), not a rate

    @property
    def block_days(self) -> float:
        return self.block_ms / DAY_MS

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable report (``study --pooled --format json``)."""
        return {"config": asdict(self.config), "timeframes": [t.value for t in self.timeframes],
                "block_days": self.block_days, "pooled": self.pooled,
                "verdicts": self.verdicts.to_dicts(), "series": self.series,
                "skipped": [asdict(s) for s in self.skipped]}  # fmt: skip


def pooled_study(
    session: Session, opts: StudyOptions, *, timeframes: Sequence[Timeframe] = (),
    block_days: float | None = None, batch: BatchOptions = LOCAL,
) -> PooledReport:  # fmt: skip
    """Pool every selected series (``timeframes``: several, default ``opts.timeframe``) into one
    verdict per claim, with two-way (series x calendar block) bootstrap intervals
    (:mod:`oiradar.evidence.pooled`). Series are read and studied in batches (``batch``, default
    ``[performance]``; ``--executor ray``: one Ray task per batch), each series reduced to its own
    study and its per-block sums; a series that cannot be studied is skipped and listed.
    ``block_days``: the calendar block (default: the study's block, 2 x horizon bars, of the
    longest timeframe)."""
    settings = session.settings
    cfg = study_config(settings, horizon=opts.horizon, reps=opts.reps, timeouts=opts.timeouts)
    tfs = tuple(dict.fromkeys(timeframes or (opts.timeframe,)))
    block_ms = _block_ms(cfg, tfs, block_days)
    claims = _claims(all_claims(settings), opts)
    wanted = list(dict.fromkeys([*((c.signal, c.side) for c in claims if c.is_rate),
                                 *((s, opts.side) for s in opts.signals)]))  # fmt: skip
    measured = tuple(dict.fromkeys((c.metric, c.signal, c.side) for c in claims if not c.is_rate))
    keys = [k for tf in tfs for k in studied_keys(session.catalog, opts.exchange, opts.symbol, tf,
                                                  opts.series.prices, opts.series.margin)]  # fmt: skip
    b = batch.resolved(settings)
    rows_of = partial(estimate_rows, session.catalog) if len(keys) > 1 else None
    plan = plan_batches(keys, b.series or 1, b.rows, rows_of)
    task = (opts, len(tfs) > 1, wanted, cfg, block_ms, len(keys) == 1, measured)
    tried = [t for out in run_batches(session, pooled_batch, task, plan, b) for t in out]
    done, skipped = settle(tried, "pooled study")
    pooled = _pool_each(done, wanted, cfg, block_ms)
    table = pooled_verdict_table(judge_pooled_claims(
        claims, pooled, [d.measures for d in done], [d.unavailable for d in done], cfg))  # fmt: skip
    rows = [r for d in done for r in d.rows]
    return PooledReport(cfg, tfs, block_ms, [pooled_row(r) for r in pooled.values()], table, rows,
                        skipped=tuple(skipped), measures=bool(measured),
                        notes=tuple(summary_notes([(d.key, d.notes) for d in done])))  # fmt: skip


@dataclass(frozen=True)
class StudiedSeries:
    """What the pooled study keeps of one series: its parts (own study, per-block sums) per
    (signal, side), its rows of the per-series breakdown and how its bars were built."""

    key: SeriesKey
    notes: tuple[str, ...]
    parts: dict[tuple[str, Side], SeriesPart]  # without their per-block sums (``packed``)
    rows: list[dict[str, Any]]
    measures: dict[MeasureKey, MeasurePart] = field(default_factory=dict)  # non-rate claims'
    unavailable: Mapping[str, str] = field(default_factory=dict)  # what it cannot measure, why
    packed: dict[tuple[str, Side], Packed] = field(default_factory=dict)  # the per-block sums


def pooled_batch(
    session: Session, opts: StudyOptions, several_tfs: bool, wanted: list[tuple[str, Side]],
    cfg: StudyConfig, block_ms: int, strict: bool, measured: tuple[MeasureKey, ...],
    batch: Indexed,
) -> list[Tried[StudiedSeries]]:  # fmt: skip
    """One batch of :func:`pooled_study`: each series read, studied and reduced in turn (its bars
    and features dropped before the next is read); ``strict``: a failure is raised, not skipped."""

    def study_one(key: SeriesKey) -> StudiedSeries:
        loaded = load_series(session.catalog, key, opts.series)
        key = loaded.key
        bars = with_liquidations(session.catalog, key, loaded.bars)
        prep = prepare(bars, key, session.settings)
        label = f"{key.exchange} {key.symbol}" + (f" {key.timeframe}" if several_tfs else "")
        done = {w: series_part(label, signal_arrays(prep, *w), w[1], cfg, block_ms) for w in wanted
                if w[0] not in prep.unavailable}  # fmt: skip
        rows = study_rows(key, {w: part.result for w, part in done.items()})
        measures = measure_parts(prep, label, measured, cfg, block_ms)
        # the sums held packed (counts as small integers, exactly): 2.5x less memory per series
        packed = {w: Packed.of(part.sums) for w, part in done.items()}
        slim = {w: replace(part, sums=np.empty((0, part.sums.shape[1])))  # not a view: freed
                for w, part in done.items()}  # fmt: skip
        return StudiedSeries(key, loaded.notes, slim, rows, measures, prep.unavailable,
                             packed=packed)

    return try_each(batch, study_one, strict)


def _pool_each(
    done: Sequence[StudiedSeries], wanted: Sequence[tuple[str, Side]], cfg: StudyConfig,
    block_ms: int,
) -> dict[tuple[str, Side], PooledResult]:  # fmt: skip
    """Pool each (signal, side) in turn, unpacking its per-block sums only while it is pooled."""
    out = {}
    for w in wanted:
        have = [d for d in done if w in d.parts]
        if have:
            res = pool([d.parts[w] for d in have], w[0], w[1], cfg, block_ms,
                       sums=[d.packed[w].unpack for d in have])  # fmt: skip
            out[w] = replace(res, parts=tuple(d.parts[w] for d in have))
    return out


def _block_ms(cfg: StudyConfig, tfs: Sequence[Timeframe], block_days: float | None) -> int:
    if block_days is not None:
        if not (math.isfinite(block_days) and block_days > 0):
            raise InputError(f"--block-days must be a number of days above 0, got {block_days!r}")
        return round(block_days * DAY_MS)
    return cfg.block_bars * max(tf.ms for tf in tfs)


def pooled_row(r: PooledResult) -> dict[str, Any]:
    """One JSON-ready row of a pooled study: the fields of :func:`study_rows` (summed counts,
    rates and lifts with two-way intervals), the series pooled, symbol-years, calendar blocks,
    the design effect and the effective events."""
    f = finite_or_none
    row: dict[str, Any] = {
        "signal": r.signal, "side": str(r.side), "series": r.n_series,
        "symbol_years": r.years, "blocks": r.n_blocks, "signals": r.n_signals,
        "events": r.n_events, "wins": r.wins, "losses": r.losses, "timeouts": r.timeouts,
        "counted": r.n_counted, "reversals": r.rate.wins, "rate": f(r.rate.rate),
        "rate_low": f(r.rate.interval.low) if r.interval_shown else None,
        "rate_high": f(r.rate.interval.high) if r.interval_shown else None,
        "deff": f(r.deff), "effective": f(r.effective_events),
        "events_per_year": f(r.events_per_year),
    }  # fmt: skip
    for b in BASELINES:
        row.update(_baseline_cells(r, b))
    for h, iv in r.forward.items():
        row[f"fwd_{h}"] = f(iv.estimate)
        row[f"fwd_{h}_low"] = f(iv.low) if r.interval_shown else None
        row[f"fwd_{h}_high"] = f(iv.high) if r.interval_shown else None
    return row


def verdict_frame(judged: list[tuple[SeriesKey, Judgement]], alpha: float) -> pl.DataFrame:
    """The verdict table of every series, Benjamini-Hochberg applied over all of its rows."""
    adjusted = control_fdr([j for _, j in judged], alpha)
    series = pl.Series("series", [f"{k.exchange} {k.symbol}" for k, _ in judged], dtype=pl.String)
    return verdict_table(adjusted).select(series, pl.all())


def _claims(claims: list[Claim], opts: StudyOptions) -> list[Claim]:
    if not opts.signals:
        return claims
    return [c for c in claims if c.signal in opts.signals and c.side == opts.side]


def study_rows(key: SeriesKey, results: dict[tuple[str, Side], StudyResult]) -> list[dict[str, Any]]:
    """One JSON-ready row per study: barrier outcomes (wins, losses, timeouts), the events counted
    under the timeout rule, the event rate and each baseline with their Wilson intervals, each lift
    with its bootstrap interval (none below ``MIN_INTERVAL_EVENTS`` counted events) and p, the
    mean forward returns with their bootstrap intervals (none below ``MIN_INTERVAL_EVENTS``
    events), and the excursions (non-finite as None)."""
    f = finite_or_none
    rows = []
    for (signal, side), r in results.items():
        row: dict[str, Any] = {
            "exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value,
            "signal": signal, "side": str(side), "signals": r.n_signals, "events": r.n_events,
            "wins": r.wins, "losses": r.losses, "timeouts": r.timeouts, "counted": r.n_counted,
            "reversals": r.rate.wins, "rate": f(r.rate.rate),
            "rate_low": f(r.rate.interval.low) if r.n_counted else None,
            "rate_high": f(r.rate.interval.high) if r.n_counted else None,
        }  # fmt: skip
        for b in BASELINES:
            row.update(_baseline_cells(r, b))
        few = r.n_events < MIN_INTERVAL_EVENTS  # every event's return counts, timeouts too
        for h, iv in r.forward.items():
            row[f"fwd_{h}"] = f(iv.estimate)
            row[f"fwd_{h}_low"] = None if few else f(iv.low)
            row[f"fwd_{h}_high"] = None if few else f(iv.high)
        row["mfe"], row["mae"] = f(r.mfe), f(r.mae)
        rows.append(row)
    return rows


def _baseline_cells(r: StudyResult | PooledResult, b: str) -> dict[str, Any]:
    f = finite_or_none
    base, lift, seen = r.baselines[b], r.lift[b], r.baseline_outcomes[b]
    base = base if base is not None and base.n > 0 else None
    shown = lift if lift is not None and r.interval_shown else None
    return {
        f"base_{b}": None if base is None else f(base.rate),
        f"base_{b}_low": None if base is None else f(base.interval.low),
        f"base_{b}_high": None if base is None else f(base.interval.high),
        f"base_{b}_n": None if base is None else base.n,
        f"base_{b}_wins": None if seen is None else seen.wins,
        f"base_{b}_losses": None if seen is None else seen.losses,
        f"base_{b}_timeouts": None if seen is None else seen.timeouts,
        f"lift_{b}": None if lift is None else f(lift.estimate),
        f"lift_{b}_low": None if shown is None else f(shown.low),
        f"lift_{b}_high": None if shown is None else f(shown.high),
        f"p_{b}": f(r.p_value[b]),
    }


__all__ = ["PooledReport", "StudiedSeries", "StudyOptions", "StudyReport", "pooled_batch", "pooled_row",
           "pooled_study", "run_studies", "study_rows", "verdict_frame"]  # fmt: skip
