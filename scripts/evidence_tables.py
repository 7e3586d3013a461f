"""Write the pooled verdict tables of docs/evidence.md from the real data in ../shared/data.

Each table sits between two markers on the page, and this script rewrites what is between them
(the rest of the page is left as it is):

    <!-- pooled:btc-daily -->
    ...written here...
    <!-- /pooled:btc-daily -->

For each table it imports the data into a fresh temporary home, runs `oiradar study --pooled
--format json` there, and writes the commands that reproduce it, the verdict table (events,
reversals, the rate with its pooled interval, each baseline, the events and symbol-years
needed, the verdict) and each series' own counts.

    python scripts/evidence_tables.py                 # every table whose data is present
    python scripts/evidence_tables.py btc-daily       # only this one
    python scripts/evidence_tables.py btc-daily --slice 120 --reps 200 --page /tmp/evidence.md

``--slice N`` keeps the first N rows of each data file (a quick run for tests; the block says so).

Tables:

- ``btc-daily``: BTC perpetuals on every venue of ``btc_daily_multivenue`` (Coinalyze daily OI,
  Binance daily candles as the prices of all of them), pooled at 1d.
- ``bybit-4h``: the seven Bybit perps of ``bybit_perps/markoi_1h`` at 4h (hourly mark prices read
  as closes, 4h bars built from them, and hourly OI).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "evidence.md"
SHARED = ROOT.parent / "shared" / "data"
OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
SIGNAL_ORDER = ("divergence", "trigger", "entry")
TIMEOUTS = {"exclude": "timeouts left out of the rates", "fail": "timeouts count as no reversal",
            "sign": "a timeout counts by the sign of its return"}  # fmt: skip


class TableError(Exception):
    """A table that cannot be written (its data absent, a command that failed)."""


@dataclass(frozen=True)
class Target:
    name: str
    data: str  # folder under ../shared/data
    home: str  # the home the shown commands name
    setup: Callable[[Path, Path], list[list[str]]]  # (data folder, home) -> oiradar commands
    study: list[str]  # the study's arguments, without --pooled / --format
    what: str  # one line before the table
    shown: Callable[[str, str], list[str]] | None = None  # (data, home) -> the setup as shown


def _btc_setup(data: Path, shown: Path) -> list[list[str]]:
    return [["import", "-q", f"{data}/"],
            ["link", "*:BTC/*", "--prices", "binance:BTC/USDT"]]  # fmt: skip


def _bybit_setup(data: Path, shown: Path) -> list[list[str]]:
    """Bybit's hourly mark price (read as the close) and OI value, as docs/importing.md imports
    them; the 4h study builds its bars from the hourly marks."""
    return [["import", "-q", f"{data}/{s}USDT.parquet", "-e", "bybit", "-s", f"{s}/USDT:USDT",
             "-t", "1h", "--map", "datetime=ts", "--map", "mark_price=close",
             "--map", "open_interest_usd=oi_value"] for s in BYBIT_PERPS]  # fmt: skip


BYBIT_PERPS = ("BTC", "ETH", "SOL", "XRP", "DOGE", "AVAX", "BNB")


def _bybit_shown(data: str, home: str) -> list[str]:
    return [f"$ for s in {' '.join(BYBIT_PERPS)}; do",
            f">   oiradar --home {home} import -q {data}${{s}}USDT.parquet -e bybit -s $s/USDT:USDT \\",
            ">       -t 1h --map datetime=ts --map mark_price=close --map open_interest_usd=oi_value",
            "> done"]  # fmt: skip


TARGETS = {
    "btc-daily": Target("btc-daily", "btc_daily_multivenue", "/tmp/btc", _btc_setup,
                        ["-t", "1d"], "BTC perpetuals on every venue, daily (Coinalyze OI, "
                        "Binance daily candles as every venue's prices)"),
    "bybit-4h": Target("bybit-4h", "bybit_perps/markoi_1h", "/tmp/bybit", _bybit_setup,
                       ["-t", "4h"], "seven Bybit USDT perpetuals at 4h (hourly mark prices "
                       "and OI)", _bybit_shown),
}  # fmt: skip


def run(home: Path, args: list[str], cwd: Path) -> str:
    res = subprocess.run([*OIRADAR, "--home", str(home), *args], capture_output=True, text=True,
                         cwd=cwd, timeout=1800, check=False)  # fmt: skip
    if res.returncode != 0:
        raise TableError(f"`oiradar {' '.join(args)}` exited {res.returncode}:\n{res.stderr}")
    return res.stdout


def sliced(data: Path, rows: int, work: Path) -> Path:
    """A copy of ``data`` with the first ``rows`` data rows of each CSV, JSON list and Parquet
    file (the Binance candles are kept whole: they start years before the OI)."""
    out = work / "slice" / data.name
    out.mkdir(parents=True)
    for f in sorted(data.iterdir()):
        if f.suffix == ".csv":
            lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
            keep = lines if f.name == "markets.csv" else lines[: rows + 1]
            (out / f.name).write_text("".join(keep), encoding="utf-8")
        elif f.suffix == ".parquet":
            import polars as pl

            pl.read_parquet(f).head(rows).write_parquet(out / f.name)
        elif f.is_file():
            shutil.copy(f, out / f.name)
    return out


def pooled_json(target: Target, rows: int | None, reps: int | None) -> dict[str, Any]:
    data = SHARED / target.data
    if not data.is_dir():
        raise TableError(f"{target.name}: the data folder {data} is absent")
    with tempfile.TemporaryDirectory(prefix="oiradar-tables-") as tmp:
        work = Path(tmp)
        home = work / "home"
        folder = sliced(data, rows, work) if rows else data
        for args in target.setup(folder, home):
            run(home, args, ROOT)
        extra = ["--reps", str(reps)] if reps else []
        return json.loads(run(home, ["study", *target.study, "--pooled", "--format", "json",
                                     *extra], ROOT))  # fmt: skip


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _rate(v: float | None, lo: float | None, hi: float | None) -> str:
    if v is None:
        return "n/a"
    if lo is None or hi is None:
        return _pct(v)
    return f"{_pct(v)} [{100 * lo:.1f}, {100 * hi:.1f}]"


def _num(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None else f"{v:,.{digits}f}"


def _q(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def verdict_rows(report: dict[str, Any]) -> list[str]:
    pooled = {(r["signal"], r["side"]): r for r in report["pooled"]}
    head = ("| claim | events (effective) | reversals | rate | all | near_high | matched | "
            "measured | q | needed | symbol-years needed (have) | verdict |")  # fmt: skip
    out = [head, "|" + "---|" * 12]
    for v in report["verdicts"]:
        # a claim on a measure (the OI-turn exit, liquidations) or one no series could measure
        # has no reversal rate and no baselines of its own
        r = pooled.get((v["signal"], v["side"])) if v["reversals"] is not None else None
        bases = ["n/a"] * 3 if r is None else [
            _rate(r[f"base_{b}"], r[f"base_{b}_low"], r[f"base_{b}_high"])
            for b in ("all", "near_high", "matched")]  # fmt: skip
        eff = "n/a" if v["effective"] is None else f"{v['effective']:,.0f}"
        need = "n/a" if v["needed"] is None else f"{v['needed']:,}"
        years = f"{_num(v['years_needed'])} ({_num(v['years'])})"
        rev = "n/a" if v["reversals"] is None else f"{v['reversals']:,}"
        cells = [v["as stated"], f"{v['events']:,} ({eff})", rev,
                 _rate(v["rate"], v["rate_low"], v["rate_high"]), *bases, v["measured"],
                 _q(v["q"]), need, years, v["verdict"]]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    return out


def series_rows(report: dict[str, Any]) -> list[str]:
    """Each series' own counts: events (W/L/T) per signal, as `oiradar study` gives them."""
    signals = sorted({r["signal"] for r in report["series"]},
                     key=lambda s: (SIGNAL_ORDER.index(s) if s in SIGNAL_ORDER else 9, s))  # fmt: skip
    by: dict[str, dict[str, str]] = {}
    for r in report["series"]:
        name = f"{r['exchange']} {r['symbol']}" + (f" {r['timeframe']}"
                                                   if len(report["timeframes"]) > 1 else "")  # fmt: skip
        by.setdefault(name, {})[r["signal"]] = (
            f"{r['events']:,} ({r['wins']}/{r['losses']}/{r['timeouts']}), {r['reversals']} of "
            f"{r['counted']}"
        )
    out = ["| series | " + " | ".join(signals) + " |", "|" + "---|" * (len(signals) + 1)]
    out += [f"| {name} | " + " | ".join(cells.get(s, "n/a") for s in signals) + " |"
            for name, cells in by.items()]  # fmt: skip
    return out


