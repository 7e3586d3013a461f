"""Refresh the checked-in notional tiers (``src/oiradar/data/tiers_<exchange>.json``) from the venues.

Needs network access and, for Binance, an API key: ``/fapi/v1/leverageBracket`` and
``/dapi/v1/leverageBracket`` are signed endpoints. ccxt reads the key from the environment
variables below. Never run by the tests (they read the checked-in files).

    BINANCE_API_KEY=... BINANCE_SECRET=... python scripts/refresh_tiers.py
    python scripts/refresh_tiers.py --exchange binanceusdm --symbols BTC/USDT:USDT KSM/USDT:USDT --dry-run

Each table is validated (:func:`oiradar.liquidations.tiers.table_from_rows`) before the file is
replaced atomically; ``default`` tables and symbols not asked for are kept as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oiradar.liquidations.tiers import rows_from_ccxt, table_from_rows

DATA = Path(__file__).resolve().parents[1] / "src" / "oiradar" / "data"
DEFAULT_SYMBOLS = {
    "binanceusdm": ["BTC/USDT:USDT", "KSM/USDT:USDT"],
    "binancecoinm": ["BTC/USD:BTC"],
}
SOURCE = {
    "binanceusdm": "Binance GET /fapi/v1/leverageBracket via ccxt fetch_leverage_tiers",
    "binancecoinm": "Binance GET /dapi/v1/leverageBracket via ccxt fetch_leverage_tiers",
}


def fetch(exchange_id: str, symbols: list[str]) -> dict[str, list[dict[str, Any]]]:
    import ccxt  # imported here: the package does not need ccxt to read the files

    exchange = getattr(ccxt, exchange_id)(
        {"apiKey": os.environ.get("BINANCE_API_KEY"), "secret": os.environ.get("BINANCE_SECRET")}
    )
    exchange.load_markets()
    raw = exchange.fetch_leverage_tiers(symbols)
    return {sym: rows_from_ccxt(raw[sym]) for sym in symbols if sym in raw}


def update(exchange_id: str, tables: dict[str, list[dict[str, Any]]], *, dry_run: bool) -> None:
    path = DATA / f"tiers_{exchange_id}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for symbol, rows in tables.items():
        table_from_rows(rows, exchange=exchange_id, symbol=symbol, origin="refresh",
                        notional_unit=doc["notional_unit"])  # fmt: skip
        doc["symbols"][symbol] = rows
        print(f"{exchange_id} {symbol}: {len(rows)} tiers")
    doc["source"] = f"{SOURCE[exchange_id]}, retrieved {datetime.now(UTC):%Y-%m-%d}"
    if dry_run:
        return
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exchange", choices=sorted(DEFAULT_SYMBOLS), action="append")
    ap.add_argument("--symbols", nargs="+", help="ccxt symbols (default: the ones checked in)")
    ap.add_argument("--dry-run", action="store_true", help="fetch and validate, write nothing")
    args = ap.parse_args(argv)
    for exchange_id in args.exchange or sorted(DEFAULT_SYMBOLS):
        symbols = args.symbols or DEFAULT_SYMBOLS[exchange_id]
        try:
            tables = fetch(exchange_id, symbols)
        except Exception as exc:  # network, auth: say which venue failed and go on
            print(f"{exchange_id}: could not fetch tiers: {exc}", file=sys.stderr)
            continue
        update(exchange_id, tables, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
