"""Evidence commands: ``study`` (event study + verdict table), ``backtest`` and ``sweep``."""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from oiradar.backtest.sweep import SweepResult, load_grid, run_sweep
from oiradar.cli.context import console, err_console, fail, state
from oiradar.cli.data_cmds import OutFormat, print_frame, write_frame
from oiradar.config import Settings
from oiradar.errors import InputError, OiradarError
from oiradar.evidence import pipeline as pl_
from oiradar.evidence.claims import Judgement, verdict_table
from oiradar.evidence.stats import benjamini_hochberg
from oiradar.evidence.study import BASELINES, StudyResult
from oiradar.model import SeriesKey, Timeframe
from oiradar.store import Catalog

PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume")
OI_COLUMNS = ("oi", "oi_value", "funding_rate", "long_short_ratio")

Exchange = Annotated[str | None, typer.Option("--exchange", "-e", help="Only this exchange.")]
Symbol = Annotated[str | None, typer.Option("--symbol", "-s", help="Only this symbol.")]
Tf = Annotated[str, typer.Option("--timeframe", "-t", help="Bar timeframe (resampled if needed).")]
Prices = Annotated[
    str | None,
    typer.Option(
        "--prices", help="Take OHLCV from EXCHANGE:SYMBOL (for OI-only series, e.g. Coinalyze)."
    ),
]
Side = Annotated[str, typer.Option("--side", help="short (the seed's trade) or long.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def select_keys(
    cat: Catalog, exchange: str | None, symbol: str | None, timeframe: str
) -> list[SeriesKey]:
    """Distinct stored (exchange, symbol) pairs matching the filters, at ``timeframe``."""
    tf = Timeframe.parse(timeframe)
    pairs = sorted({(k.exchange, k.symbol) for k in cat.stored_keys()
                    if (not exchange or k.exchange == exchange) and (not symbol or k.symbol == symbol)})  # fmt: skip
    if not pairs:
        raise InputError(
            f"no stored series matches exchange={exchange!r} symbol={symbol!r}; see `oiradar list`"
        )
    return [SeriesKey(exchange=e, symbol=s, timeframe=tf) for e, s in pairs]


def load_bars(cat: Catalog, key: SeriesKey, prices: str | None) -> pl.DataFrame:
    """Bars of ``key``; with ``prices`` the OHLCV come from that series and OI/funding from ``key``."""
    bars = cat.read_bars(key)
    if prices is None:
        if bars["close"].null_count() == bars.height:
            raise InputError(f"{key} has no prices (OI-only data); add --prices EXCHANGE:SYMBOL")
        return bars
    if ":" not in prices:
        raise InputError(f"--prices must be EXCHANGE:SYMBOL, got {prices!r}")
    ex, sym = prices.split(":", 1)
    px = cat.read_bars(SeriesKey(exchange=ex, symbol=sym, timeframe=key.timeframe))
    price_part = px.select("ts", *PRICE_COLUMNS, pl.col("complete").alias("_pc"))
    oi_part = bars.select("ts", *OI_COLUMNS, "complete")
    joined = price_part.join(oi_part, on="ts", how="inner")
    # OI given only in USD (Coinalyze): base units = USD value / close of the price series
    joined = joined.with_columns(
        pl.coalesce("oi", pl.col("oi_value") / pl.col("close")).alias("oi")
    )
    return joined.with_columns((pl.col("complete") & pl.col("_pc")).alias("complete")).drop("_pc")


def _usable(keys: list[SeriesKey], cat: Catalog, prices: str | None) -> list[SeriesKey]:
    """Skip the price series itself when --prices is given and several series are selected."""
    if prices and len(keys) > 1:
        ex, sym = prices.split(":", 1)
        keys = [k for k in keys if (k.exchange, k.symbol) != (ex, sym)]
    return keys


def _f(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)


def study_rows(key: SeriesKey, results: dict[tuple[str, str], StudyResult]) -> list[dict[str, Any]]:
    rows = []
    for (signal, side), r in results.items():
        row: dict[str, Any] = {
            "exchange": key.exchange, "symbol": key.symbol, "timeframe": key.timeframe.value,
            "signal": signal, "side": side, "signals": r.n_signals, "events": r.n_events,
            "rate": _f(r.rate.rate), "rate_low": _f(r.rate.interval.low),
            "rate_high": _f(r.rate.interval.high),
        }  # fmt: skip
        for b in BASELINES:
            base, lift = r.baselines[b], r.lift[b]
            row[f"base_{b}"] = None if base is None else _f(base.rate)
            row[f"lift_{b}"] = None if lift is None else _f(lift.estimate)
            row[f"lift_{b}_low"] = None if lift is None else _f(lift.low)
            row[f"lift_{b}_high"] = None if lift is None else _f(lift.high)
            row[f"p_{b}"] = _f(r.p_value[b])
        for h, iv in r.forward.items():
            row[f"fwd_{h}"] = _f(iv.estimate)
        row["mfe"], row["mae"] = _f(r.mfe), _f(r.mae)
        rows.append(row)
    return rows


def _study_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    def iv(r: dict, k: str) -> str:
        lo, hi = r.get(f"{k}_low"), r.get(f"{k}_high")
        v = r.get(k)
        return (
            "n/a"
            if v is None
            else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
            if lo is not None
            else f"{v:.3f}"
        )

    return pl.DataFrame(
        {
            "series": [f"{r['exchange']} {r['symbol']}" for r in rows],
            "signal": [f"{r['signal']}/{r['side']}" for r in rows],
            "events": [r["events"] for r in rows],
            "reversal rate": [iv(r, "rate") for r in rows],
            "base all": ["n/a" if r["base_all"] is None else f"{r['base_all']:.3f}" for r in rows],
            "base matched": [
                "n/a" if r["base_matched"] is None else f"{r['base_matched']:.3f}" for r in rows
            ],
            "base near_high": [
                "n/a" if r["base_near_high"] is None else f"{r['base_near_high']:.3f}" for r in rows
            ],
            "lift (matched)": [iv(r, "lift_matched") for r in rows],
            "lift (near_high)": [iv(r, "lift_near_high") for r in rows],
            "p (near_high)": [
                "n/a" if r["p_near_high"] is None else f"{r['p_near_high']:.3g}" for r in rows
            ],
        }
    )


def _verdict_rows(key: SeriesKey, judgements: list[Judgement]) -> pl.DataFrame:
    table = verdict_table(judgements)
    return table.select(pl.lit(f"{key.exchange} {key.symbol}").alias("series"), pl.all())


def _params(items: list[str]) -> dict[str, Any]:
    """``--param key=value`` pairs, values parsed as TOML scalars (numbers, booleans)."""
    import tomllib

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--param wants KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = tomllib.loads(f"v = {v}")["v"]
        except tomllib.TOMLDecodeError:
            out[k.strip()] = v
    return out


def _one_key(
    cat: Catalog, exchange: str | None, symbol: str | None, tf: str, prices: str | None
) -> SeriesKey:
    keys = _usable(select_keys(cat, exchange, symbol, tf), cat, prices)
    if len(keys) != 1:
        names = ", ".join(f"{k.exchange} {k.symbol}" for k in keys[:6])
        raise InputError(f"choose one series with --exchange/--symbol; {len(keys)} match: {names}")
    return keys[0]


def _demo_step(run: Any) -> None:
    """``oiradar demo`` extension: the seed's claims on the demo market, and the commands to go on."""
    key = run.key.with_timeframe(Timeframe.H4)
    home = shlex.quote(str(run.catalog.home))
    try:
        settings = Settings()
        prep = pl_.prepare(run.catalog.read_bars(key), key, settings)
        _, judged = pl_.judge_claims(
            prep, pl_.all_claims(settings), pl_.study_config(settings, reps=500)
        )
    except OiradarError as exc:
        run.notes.append(f"(evidence step skipped: {exc})")
        return
    table = verdict_table(judged).drop("claim")
    print_frame(table, OutFormat.TABLE, title=f"The seed's claims on the demo market ({key})")
    run.notes += [
        "Evidence (docs/evidence.md)",
        f"  oiradar --home {home} study -t 4h",
        f"  oiradar --home {home} backtest -t 4h --trades trades.csv",
    ]


def register(app: typer.Typer) -> None:
    from oiradar.cli.sim_cmds import add_demo_step

    add_demo_step(_demo_step)

    @app.command("study")
    def study_cmd(
        ctx: typer.Context,
        exchange: Exchange = None,
        symbol: Symbol = None,
        timeframe: Tf = "4h",
        signal: Annotated[
            list[str] | None,
            typer.Option("--signal", help="Signal(s) to study (default: the claims')."),
        ] = None,
        side: Side = "short",
        prices: Prices = None,
        horizon: Annotated[int | None, typer.Option(help="Barrier horizon H in bars.")] = None,
        reps: Annotated[int | None, typer.Option(help="Bootstrap replicates.")] = None,
        as_json: Json = False,
    ) -> None:
        """Event study of each signal and the verdict table of the seed's and your claims."""
        st = state(ctx)
        try:
            cfg = pl_.study_config(st.settings, horizon=horizon, reps=reps)
            claims = pl_.all_claims(st.settings)
            if signal:
                claims = [c for c in claims if c.signal in signal and c.side == side]
            keys = _usable(select_keys(st.catalog, exchange, symbol, timeframe), st.catalog, prices)
            out_rows, verdicts = [], []
            for key in keys:
                prep = pl_.prepare(load_bars(st.catalog, key, prices), key, st.settings)
                results, judged = pl_.judge_claims(prep, claims, cfg)
                for sig in signal or []:
                    if (sig, side) not in results:
                        results[(sig, side)] = pl_.run_signal_study(prep, sig, side, cfg)
                out_rows += study_rows(key, results)
                verdicts.append(_verdict_rows(key, judged))
        except OiradarError as exc:
            raise fail(exc) from None
        vt = pl.concat(verdicts) if verdicts else verdict_table([])
        if as_json:
            typer.echo(
                json.dumps(
                    {"config": asdict(cfg), "studies": out_rows, "verdicts": vt.to_dicts()},
                    indent=1,
                )
            )
            return
        print_frame(
            _study_table(out_rows),
            OutFormat.TABLE,
            title=f"Event study ({timeframe}, H={cfg.horizon})",
        )
        print_frame(vt, OutFormat.TABLE, title="Verdicts")
        console.print(
            f"Rates are triple-barrier ({cfg.width:g} ATR, {cfg.horizon} bars) with Wilson {cfg.conf:.0%} "
            f"intervals; lift = rate - baseline rate, with a block-bootstrap interval; fewer than "
            f"{cfg.min_events} events is 'insufficient data'."
        )

    @app.command("backtest")
    def backtest_cmd(
        ctx: typer.Context,
        exchange: Exchange = None,
        symbol: Symbol = None,
        timeframe: Tf = "4h",
        signal: Annotated[str, typer.Option("--signal", help="Entry signal.")] = "entry",
        side: Side = "short",
        prices: Prices = None,
        param: Annotated[
            list[str] | None,
            typer.Option("--param", "-p", help="Trade parameter KEY=VALUE (repeatable)."),
        ] = None,
        trades: Annotated[
            Path | None, typer.Option("--trades", help="Write the trade list (.csv/.parquet).")
        ] = None,
        equity: Annotated[
            Path | None, typer.Option("--equity", help="Write the equity curve (.csv/.parquet).")
        ] = None,
        as_json: Json = False,
    ) -> None:
        """Backtest the SPEC section 4 trade model on one series."""
        from oiradar.backtest.run import run_backtest

        st = state(ctx)
        try:
            key = _one_key(st.catalog, exchange, symbol, timeframe, prices)
            over = _params(param or [])
            p = pl_.trade_params(st.settings, key.exchange, side=pl_.SIDES.get(side, side), **over)
            prep = pl_.prepare(load_bars(st.catalog, key, prices), key, st.settings)
            res = run_backtest(pl_.backtest_inputs(prep, signal, side), p)
            for path, frame, option in (
                (trades, res.trades, "--trades"),
                (equity, res.equity, "--equity"),
            ):
                if path is not None:
                    _write(frame, path, option)
        except OiradarError as exc:
            raise fail(exc) from None
        metrics = {k: _f(float(v)) for k, v in res.metrics.items()}
        if as_json:
            typer.echo(json.dumps({"series": str(key), "signal": signal, "side": side,
                                   "params": asdict(p), "metrics": metrics,
                                   "trades": res.trades.to_dicts()}, indent=1, default=str))  # fmt: skip
            return
        mt = pl.DataFrame(
            {
                "metric": list(metrics),
                "value": [m if m is not None else float("nan") for m in metrics.values()],
            }
        )
        print_frame(mt, OutFormat.TABLE, title=f"Backtest {key} ({signal}/{side})")
        if res.trades.height:
            show = res.trades.select("entry_bar", "exit_bar", "entry_price", "exit_price", "qty",
                                     "reason", "pnl", "funding", "r_multiple").tail(10)  # fmt: skip
            print_frame(
                show, OutFormat.TABLE, title=f"Last {show.height} of {res.trades.height} trades"
            )

    @app.command("sweep")
    def sweep_cmd(
        ctx: typer.Context,
        grid: Annotated[
            Path,
            typer.Option("--grid", help="Grid TOML: [params], [signals], folds, holdout, metric."),
        ],
        exchange: Exchange = None,
        symbol: Symbol = None,
        timeframe: Tf = "4h",
        signal: Annotated[str, typer.Option("--signal", help="Entry signal.")] = "entry",
        side: Side = "short",
        prices: Prices = None,
        executor: Annotated[str, typer.Option(help="local (processes), threads or ray.")] = "local",
        address: Annotated[
            str | None,
            typer.Option(
                help="Ray cluster address (ray executor). Without it Ray runs on this machine and "
                "listens on 127.0.0.1 only; with it the data and the work go to that cluster, and "
                "this process listens on the network so the cluster can reach it: use only a "
                "cluster on a network you trust (Ray's ports take commands from anyone)."
            ),
        ] = None,
        workers: Annotated[
            int | None, typer.Option(help="Worker processes (default: CPU count).")
        ] = None,
        top: Annotated[int, typer.Option(help="Rows of the grid table to show.")] = 10,
        as_json: Json = False,
    ) -> None:
        """Sweep trade (and signal) parameters with walk-forward splits and a final hold-out."""
        st = state(ctx)
        try:
            base = pl_.trade_params(st.settings, None, side=pl_.SIDES.get(side, side))
            spec = load_grid(grid, base)
            keys = _usable(select_keys(st.catalog, exchange, symbol, timeframe), st.catalog, prices)
            results = [(k, _sweep_one(st.settings, st.catalog, k, prices, spec, signal, side,
                                      executor, workers, address)) for k in keys]  # fmt: skip
        except OiradarError as exc:
            raise fail(exc) from None
        table = _combined_table(results, spec.q)
        if as_json:
            typer.echo(json.dumps(_sweep_json(results, table), indent=1, default=str))
            return
        metric = spec.metric
        print_frame(table.sort(metric, descending=True, nulls_last=True).head(top), OutFormat.TABLE,
                    title=f"Top {top} of {table.height} configurations (development part)")  # fmt: skip
        for key, r in results:
            print_frame(r.walk_forward, OutFormat.TABLE, title=f"Walk-forward {key}")
            ho = r.holdout
            hold = (
                f"return {ho['total_return']:.3f}, Sharpe {ho['sharpe']:.2f}, trades {ho['trades']:.0f}"
                if ho
                else "none (no hold-out bars)"
            )
            console.print(
                f"{key}: best config #{r.best}; deflated Sharpe ratio {r.dsr:.3f} over {r.n_trials} "
                f"trials; hold-out (run once): {hold}"
            )
        console.print(
            f"Discoveries (Benjamini-Hochberg, q={spec.q:g}): {int(table['discovery'].sum())}"
        )


def _sweep_one(
    settings: Settings, cat, key, prices, spec, signal, side, executor, workers, address
) -> SweepResult:
    """Sweep one series; each ``[signals]`` combination re-detects the entry signal."""
    bars = load_bars(cat, key, prices)
    combos = spec.signal_combos() or [{}]
    entries, x = [], None
    for combo in combos:
        s = (
            settings.model_copy(update={"signals": settings.signals.model_copy(update=combo)})
            if combo
            else settings
        )
        prep = pl_.prepare(bars, key, s)
        xi = pl_.backtest_inputs(prep, signal, side)
        x = x or xi
        entries.append(xi.entry)
    assert x is not None
    return run_sweep(x, spec, entries, combos, executor=executor, workers=workers, address=address)


def _combined_table(results: list[tuple[SeriesKey, SweepResult]], q: float) -> pl.DataFrame:
    """All series' grids in one table; BH re-applied over every (series, configuration)."""
    frames = [r.table.with_row_index("config").select(
        pl.lit(f"{k.exchange} {k.symbol}").alias("series"), pl.all()) for k, r in results]  # fmt: skip
    table = pl.concat(frames, how="diagonal_relaxed")
    rejected, adj = benjamini_hochberg(table["p_value"].to_numpy(), q)
    return table.with_columns(pl.Series("p_bh", adj), pl.Series("discovery", rejected))


def _sweep_json(results, table: pl.DataFrame) -> dict[str, Any]:
    return {
        "grid": table.to_dicts(),
        "series": [
            {
                "series": str(k),
                "best": r.best,
                "dsr": _f(r.dsr),
                "n_trials": r.n_trials,
                "walk_forward": r.walk_forward.to_dicts(),
                "holdout": {a: _f(float(b)) for a, b in r.holdout.items()},
            }
            for k, r in results
        ],
    }


def _write(frame: pl.DataFrame, path: Path, option: str) -> None:
    write_frame(frame, path, option)
    err_console.print(f"Wrote {frame.height} rows to {path}")  # stdout may be --json