def block(target: Target, report: dict[str, Any], rows: int | None, reps: int | None) -> str:
    data = f"../shared/data/{target.data}/"
    cfg = report["config"]
    first = report["pooled"][0] if report["pooled"] else {}
    how = f" --slice {rows}" if rows else ""
    how += f" --reps {reps}" if reps else ""
    if target.shown is not None:
        cmds = target.shown(data, target.home)
    else:
        cmds = [f"$ oiradar --home {target.home} " + " ".join(_quote(a) for a in args)
                for args in target.setup(Path(data.rstrip("/")), Path(target.home))]  # fmt: skip
    study = " ".join(target.study)
    lines = [
        f"Written by `python scripts/evidence_tables.py {target.name}{how}`"
        + (f" (a slice: the first {rows} rows of each file)" if rows else "")
        + ":",
        "",
        "```console",
        *cmds,
        f"$ oiradar --home {target.home} study {study} --pooled",
        "```",
        "",
        textwrap.fill(
            f"{target.what}: {first.get('series', 0):,} series, "
            f"{first.get('symbol_years', 0.0):,.1f} symbol-years, {first.get('blocks', 0):,} calendar "
            f"blocks of {report['block_days']:g} days; {TIMEOUTS[cfg['timeouts']]}, H = "
            f"{cfg['horizon']} bars, {cfg['reps']:,} bootstrap replicates (seed {cfg['seed']}). "
            "Rates with their pooled 95 % intervals (none below 10 events); events: counted "
            "(effective, after the design effect); symbol-years: needed at the observed event rate "
            "(observed).",
            width=100,
            break_on_hyphens=False,
        ),
        "",
        *_skipped(report),
        *verdict_rows(report),
        "",
        "Each series alone: events (wins/losses/timeouts), reversals of counted events:",
        "",
        *series_rows(report),
    ]
    return "\n".join(lines)


