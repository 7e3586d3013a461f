"""A pandas peer of the pooled event study's rate claims (``oiradar study --pooled``), written the
way a quant would write it without oiradar's engine: ``bench_universe.py``'s ``pandas_pooled``
side times it against ``pooled_study``, and ``tests/unit/test_bench_pandas_study.py`` checks that
it does the same work (the same counts, the same rates).

It reads nothing of oiradar's study code (``oiradar.evidence.study``, ``outcomes``, ``pooled``,
``pipeline``). What it takes from oiradar: the catalog read and the regular grid (as the ``pandas``
side of ``bench_universe.py``), the pandas oracle of the features and signal states
(``oiradar.features.oracle``), the claims as configured (``oiradar.evidence.claims``: which
(signal, side) to study), the ``[evidence]`` settings, and the random draws and interval helpers
of ``oiradar.stats`` (``block_bootstrap_starts``, ``block_sums``, ``multinomial_weights``,
``percentile_interval``, ``two_way_interval``), so that its intervals come from the same draws.

One series at a time (its bars and features dropped before the next is read):

1. bars: ``catalog.read_bars`` on the regular grid, ``oi`` from ``oi_value / close`` where missing
   (as ``load_series``), the realized liquidations joined per bar (as ``with_liquidations``);
2. features and signal states: ``oracle.features`` and ``oracle.states`` with the symbol's settings;
3. per (signal, side) of the rate claims: the signal's bars (a state's rising edge; an entry as it
   is), deduplicated by the cooldown (a signal counts only ``cooldown`` bars or more after the last
   kept one), then only those with a full outcome;
4. triple-barrier outcomes, vectorised: barriers ``close +- width x ATR``; the first of the next
   ``H`` bars whose high (shifted back ``h`` bars) reaches the upper or whose low reaches the lower
   barrier decides; both in one bar is a loss, none a timeout; no outcome where ATR is not positive,
   the close is missing or ``t + H`` is past the data. Counted and reversal under the timeout rule
   (``exclude``: timeouts out of the rate; ``fail``; ``sign``: the side-adjusted return at ``H``);
5. per-bar columns (counted events and their reversals, every counted bar, the counted bars near
   the high (near the low for a long), per ATR-% quintile the counted bars, their reversals and the
   counted events, per forward horizon the events' and all bars' summed returns and counts), summed
   per calendar block (``ts // block_ms``, ``block_ms`` = 2 x ``H`` bars as oiradar's);
6. the series' own circular block bootstrap (blocks of 2 x ``H`` bars) of the lift over each
   baseline (``all``, ``near_high``, ``matched``: the all-bar rate of each ATR-% quintile weighted by
   the events in it) and of the mean forward returns.

Then per claim, over every series: the totals (the rate is all reversals over all counted events;
``matched`` each series' matched rate weighted by its counted events) and the two-way bootstrap over
(series, calendar block) cells: multinomial weights over the series and over the blocks, replicates
with each alone and with their product, the interval scaled to ``V_series + V_blocks - V_cells``.

Left out, and why:

- the derived signals ``mtf_entry`` (setups read on a coarser timeframe) and ``liq_fade`` (the
  estimated liquidation levels of ``oiradar.liquidations``): ``oiradar.features.oracle`` has no
  pandas definition of them, so the peer cannot match their events (``left_out`` says so);
- the measure claims (``exit_gain``, ``liq_ratio``: not a reversal rate; oiradar's
  ``measure_parts``);
- the per-series excursions (``mfe``, ``mae``) and the p-values, verdicts, design effect and
  events needed (what oiradar derives from these counts and intervals).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oiradar.config import Settings
from oiradar.features import oracle, regular_grid, windows
from oiradar.model import SeriesKey, Side
from oiradar.stats import (
    block_bootstrap_starts,
    block_sums,
    multinomial_weights,
    percentile_interval,
    two_way_interval,
)

FORWARD = (1, 3, 6, 12, 24)  # the forward returns the study reports (bars)
QUINTILES = np.linspace(0, 1, 6)[1:-1]  # the ATR-% quintiles' edges (0.2 .. 0.8)
BASELINES = ("all", "near_high", "matched")
MIN_INTERVAL = 10  # fewer counted events: no interval shown (as oiradar's reports)
# the oracle's state column of each (signal, side): its events are the state's rising edges
STATE = {("oi_extreme", "short"): "oi_extreme_high", ("oi_extreme", "long"): "oi_extreme_low",
         ("watch", "short"): "watch", ("trigger", "short"): "trigger",
         ("divergence", "short"): "divergence", ("trigger", "long"): "trigger_long",
         ("divergence", "long"): "divergence_long", ("entry", "short"): "entry",
         ("entry", "long"): "entry_long"}  # fmt: skip
DERIVED = {
    "mtf_entry": "setups read on a coarser timeframe: oiradar.features.oracle has no pandas "
                 "definition of it",
    "liq_fade": "fades into the estimated liquidation levels: oiradar.features.oracle has no "
                "pandas definition of it",
}  # fmt: skip
_CHUNK = 2_000_000  # floats per replicate chunk
WIN, LOSS, TIMEOUT = 1, -1, 0


@dataclass(frozen=True)
class Evidence:
    """The ``[evidence]`` settings the study reads."""

    horizon: int
    width: float
    cooldown: int
    timeouts: str
    reps: int
    conf: float
    seed: int

    @classmethod
    def of(cls, settings: Settings, reps: int | None = None) -> Evidence:
        ev = settings.evidence
        return cls(ev.horizon, ev.width, ev.horizon if ev.cooldown is None else ev.cooldown,
                   str(ev.timeouts), ev.reps if reps is None else reps, ev.conf, ev.seed)  # fmt: skip

    @property
    def block_bars(self) -> int:
        return max(1, 2 * self.horizon)


@dataclass
class PandasPooled:
    """What :func:`pooled_rate_claims` gives: one row per claim (signal, side) pooled over the
    series, one row per (series, claim), the claims left out with why, the bars read."""

    claims: list[dict[str, Any]]
    series: list[dict[str, Any]]
    left_out: dict[str, str]
    rows: int
    block_ms: int
    notes: list[str] = field(default_factory=list)


def rate_claims(settings: Settings) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The (signal, side) of the configured claims this peer studies, in the claims' order, and
    the claims it leaves out with why."""
    from oiradar.evidence.claims import SEED_CLAIMS, claims_from_config

    wanted: list[tuple[str, str]] = []
    left: dict[str, str] = {}
    for c in [*SEED_CLAIMS, *claims_from_config(settings.evidence.claims)]:
        key = (c.signal, str(c.side))
        if not c.is_rate:
            left[f"{c.name} ({c.metric})"] = "a measure claim, not a reversal rate"
        elif key in STATE:
            if key not in wanted:
                wanted.append(key)
        else:
            left[f"{c.signal}/{c.side}"] = DERIVED.get(c.signal, "no pandas definition")
    return wanted, left


