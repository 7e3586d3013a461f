"""Benchmark: ``oiradar serve``'s first paint with 200 series, measured in headless Chromium (issue 15).

A home holds 200 series (4h bars, 90 days, one simulated market rescaled per symbol). ``oiradar
serve --port 0`` runs in a subprocess; Debian's ``chromium``, driven by Playwright, opens each page
in a fresh browser context (no cache) over loopback. Measured from the navigation's start
(``performance.now()`` in the page), median of 5 loads:

- the watchlist: first contentful paint, and the moment all 200 rows are in the table; once on a
  server just started (its cache still cold: the first request computes every row) and then warm;
- one series page: the moment all 8 charts are drawn;
- against the same figures written with Plotly's defaults (``plotly.io.to_html``, plotly.js inline
  in each page, served from a plain loopback HTTP server): the watchlist as a Plotly table of the
  same 200 rows, and the series page's 8 figures.

Run: ``python bench/run.py dashboard`` or ``python bench/bench_dashboard.py [--series 200]``. It needs
Debian's ``chromium`` (``apt-get install chromium``). The results also go to
``bench/results/dashboard.json``. Benchmarks are measurements: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
URL = re.compile(r"at (http://\S+/) ")
LOADS = 5
FIRST_SYMBOL = "S000/USDT:USDT"


def build_home(folder: Path, n: int) -> Path:
    from oiradar.model import SeriesKey, Source, Timeframe
    from oiradar.sim import simulate
    from oiradar.store import Catalog

    res = simulate("ksm", days=90, seed=3, timeframe=Timeframe.H4)
    catalog = Catalog(folder)
    for i in range(n):
        key = SeriesKey(exchange="sim", symbol=f"S{i:03d}/USDT:USDT", timeframe=Timeframe.H4)
        scaled = res.bars.with_columns(pl.col("oi") * (1 + i / 100), pl.col("oi_value") * (1 + i / 100))
        catalog.write_bars(key, scaled, Source.SIM)
    return folder


@contextmanager
def serving(home: Path, log: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OIRADAR")}
    with log.open("w") as out:
        proc = subprocess.Popen([*OIRADAR, "--home", str(home), "serve", "--port", "0"],
                                stdout=out, stderr=subprocess.STDOUT, env={**env, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (found := URL.search(log.read_text())):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"serve did not start:\n{log.read_text()}")
                time.sleep(0.1)
            yield found.group(1)
        finally:
            proc.terminate()
            proc.wait(timeout=20)


@contextmanager
def static_server(folder: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def load(browser: Any, url: str, done: str) -> dict[str, float]:
    """Open ``url`` in a fresh context; ms from the navigation's start to first contentful paint
    and to ``done`` (a JS predicate) holding."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(url, wait_until="commit")
    page.wait_for_function(done, timeout=120_000, polling="raf")
    ready = page.evaluate("() => performance.now()")
    fcp = page.evaluate("() => (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || null")
    context.close()
    return {"ready_ms": ready, "fcp_ms": fcp}


def median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def plain_pages(home: Path, folder: Path) -> None:
    """The watchlist as a Plotly table and the series' figures, with Plotly's own ``to_html``."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from oiradar.app.dashboard import watchlist
    from oiradar.app.report import ReportOptions, report_data
    from oiradar.app.session import Session
    from oiradar.model import Timeframe
    from oiradar.render.figures import report_figures

    s = Session.open(str(home))
    rows = watchlist(s)
    cols = ["series", "bar_time", "oi", "oi_chg_7d", "oi_z_30d", "oi_vol_ratio", "phase", "signals",
            "last_alert", "lag_ms"]  # fmt: skip
    table = go.Figure(go.Table(header={"values": cols},
                               cells={"values": [[r.get(c) for r in rows] for c in cols]}))  # fmt: skip
    table.update_layout(height=6000)
    (folder / "watchlist.html").write_text(pio.to_html(table, include_plotlyjs=True))
    figs = report_figures(report_data(s, ReportOptions("sim", FIRST_SYMBOL, Timeframe.H4)))
    parts = [pio.to_html(f, include_plotlyjs=(i == 0), full_html=False) for i, f in enumerate(figs.values())]
    (folder / "series.html").write_text("<html><body>" + "\n".join(parts) + "</body></html>")


PLAIN_DRAWN = ("() => { const d = [...document.querySelectorAll('.plotly-graph-div')];"
               " return d.length >= {n} && d.every(x => x._fullLayout); }")  # fmt: skip


def measure(n: int, chromium: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        home = build_home(Path(tmp) / "home", n)
        plain = Path(tmp) / "plain"
        plain.mkdir()
        plain_pages(home, plain)
        rows_in = f"() => document.querySelectorAll('#watchlist tbody tr').length === {n}"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            with serving(home, Path(tmp) / "serve.log") as url:
                cold = load(browser, url, rows_in)  # the server's first watchlist: no cache yet
                wl = [load(browser, url, rows_in) for _ in range(LOADS)]
                page = f"{url}series/sim/4h/{FIRST_SYMBOL}"
                sp = [load(browser, page, "() => document.body.dataset.drawn === '8'") for _ in range(LOADS)]
            with static_server(plain) as base:
                pw = [load(browser, base + "watchlist.html", PLAIN_DRAWN.replace("{n}", "1"))
                      for _ in range(LOADS)]  # fmt: skip
                ps = [load(browser, base + "series.html", PLAIN_DRAWN.replace("{n}", "8"))
                      for _ in range(LOADS)]  # fmt: skip
            browser.close()
    return {
        "series": n, "loads": LOADS,
        "watchlist_cold_ready_ms": cold["ready_ms"],
        "watchlist_fcp_ms": median(wl, "fcp_ms"), "watchlist_ready_ms": median(wl, "ready_ms"),
        "plain_watchlist_ready_ms": median(pw, "ready_ms"),
        "series_page_ready_ms": median(sp, "ready_ms"), "plain_series_ready_ms": median(ps, "ready_ms"),
    }  # fmt: skip


def main(series: int = 200, json_out: Path | None = HERE / "results" / "dashboard.json") -> dict[str, Any]:
    chromium = os.environ.get("OIRADAR_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        print("skipped: Debian's chromium is not installed (apt-get install chromium)")
        return {}
    res = measure(series, chromium)
    _print(res)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(res, indent=2) + "\n")
    return res


def _print(r: dict[str, Any]) -> None:
    ratio: Callable[[str, str], str] = lambda a, b: f"{r[b] / r[a]:.1f}x" if r[a] and r[b] else "-"  # noqa: E731
    print(f"{r['series']} series, median of {r['loads']} loads in headless Chromium over loopback")
    print(f"{'':46} {'oiradar':>9} {'plain Plotly':>13} {'ratio':>6}")
    print(f"{'watchlist: first contentful paint':46} {r['watchlist_fcp_ms']:7.0f}ms")
    print(f"{'watchlist: all rows drawn':46} {r['watchlist_ready_ms']:7.0f}ms "
          f"{r['plain_watchlist_ready_ms']:11.0f}ms {ratio('watchlist_ready_ms', 'plain_watchlist_ready_ms'):>6}"
          "   target < 1 s")  # fmt: skip
    print(f"{'watchlist: server just started (cold cache)':46} {r['watchlist_cold_ready_ms']:7.0f}ms")
    print(f"{'series page: 8 charts drawn':46} {r['series_page_ready_ms']:7.0f}ms "
          f"{r['plain_series_ready_ms']:11.0f}ms {ratio('series_page_ready_ms', 'plain_series_ready_ms'):>6}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "dashboard.json")
    args = parser.parse_args()
    main(args.series, args.json)