def _skipped(report: dict[str, Any]) -> list[str]:
    """The series the study could not use, and why (nothing when it used them all)."""
    gone = report.get("skipped", [])
    if not gone:
        return []
    text = "; ".join(f"{s['series']} ({s['why']})" for s in gone)
    return [textwrap.fill(f"Skipped: {text}.", width=100, break_on_hyphens=False), ""]


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in "*? ") else arg


def write_block(page: Path, name: str, text: str) -> None:
    """Replace what lies between ``<!-- pooled:NAME -->`` and ``<!-- /pooled:NAME -->``."""
    src = page.read_text(encoding="utf-8")
    start, end = f"<!-- pooled:{name} -->\n", f"<!-- /pooled:{name} -->"
    pattern = re.compile(rf"({re.escape(start)})(?:.*?\n)?({re.escape(end)})", re.DOTALL)
    if not pattern.search(src):
        raise TableError(f"{page}: no {start.strip()} ... {end} markers")
    out = pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), src, count=1)
    page.write_text(out, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "tables", nargs="*", help=f"tables to write (default: all): {', '.join(TARGETS)}"
    )
    ap.add_argument("--page", type=Path, default=PAGE, help="the page to write (docs/evidence.md)")
    ap.add_argument("--slice", type=int, default=None, help="only the first N rows of each file")
    ap.add_argument("--reps", type=int, default=None, help="bootstrap replicates (default: the "
                    "evidence setting)")  # fmt: skip
    args = ap.parse_args(argv)
    unknown = [t for t in args.tables if t not in TARGETS]
    if unknown:
        ap.error(f"unknown table(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    failed = 0
    for name in args.tables or list(TARGETS):
        target = TARGETS[name]
        try:
            report = pooled_json(target, args.slice, args.reps)
            write_block(args.page, name, block(target, report, args.slice, args.reps))
            print(f"{args.page}: wrote the {name} table")
        except TableError as exc:
            failed += 1
            print(f"{name}: not written: {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
