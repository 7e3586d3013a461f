"""Parameter sweeps with walk-forward validation, a hold-out the sweep never sees, FDR control and the
deflated Sharpe ratio of the best configuration (SPEC section 5, "Many parameters").

Windows over the ``n`` bars of a series: the last ``holdout`` fraction is set aside; the development
part is cut into ``folds + 1`` equal segments ``b_0 = 0 < b_1 < ... < b_{folds+1}``. Every
configuration is run on each training window ``[0, b_k)``, each test window ``[b_k, b_{k+1})``
(``k = 1 .. folds``) and the whole development part. Walk-forward: at fold ``k`` the configuration with
the best training metric is chosen and its test metric recorded (out of sample). Then the best
configuration on the whole development part is run **once** on the hold-out.

Each configuration's development Sharpe ratio gets a one-sided p-value ``1 - PSR(SR, 0)`` (skew- and
kurtosis-aware); Benjamini-Hochberg controls the false discovery rate over the grid; the deflated
Sharpe ratio discounts the best one for the number of configurations tried.

Executors: ``local`` (processes, default), ``threads`` (numba threads in this process) and ``ray``.
All run :func:`run_batch`, so they give identical numbers.
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import tomllib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
import polars as pl
from numpy.typing import NDArray

from oiradar import stats
from oiradar.backtest import engine as eng
from oiradar.backtest.params import TradeParams, margin_table
from oiradar.backtest.run import BacktestInputs, metrics_from_summary, run_backtest
from oiradar.errors import ConfigError

N_PRM = 15
METRICS = ("sharpe", "sortino", "total_return", "expectancy_r", "profit_factor")
EXECUTORS = ("local", "threads", "ray")


def param_row(p: TradeParams) -> NDArray[np.float64]:
    """A configuration as the float row :func:`run_batch` reads (the order of ``engine.run_core``;
    ``mmr`` is the flat tier's rate, used only for a series without tiers)."""
    lev = p.effective_leverage
    return np.array([p.side.sign, p.risk, p.scale_by_oi, lev, p.mmr, p.fee, p.slippage, p.stop_lookback,
                     p.stop_atr, p.use_stop, p.take_profit_r, p.time_stop, p.thesis_streak,
                     p.initial_equity, p.entry_bar_stops], dtype=np.float64)  # fmt: skip


@nb.njit(parallel=True, cache=True)
def run_batch(
    open_, high, low, close, atr, entries, streak, oi_z, funding, entry_idx, prm, windows,
    formula, tiers, mfee, in_base, flat,
):  # fmt: skip
    """Summaries ``(configs, windows, N_SUMMARY)``: configuration ``c`` (row ``prm[c]``, entry signal
    ``entries[entry_idx[c]]``) on bars ``[windows[w, 0], windows[w, 1])``. Parallel over configs.
    ``formula tiers mfee in_base``: the venue's tiers (:func:`~oiradar.backtest.params.margin_table`);
    ``flat``: they are the one flat tier, whose rate is each configuration's ``mmr``."""
    nc, nw = prm.shape[0], windows.shape[0]
    out = np.zeros((nc, nw, eng.N_SUMMARY))
    dummy_t = np.zeros((1, eng.N_TCOLS))
    dummy_c = np.zeros(1)
    dummy_b = np.zeros(1, dtype=np.bool_)
    for c in nb.prange(nc):
        r = prm[c]
        ent = entries[entry_idx[c]]
        tc = np.empty(tiers.shape)  # a copy: writable whatever the executor passed
        tc[:] = tiers
        if flat:
            tc[0, 1] = r[4]
        for w in range(nw):
            summ, _ = eng.run_core(
                open_, high, low, close, atr, ent, streak, oi_z, funding,
                int(r[0]), r[1], r[2] > 0, r[3], formula, tc, mfee, in_base, r[5], r[6],
                int(r[7]), r[8], r[9] > 0, r[10], int(r[11]), int(r[12]), r[14] > 0, r[13],
                windows[w, 0], windows[w, 1], False, dummy_t, dummy_c, dummy_b,
            )  # fmt: skip
            out[c, w] = summ
    return out


@dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """A grid over trade parameters (and over named entry signals), and the validation design."""

    params: dict[str, list[Any]] = field(default_factory=dict)
    signals: dict[str, list[Any]] = field(default_factory=dict)  # resolved by the caller
    folds: int = 4
    holdout: float = 0.2
    metric: str = "sharpe"
    q: float = 0.05
    base: TradeParams = field(default_factory=TradeParams)

    def __post_init__(self) -> None:
        valid = [f.name for f in fields(TradeParams)]
        for key, values in self.params.items():
            if key not in valid:
                close = difflib.get_close_matches(key, valid, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(
                    f"unknown sweep parameter {key!r}{hint} (valid: {', '.join(valid)})"
                )
            if not isinstance(values, list) or not values:
                raise ConfigError(f"sweep parameter {key!r} needs a non-empty list of values")
        if self.metric not in METRICS:
            raise ConfigError(f"sweep metric must be one of {METRICS}, got {self.metric!r}")
        if self.folds < 1 or not 0 <= self.holdout < 1:
            raise ConfigError(
                f"need folds >= 1 and 0 <= holdout < 1, got {self.folds}, {self.holdout}"
            )

    def configs(self) -> list[TradeParams]:
        """The cartesian product of the parameter lists over ``base``."""
        keys = list(self.params)
        return [self.base.with_(**dict(zip(keys, combo, strict=True)))
                for combo in itertools.product(*(self.params[k] for k in keys))]  # fmt: skip

    def signal_combos(self) -> list[dict[str, Any]]:
        keys = list(self.signals)
        return [
            dict(zip(keys, c, strict=True))
            for c in itertools.product(*(self.signals[k] for k in keys))
        ]


def load_grid(path: str | Path, base: TradeParams | None = None) -> SweepSpec:
    """Read a grid TOML: top-level ``folds holdout metric q``, tables ``[params]`` and ``[signals]``."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"grid file {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    allowed = {"params", "signals", "folds", "holdout", "metric", "q"}
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{p}: unknown key {key!r}{hint} (valid: {', '.join(sorted(allowed))})"
            )
    try:
        return SweepSpec(base=base or TradeParams(), **data)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def windows_for(n: int, folds: int, holdout: float) -> tuple[NDArray[np.int64], int]:
    """``(windows, dev_end)``: rows ``[start, stop)``: ``folds`` trains, ``folds`` tests, whole dev."""
    dev_end = round(n * (1 - holdout))
    b = np.linspace(0, dev_end, folds + 2).round().astype(np.int64)
    trains = [(0, b[k]) for k in range(1, folds + 1)]
    tests = [(b[k], b[k + 1]) for k in range(1, folds + 1)]
    return np.array([*trains, *tests, (0, dev_end)], dtype=np.int64), dev_end


def _batch_args(x: BacktestInputs, entries: NDArray[np.bool_]) -> tuple:
    return (x.open, x.high, x.low, x.close, x.atr, entries, x.streak, x.oi_z, x.funding)


def margin_args(x: BacktestInputs) -> tuple:
    """The venue's tiers of ``x`` for :func:`run_batch` (``formula tiers mfee in_base flat``)."""
    formula, tiers, mfee, in_base = margin_table(x.tiers, TradeParams())
    return formula, tiers, mfee, in_base, x.tiers is None


def _run_chunk(
    args: tuple, entry_idx: NDArray, prm: NDArray, windows: NDArray, threads: int
) -> NDArray:
    """One executor task (a worker process or Ray task): a slice of the configurations.
    ``args``: the bar arrays of :func:`_batch_args`, then :func:`margin_args`."""
    nb.set_num_threads(max(1, min(threads, getattr(nb.config, "NUMBA_NUM_THREADS", 1))))
    bars, margin = args[:9], args[9:]
    return run_batch(*bars, entry_idx, prm, windows, *margin)  # type: ignore[call-arg]


def evaluate(
    x: BacktestInputs,
    entries: NDArray[np.bool_],
    entry_idx: NDArray[np.int64],
    prm: NDArray[np.float64],
    windows: NDArray[np.int64],
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> NDArray[np.float64]:
    """Summaries of every configuration on every window with the chosen executor."""
    if executor not in EXECUTORS:
        close = difflib.get_close_matches(executor, EXECUTORS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"--executor {executor!r}: unknown executor{hint} "
                          f"(valid: {', '.join(EXECUTORS)})")  # fmt: skip
    args = (*_batch_args(x, entries), *margin_args(x))
    workers = workers or os.cpu_count() or 1
    if executor == "threads" or prm.shape[0] < 2 * workers:
        return _run_chunk(args, entry_idx, prm, windows, workers)
    chunks = np.array_split(np.arange(prm.shape[0]), workers * 4)
    chunks = [c for c in chunks if c.size]
    if executor == "ray":
        return _evaluate_ray(args, entry_idx, prm, windows, chunks, address, workers)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futs = [pool.submit(_run_chunk, args, entry_idx[c], prm[c], windows, 1) for c in chunks]
        return np.concatenate([f.result() for f in futs], axis=0)


def _evaluate_ray(args, entry_idx, prm, windows, chunks, address, workers) -> NDArray[np.float64]:
    """Run the chunks as Ray tasks: on the cluster at ``address``, else on a loopback-only local Ray."""
    ray = init_ray(address, workers)
    remote = ray.remote(_run_chunk)
    ref = ray.put(args)
    futs = [remote.remote(ref, entry_idx[c], prm[c], windows, 1) for c in chunks]
    return np.concatenate(ray.get(futs), axis=0)


def init_ray(address: str | None, workers: int) -> Any:
    """The ``ray`` module, connected: to the cluster at ``address``, else to a Ray started on this
    machine with ``workers`` CPUs that listens on 127.0.0.1 only (kept for later calls). Every Ray
    executor (the sweep's, the batches of ``oiradar.app.batches``) starts Ray here."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray executor needs Ray: pip install 'oiradar[ray]'") from None
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            _start_local_ray(ray, workers)
    return ray


# Whoever reaches a Ray port can run code on this machine, so a local Ray listens on loopback only.
# Ray binds its GCS, raylet, agents and workers to every interface unless the node address is loopback,
# and turns a loopback ``_node_ip_address`` back into the network address while its cluster switch is
# on (read when ray is imported and by every process Ray starts; on by default on Linux).
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_LOOPBACK = ("127.0.0.1", "::1")


def _start_local_ray(ray: Any, workers: int) -> None:
    """Start Ray on this machine listening on 127.0.0.1 only (no dashboard, no Ray client server)."""
    saved = os.environ.get(_RAY_CLUSTER_ENV)
    os.environ[_RAY_CLUSTER_ENV] = "0"
    consts: Any = getattr(getattr(ray, "_private", None), "ray_constants", None)
    was_on = getattr(consts, "ENABLE_RAY_CLUSTER", None)
    if was_on is not None:  # ray was imported before the switch was set
        consts.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", num_cpus=workers, include_dashboard=False,
                 log_to_driver=False, _node_ip_address="127.0.0.1")  # fmt: skip
    finally:
        if was_on is not None:
            consts.ENABLE_RAY_CLUSTER = was_on
        if saved is None:
            os.environ.pop(_RAY_CLUSTER_ENV, None)
        else:
            os.environ[_RAY_CLUSTER_ENV] = saved
    _check_loopback(ray)


def _check_loopback(ray: Any) -> None:
    ip = ray.util.get_node_ip_address()
    if ip not in _LOOPBACK:
        ray.shutdown()
        raise ConfigError(
            f"Ray {ray.__version__} chose the node address {ip}, not loopback: refusing to run a "
            "sweep the network can reach; pass --address to use a Ray cluster you run yourself"
        )


@dataclass(frozen=True)
class SweepResult:
    table: pl.DataFrame  # one row per configuration: parameters, dev metrics, p, BH
    walk_forward: pl.DataFrame  # one row per fold: chosen config, train and test metric
    best: int  # row of the best configuration on the development part
    dsr: float
    holdout: dict[str, float]  # the best configuration, run once on the hold-out
    n_trials: int
    dev_end: int
    spec: SweepSpec = field(repr=False)


def run_sweep(
    x: BacktestInputs,
    spec: SweepSpec,
    entries: Sequence[NDArray[np.bool_]] | None = None,
    entry_labels: Sequence[dict[str, Any]] | None = None,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
) -> SweepResult:
    """Sweep ``spec`` on ``x``. ``entries``: one entry array per signal combination (default: x.entry)."""
    entry_list = list(entries) if entries is not None else [x.entry]
    labels = list(entry_labels) if entry_labels is not None else [{} for _ in entry_list]
    configs = spec.configs()
    combos = [(e, c) for e in range(len(entry_list)) for c in range(len(configs))]
    prm = np.stack([param_row(configs[c]) for _, c in combos])
    entry_idx = np.array([e for e, _ in combos], dtype=np.int64)
    windows, dev_end = windows_for(x.n, spec.folds, spec.holdout)
    ent = np.ascontiguousarray(np.stack(entry_list).astype(np.bool_))
    summ = evaluate(x, ent, entry_idx, prm, windows, executor, workers, address)
    bpy = x.bars_per_year
    dev = [metrics_from_summary(summ[i, -1], dev_end, bpy, prm[i, 13]) for i in range(len(combos))]
    table = _table(combos, configs, labels, spec, dev, summ[:, -1])
    best = _argbest([m[spec.metric] for m in dev])
    wf = _walk_forward(summ, windows, spec, bpy, prm)
    dsr = _dsr(summ[:, -1], best)
    x_best = x.slice(dev_end, x.n) if dev_end < x.n else None
    hold: dict[str, float] = {}
    if x_best is not None and x_best.n > 1:
        e = combos[best][0]
        xb = BacktestInputs(**{**_fields(x_best), "entry": entry_list[e][dev_end:]})
        hold = run_backtest(xb, configs[combos[best][1]]).metrics
    return SweepResult(table, wf, best, dsr, hold, len(combos), dev_end, spec)


def _fields(x: BacktestInputs) -> dict[str, Any]:
    return {f.name: getattr(x, f.name) for f in fields(x)}


def _argbest(values: Sequence[float]) -> int:
    v = np.array([m if m is not None and math.isfinite(m) else -np.inf for m in values])
    return int(np.argmax(v))


def _per_bar_stats(s: NDArray[np.float64]) -> tuple[float, float, float, int]:
    """Per-bar Sharpe, skewness and Pearson kurtosis of the equity returns from raw power sums."""
    k = int(s[eng.S_NRET])
    if k < 3:
        return math.nan, 0.0, 3.0, k
    m1 = s[eng.S_SUM_R] / k
    m2, m3, m4 = s[eng.S_SUM_R2] / k, s[eng.S_SUM_R3] / k, s[eng.S_SUM_R4] / k
    var = m2 - m1 * m1
    if var <= 1e-300:
        return math.nan, 0.0, 3.0, k
    c3 = m3 - 3 * m1 * m2 + 2 * m1**3
    c4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1**4
    sd1 = math.sqrt(var * k / (k - 1))
    return m1 / sd1, c3 / var**1.5, c4 / var**2, k


def _table(combos, configs, labels, spec, dev, dev_summ) -> pl.DataFrame:
    rows = []
    pvals = []
    for i, (e, c) in enumerate(combos):
        sr, sk, ku, k = _per_bar_stats(dev_summ[i])
        p = (
            1.0 - stats.probabilistic_sharpe_ratio(sr, 0.0, k, sk, ku)
            if math.isfinite(sr)
            else math.nan
        )
        pvals.append(p)
        cfg = asdict(configs[c])
        row = {key: cfg[key] for key in spec.params}
        row.update({f"signal.{k2}": v for k2, v in labels[e].items()})
        row.update({m: float(dev[i][m]) for m in ("sharpe", "sortino", "total_return", "max_drawdown",
                                                  "trades", "win_rate", "expectancy_r")})  # fmt: skip
        rows.append(row)
    rejected, adj = stats.benjamini_hochberg(pvals, spec.q)
    return pl.DataFrame(rows).with_columns(
        pl.Series("p_value", pvals, dtype=pl.Float64),
        pl.Series("p_bh", adj, dtype=pl.Float64),
        pl.Series("discovery", rejected),
    )


def _walk_forward(summ, windows, spec, bpy, prm) -> pl.DataFrame:
    folds = spec.folds
    rows = []
    for k in range(folds):
        tr, te = windows[k], windows[folds + k]
        train = [metrics_from_summary(summ[i, k], int(tr[1] - tr[0]), bpy, prm[i, 13])[spec.metric]
                 for i in range(summ.shape[0])]  # fmt: skip
        pick = _argbest(train)
        test = metrics_from_summary(summ[pick, folds + k], int(te[1] - te[0]), bpy, prm[pick, 13])
        rows.append({"fold": k + 1, "train_end": int(tr[1]), "test_start": int(te[0]),
                     "test_end": int(te[1]), "config": pick, f"train_{spec.metric}": train[pick],
                     f"test_{spec.metric}": test[spec.metric], "test_total_return": test["total_return"],
                     "test_trades": test["trades"]})  # fmt: skip
    return pl.DataFrame(rows)


def _dsr(dev_summ: NDArray[np.float64], best: int) -> float:
    """Deflated Sharpe ratio of the best configuration over all configurations tried."""
    per = [_per_bar_stats(s) for s in dev_summ]
    srs = np.array([p[0] for p in per])
    finite = srs[np.isfinite(srs)]
    sr, sk, ku, k = per[best]
    if not math.isfinite(sr) or finite.size == 0:
        return math.nan
    var = float(finite.var(ddof=1)) if finite.size > 1 else 0.0
    return stats.deflated_sharpe_ratio(sr, k, len(per), var, sk, ku)