# ------------------------------------------------------------------------- one series
def read_bars(catalog, key: SeriesKey) -> pd.DataFrame:
    """The bars of ``key`` on the regular grid, as pandas, with ``liquidations`` joined."""
    cols = ["ts", "open", "high", "low", "close", "volume", "quote_volume", "oi", "oi_value",
            "complete"]  # fmt: skip
    bars = catalog.read_bars(key)
    bars = bars.select([c for c in cols if c in bars.columns])
    df = regular_grid(bars, key.timeframe).to_pandas()
    for c in cols:
        if c not in df:
            df[c] = np.nan
    df["oi"] = df["oi"].fillna(df["oi_value"] / df["close"])  # OI in USD only: in base units
    liq = catalog.read_liquidations(key.exchange, key.symbol).to_pandas()
    if len(liq) and len(df):
        step = key.timeframe.ms
        per_bar = df["ts"].map(liq.groupby(liq["ts"] - liq["ts"] % step)["quote_qty"].sum())
        inside = (df["ts"] + step > liq["ts"].min()) & (df["ts"] <= liq["ts"].max())
        df["liquidations"] = per_bar.where(~inside, per_bar.fillna(0.0))
    return df


def signal_params(settings: Settings) -> dict[str, Any]:
    s = settings.signals
    return {"z": s.oi_z_alert, "watch_chg": s.watch_chg_7d, "watch_back": s.watch_lookback_bars,
            "newhigh_back": s.trigger_new_high_bars, "down_streak": s.trigger_down_streak,
            "div_dd": s.divergence_dd, "within": s.entry_within_bars, "long": s.long_side}  # fmt: skip


