"""Reproduce the walk-forward table of docs/liquidations.md on the Coinalyze venues.

    python scripts/liqmap_walk_forward.py ../shared/data/btc_daily_multivenue [--folds 5]

Runs, in a fresh temporary home, the three commands the page shows::

    oiradar import FOLDER
    oiradar link '*:BTC/*' --prices binance:BTC/USDT
    oiradar liqmap --walk-forward -t 1d --format json

and prints one Markdown row per venue: the fitted map's out-of-sample score, the no-OI baseline's
and chance's, each with its 95 % interval, the map minus the baseline, and the verdict.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

OIRADAR = (sys.executable, "-c", "from oiradar.cli.main import main; main()")
HEADER = (
    "| venue, contract | fitted map [95 % CI] | unfitted map | no-OI baseline [95 % CI] | chance "
    "| map - baseline, pp [95 % CI] | verdict |\n|---|---|---|---|---|---|---|"
)


def run(home: str, *args: str) -> str:
    res = subprocess.run([*OIRADAR, "--home", home, *args], capture_output=True, text=True,
                         check=False)  # fmt: skip
    if res.returncode != 0:
        sys.exit(f"oiradar {' '.join(args)} failed:\n{res.stderr}")
    return res.stdout


def share(iv: dict[str, float], ci: bool = True) -> str:
    s = f"{iv['score']:.3f}"
    return f"{s} [{iv['lo']:.3f}, {iv['hi']:.3f}]" if ci else s


def points(iv: dict[str, float]) -> str:
    return f"{100 * iv['score']:+.1f} [{100 * iv['lo']:+.1f}, {100 * iv['hi']:+.1f}]"


def row(v: dict) -> str:
    cells = [f"{v['exchange']} {v['symbol']}", share(v["map"]), share(v["unfitted"], ci=False),
             share(v["baseline"]), share(v["chance"], ci=False),
             points(v["map_minus_baseline"]), f"**{v['verdict']}**"]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the btc_daily_multivenue folder")
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        run(home, "import", str(args.folder), "-q")
        run(home, "link", "*:BTC/*", "--prices", "binance:BTC/USDT")
        out = json.loads(run(home, "liqmap", "--walk-forward", "-t", "1d", "--folds",
                             str(args.folds), "--format", "json"))  # fmt: skip
    print(HEADER)
    for venue in out["venues"]:
        print(row(venue))
    words = [v["verdict"] for v in out["venues"]]
    print(f"\n{len(words)} venues: " + ", ".join(f"{w} {words.count(w)}"
                                              for w in ("beats", "ties", "loses")))  # fmt: skip


if __name__ == "__main__":
    main()
