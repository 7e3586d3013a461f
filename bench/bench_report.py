"""Benchmark: ``oiradar report`` on one year of 4h bars with the liquidation heatmap (issue 15).

A simulated year (``ksm`` preset, 2,190 bars of 4h) on two venues (``sim`` and ``bybit``, so the
venue chart is drawn) goes into a temporary home. Measured:

- ``oiradar report`` in a fresh process, as a user runs it: wall time (median of 3) and file size
  (targets: under 3 s and under 5 MB);
- in one process, warm: gathering the numbers (``app.report.report_data``: features, scan, study,
  backtest, heatmap) and writing the file (``render.report.write_report``);
- the same figures written with Plotly's defaults (``plotly.io.to_html``, plotly.js included once,
  one ``<div>`` per figure): time and size;
- the same, with the heatmap at the level model's own resolution (every bar x ``[liquidations]
  bins``, 400), which is what a plain Plotly call over the model's output would draw.

Run: ``python bench/run.py report`` or ``python bench/bench_report.py [--days 365]``; the results
also go to ``bench/results/report.json``. Benchmarks are measurements: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
SYMBOL = "KSM/USDT:USDT"


def build_home(folder: Path, days: int) -> Path:
    from oiradar.model import SeriesKey, Source, Timeframe
    from oiradar.sim import simulate
    from oiradar.store import Catalog

    res = simulate("ksm", days=days, seed=3, timeframe=Timeframe.H4)
    catalog = Catalog(folder)
    catalog.write_bars(res.key(), res.bars, Source.SIM)
    other = res.bars.with_columns(pl.col("oi") * 1.2, pl.col("oi_value") * 1.2)
    catalog.write_bars(SeriesKey(exchange="bybit", symbol=SYMBOL, timeframe=Timeframe.H4), other,
                       Source.SIM)  # fmt: skip
    return folder


def cli_report(home: Path, out: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    start = time.perf_counter()
    subprocess.run([*OIRADAR, "--home", str(home), "report", "-e", "sim", "-s", SYMBOL, "-t", "4h",
                    "--out", str(out)], check=True, capture_output=True, env=env)  # fmt: skip
    return time.perf_counter() - start


def plain_html(figures: dict[str, Any]) -> str:
    import plotly.io as pio

    parts = [pio.to_html(f, include_plotlyjs=(i == 0), full_html=False)
             for i, f in enumerate(figures.values())]  # fmt: skip
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def full_resolution(session: Any, data: Any) -> Any:
    """``data`` with the heatmap at the model's own grid: every bar, ``[liquidations] bins``."""
    from oiradar.app.report import Heat
    from oiradar.app.series import load_series
    from oiradar.liquidations.heatmap import MapSpec, build_heatmap

    bars = load_series(session.catalog, data.key).bars
    spec = MapSpec.from_settings(session.settings.liquidations, "sim", SYMBOL)
    run = build_heatmap(bars, spec)
    edges = run.grid.edges
    heat = Heat(run.ts[run.row_bar], (edges[:-1] + edges[1:]) / 2, run.heat_long, run.heat_short,
                1, spec.mix.describe())  # fmt: skip
    return replace(data, heat=heat)


def main(days: int = 365, json_out: Path | None = HERE / "results" / "report.json") -> dict[str, Any]:
    from oiradar.app.report import ReportOptions, report_data
    from oiradar.app.session import Session
    from oiradar.render.figures import report_figures
    from oiradar.render.report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        home = build_home(Path(tmp) / "home", days)
        out = Path(tmp) / "report.html"
        cli_report(home, out)  # numba's caches and the first imports, not counted
        walls = [cli_report(home, out) for _ in range(3)]
        size = out.stat().st_size
        session = Session.open(str(home))
        opts = ReportOptions("sim", SYMBOL)
        report_data(session, opts)
        t0 = time.perf_counter()
        data = report_data(session, opts)
        t1 = time.perf_counter()
        write_report(data, out, generated=0)
        t2 = time.perf_counter()
        plain = plain_html(report_figures(data))
        t3 = time.perf_counter()
        full = plain_html(report_figures(full_resolution(session, data)))
        heat_shape = list(data.heat.long.shape) if data.heat else None
    res = {
        "bars": data.bars.height, "heatmap_columns_x_bins": heat_shape,
        "cli_wall_s_median": statistics.median(walls), "cli_wall_s_all": walls,
        "report_mb": size / 1e6, "data_s": t1 - t0, "write_s": t2 - t1,
        "plain_defaults_s": t3 - t2, "plain_defaults_mb": len(plain.encode()) / 1e6,
        "plain_full_heatmap_mb": len(full.encode()) / 1e6,
    }  # fmt: skip
    _print(res)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(res, indent=2) + "\n")
    return res


def _print(r: dict[str, Any]) -> None:
    print(f"one year of 4h bars: {r['bars']:,} bars, heatmap drawn as {r['heatmap_columns_x_bins']}")
    print(f"{'':38} {'time':>8} {'size':>9}")
    print(f"{'oiradar report (fresh process, median)':38} {r['cli_wall_s_median']:7.2f}s "
          f"{r['report_mb']:7.2f}MB   targets < 3 s, < 5 MB")  # fmt: skip
    print(f"{'  numbers (warm)':38} {r['data_s']:7.2f}s")
    print(f"{'  HTML (warm)':38} {r['write_s']:7.2f}s")
    print(f"{'plain Plotly defaults, same figures':38} {r['plain_defaults_s']:7.2f}s "
          f"{r['plain_defaults_mb']:7.2f}MB   size ratio {r['plain_defaults_mb'] / r['report_mb']:.1f}x")  # fmt: skip
    print(f"{'plain, heatmap at model resolution':38} {'':8} {r['plain_full_heatmap_mb']:7.2f}MB   "
          f"size ratio {r['plain_full_heatmap_mb'] / r['report_mb']:.1f}x")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "report.json")
    args = parser.parse_args()
    main(args.days, args.json)