def first_touches(df: pd.DataFrame, atr: pd.Series, ev: Evidence) -> tuple[np.ndarray, ...]:
    """``(up, down, valid)``: the first of the next ``H`` bars reaching the upper / lower barrier
    (``H + 1``: none), and whether the bar has an outcome at all."""
    c, h = df["close"], ev.horizon
    upper, lower = (c + ev.width * atr).to_numpy(), (c - ev.width * atr).to_numpy()
    up, down = np.full(len(df), h + 1), np.full(len(df), h + 1)
    with np.errstate(invalid="ignore"):
        for k in range(h, 0, -1):  # the nearer bar overwrites the farther
            up[(df["high"].shift(-k) >= upper).to_numpy()] = k
            down[(df["low"].shift(-k) <= lower).to_numpy()] = k
    valid = ((atr > 0) & np.isfinite(c)).to_numpy(copy=True)
    valid[max(0, len(df) - h) :] = False  # t + H past the data
    return up, down, valid


def outcomes(up: np.ndarray, down: np.ndarray, side: str, horizon: int) -> np.ndarray:
    """WIN / LOSS / TIMEOUT of every bar for ``side`` (meaningful where the bar is valid)."""
    fav, adv = (down, up) if side == "short" else (up, down)
    first = np.minimum(fav, adv)
    return np.select([first > horizon, adv == first], [TIMEOUT, LOSS], WIN)


def dedupe(fire: np.ndarray, cooldown: int) -> np.ndarray:
    """Keep a signal bar only ``cooldown`` bars or more after the last kept one."""
    keep = np.zeros(fire.size, dtype=bool)
    last = None
    for i in np.flatnonzero(fire):
        if last is None or i - last >= cooldown:
            keep[i], last = True, i
    return keep


def quintiles(atr: pd.Series, close: pd.Series, valid: np.ndarray) -> np.ndarray:
    """ATR-% quintile (0..4: how many edges are at or below it) of each valid bar; -1 elsewhere."""
    pct = (atr / close).to_numpy()
    q = np.full(pct.size, -1)
    if valid.any():
        q[valid] = np.searchsorted(np.quantile(pct[valid], QUINTILES), pct[valid], side="right")
    return q


def columns(events, counted, win, near, quint, fwd: pd.DataFrame) -> pd.DataFrame:
    """The per-bar columns whose sums give every rate: counted events (``ev``) and their reversals,
    counted bars, those near the high, per quintile counted bars, reversals and counted events,
    per forward horizon the events' and every bar's return sums and counts."""
    ec = events & counted
    out = {"ev": ec, "ev_win": ec & win, "cnt": counted, "cnt_win": counted & win,
           "nh": near & counted, "nh_win": near & counted & win}  # fmt: skip
    for j in range(len(QUINTILES) + 1):
        in_q = (quint == j) & counted
        out |= {f"q{j}_cnt": in_q, f"q{j}_win": in_q & win, f"q{j}_ev": ec & in_q}
    cols = pd.DataFrame(out).astype(np.float64)
    for h in FORWARD:
        r = fwd[h].to_numpy()
        ok = np.isfinite(r)
        r = np.where(ok, r, 0.0)
        cols[f"f{h}_ev_sum"], cols[f"f{h}_ev_n"] = r * events, (ok & events).astype(np.float64)
        cols[f"f{h}_sum"], cols[f"f{h}_n"] = r, ok.astype(np.float64)
    return cols


def stats(tot: np.ndarray, ix: dict[str, int]) -> dict[str, np.ndarray]:
    """Rate, baselines and mean forward returns from column sums ``tot`` (``(..., columns)``)."""

    def c(name: str) -> np.ndarray:
        return tot[..., ix[name]]

    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"rate": c("ev_win") / c("ev"), "all": c("cnt_win") / c("cnt"),
               "near_high": c("nh_win") / c("nh")}  # fmt: skip
        n_q = np.stack([c(f"q{j}_cnt") for j in range(5)], axis=-1)
        w_q = np.stack([c(f"q{j}_win") for j in range(5)], axis=-1)
        e_q = np.stack([c(f"q{j}_ev") for j in range(5)], axis=-1)
        r_q = np.where(n_q > 0, w_q / np.where(n_q > 0, n_q, 1.0), 0.0)
        out["matched"] = (e_q * r_q).sum(axis=-1) / e_q.sum(axis=-1)
        for h in FORWARD:
            out[f"fwd_{h}"] = c(f"f{h}_ev_sum") / c(f"f{h}_ev_n")
    return out


def series_bootstrap(cols: np.ndarray, ix: dict[str, int], ev: Evidence) -> dict[str, np.ndarray]:
    """Circular block bootstrap of one series' bars (blocks of 2 x H bars): every statistic per
    replicate, from the block sums of the columns."""
    n = cols.shape[0]
    if ev.reps == 0 or n == 0:
        return stats(np.zeros((0, cols.shape[1])), ix)
    block = min(ev.block_bars, n)
    sums = block_sums(cols, block)
    starts = block_bootstrap_starts(n, block, ev.reps, np.random.default_rng(ev.seed))
    chunk = max(1, 4_000_000 // max(1, starts.shape[1] * cols.shape[1]))
    parts = [stats(sums[starts[i : i + chunk]].sum(axis=1), ix) for i in range(0, ev.reps, chunk)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def study_series(df: pd.DataFrame, f: pd.DataFrame, st: pd.DataFrame, key: SeriesKey,
                 wanted: Sequence[tuple[str, str]], ev: Evidence,
                 block_ms: int) -> dict[tuple[str, str], tuple[dict[str, Any], pd.DataFrame]]:  # fmt: skip
    """Each wanted (signal, side) on one series: its row and its column sums per calendar block."""
    atr, close = f["atr_14"], df["close"]
    up, down, valid = first_touches(df, atr, ev)
    quint = quintiles(atr, close, valid)
    block = (df["ts"] // block_ms).to_numpy()
    out = {}
    for signal, side in wanted:
        sign = Side(side).sign
        o = outcomes(up, down, side, ev.horizon)
        timeout = valid & (o == TIMEOUT)
        at_h = (sign * (close.shift(-ev.horizon) / close - 1)).to_numpy()
        win = valid & (o == WIN)
        counted = valid & ~timeout if ev.timeouts == "exclude" else valid
        if ev.timeouts == "sign":
            with np.errstate(invalid="ignore"):
                win = win | (timeout & (at_h > 0))
        state = st[STATE[(signal, side)]]
        fire = state if signal == "entry" else state & ~state.shift(1, fill_value=False)
        events = dedupe(fire.to_numpy(), ev.cooldown) & valid
        near = (f["near_high" if side == "short" else "near_low"] == 1).to_numpy() & valid
        fwd = pd.DataFrame({h: sign * (close.shift(-h) / close - 1) for h in FORWARD})
        cols = columns(events, counted, win, near, quint, fwd)
        ix = {c: i for i, c in enumerate(cols.columns)}
        mat = cols.to_numpy()
        point = {k: float(v) for k, v in stats(mat.sum(axis=0), ix).items()}
        boot = series_bootstrap(mat, ix, ev)
        k, n = int((events & counted & win).sum()), int((events & counted).sum())
        row: dict[str, Any] = {
            "symbol": key.symbol, "signal": signal, "side": side, "signals": int(fire.sum()),
            "events": int(events.sum()), "wins": int((events & (o == WIN)).sum()),
            "losses": int((events & (o == LOSS)).sum()), "timeouts": int((events & timeout).sum()),
            "counted": n, "reversals": k, "rate": k / n if n else None,
        }  # fmt: skip
        base_n = {"all": int(counted.sum()), "near_high": int((near & counted).sum()),
                  "matched": int(counted.sum()) if n and math.isfinite(point["matched"]) else 0}  # fmt: skip
        for b in BASELINES:
            row[f"base_{b}"] = _f(point[b]) if base_n[b] else None
            lift = None
            if n and base_n[b]:
                lift = percentile_interval(k / n - point[b], boot["rate"] - boot[b], ev.conf)
            row[f"lift_{b}"] = None if lift is None else _f(lift.estimate)
            shown = lift is not None and n >= MIN_INTERVAL
            row[f"lift_{b}_low"] = _f(lift.low) if shown else None  # type: ignore[union-attr]
            row[f"lift_{b}_high"] = _f(lift.high) if shown else None  # type: ignore[union-attr]
        for h in FORWARD:
            iv = percentile_interval(point[f"fwd_{h}"], boot[f"fwd_{h}"], ev.conf)
            shown = row["events"] >= MIN_INTERVAL  # every event's return counts, timeouts too
            row[f"fwd_{h}"] = _f(iv.estimate)
            row[f"fwd_{h}_low"] = _f(iv.low) if shown else None
            row[f"fwd_{h}_high"] = _f(iv.high) if shown else None
        out[(signal, side)] = (row, _block_sums(cols, block))
    return out


def _block_sums(cols: pd.DataFrame, block: np.ndarray) -> pd.DataFrame:
    """Column sums per calendar block, the count columns in the smallest integer type (exact)."""
    sums = cols.groupby(block).sum()
    counts = [c for c in sums.columns if not c.endswith("sum")]
    top = int(sums[counts].to_numpy().max()) if len(sums) else 0
    return sums.astype(dict.fromkeys(counts, np.min_scalar_type(top)))


# ------------------------------------------------------------------------- pooled
def pooled_stats(t: np.ndarray, w: np.ndarray, ix: dict[str, int]) -> dict[str, np.ndarray]:
    """Pooled statistics per replicate from per-series totals ``t`` ``(reps or 1, series, cols)``
    weighted by series weights ``w`` ``(reps, series)``; ``matched`` is each series' own matched
    rate weighted by its (weighted) counted events."""
    tt = np.broadcast_to(t, (w.shape[0], *t.shape[1:]))
    out = stats(np.einsum("rs,rsc->rc", w, tt), ix)
    per = stats(t, ix)["matched"]
    e = t[..., ix["ev"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(e > 0, np.nan_to_num(per) * e, 0.0)
        out["matched"] = (w * m).sum(axis=1) / (w * e).sum(axis=1)
    for b in BASELINES:
        out[f"lift_{b}"] = out["rate"] - out[b]
    return out


def pool(rows: list[dict[str, Any]], sums: list[pd.DataFrame], ev: Evidence) -> dict[str, Any]:
    """One claim over every series: summed counts, the rates of the totals and their two-way
    (series x calendar block) bootstrap intervals."""
    blocks = np.unique(np.concatenate([s.index.to_numpy() for s in sums]))
    names = list(sums[0].columns)
    ix = {c: i for i, c in enumerate(names)}
    cells = np.zeros((blocks.size, len(sums), len(names)))  # (blocks, series, columns)
    for i, s in enumerate(sums):
        cells[np.searchsorted(blocks, s.index.to_numpy()), i] = s.to_numpy(dtype=np.float64)
    totals = cells.sum(axis=0)
    n_b, n_s = cells.shape[:2]
    est = {k: float(v[0]) for k, v in pooled_stats(totals[None], np.ones((1, n_s)), ix).items()}
    v_all = multinomial_weights(n_b, ev.reps, np.random.default_rng([ev.seed, 1]))
    w_all = multinomial_weights(n_s, ev.reps, np.random.default_rng([ev.seed, 2]))
    flat = cells.reshape(n_b, -1)
    reps: dict[str, list[list[np.ndarray]]] = {k: [[], [], []] for k in est}
    step = max(1, _CHUNK // max(1, n_s * len(names)))
    for i in range(0, ev.reps, step):
        v, w = v_all[i : i + step], w_all[i : i + step]
        t = (v @ flat).reshape(v.shape[0], n_s, len(names))
        for j, res in enumerate((pooled_stats(totals[None], w, ix),
                                 pooled_stats(t, np.ones_like(w), ix), pooled_stats(t, w, ix))):  # fmt: skip
            for k in est:
                reps[k][j].append(res[k])
    iv = {k: two_way_interval(est[k], *(np.concatenate(r) if r else np.zeros(0) for r in reps[k]),
                              conf=ev.conf).interval for k in est}  # fmt: skip
    n = sum(r["counted"] for r in rows)
    shown = n >= MIN_INTERVAL
    out: dict[str, Any] = {"signal": rows[0]["signal"], "side": rows[0]["side"], "series": n_s,
                           "blocks": n_b}  # fmt: skip
    for c in ("signals", "events", "wins", "losses", "timeouts", "counted", "reversals"):
        out[c] = sum(r[c] for r in rows)
    out["rate"] = _f(est["rate"]) if n else None
    out["rate_low"] = _f(iv["rate"].low) if n and shown else None
    out["rate_high"] = _f(iv["rate"].high) if n and shown else None
    out["base_all_n"] = int(totals[:, ix["cnt"]].sum())
    out["base_near_high_n"] = int(totals[:, ix["nh"]].sum())
    for b in BASELINES:
        out[f"base_{b}"] = _f(est[b])
        has = n and math.isfinite(est[b])
        out[f"lift_{b}"] = _f(est[f"lift_{b}"]) if has else None
        out[f"lift_{b}_low"] = _f(iv[f"lift_{b}"].low) if has and shown else None
        out[f"lift_{b}_high"] = _f(iv[f"lift_{b}"].high) if has and shown else None
    for h in FORWARD:
        out[f"fwd_{h}"] = _f(est[f"fwd_{h}"])
    return out


def pooled_rate_claims(catalog, keys: Sequence[SeriesKey], settings: Settings | None = None, *,
                       reps: int | None = None) -> PandasPooled:  # fmt: skip
    """The pooled study's rate claims over ``keys`` (one timeframe, in the order ``pooled_study``
    takes them: the catalog's), one series at a time."""
    settings = settings or Settings()
    ev = Evidence.of(settings, reps)
    wanted, left = rate_claims(settings)
    tf = keys[0].timeframe
    if any(k.timeframe != tf for k in keys):
        raise ValueError("pooled_rate_claims: one timeframe at a time")
    block_ms = ev.block_bars * tf.ms
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {w: [] for w in wanted}
    sums: dict[tuple[str, str], list[pd.DataFrame]] = {w: [] for w in wanted}
    n_rows = 0
    for key in keys:
        s = settings.for_symbol(key.symbol)
        fs = s.features
        df = read_bars(catalog, key)
        f = oracle.features(df, windows(tf, s), near_pct=fs.near_pct, rules=fs.rejection_rules,
                            coverage=fs.min_coverage)  # fmt: skip
        st = oracle.states(df, f, signal_params(s))
        for w, (row, block) in study_series(df, f, st, key, wanted, ev, block_ms).items():
            rows[w].append(row)
            sums[w].append(block)
        n_rows += len(df)
        del df, f, st
    claims = [pool(rows[w], sums[w], ev) for w in wanted if rows[w]]
    return PandasPooled(claims, [r for w in wanted for r in rows[w]], left, n_rows, block_ms)


__all__ = ["PandasPooled", "pooled_rate_claims", "rate_claims"]
