"""Refresh the checked-in notional tiers (``src/oiradar/data/tiers_<exchange>.json``) from the venues.

Needs network access (it cannot run where there is none: the tests never run it, they read the
checked-in files). Through ccxt ``fetch_market_leverage_tiers``, one symbol at a time:

- ``binanceusdm`` / ``binancecoinm``: ``/fapi/v1/leverageBracket`` and ``/dapi/v1/leverageBracket``
  are signed endpoints, so ccxt needs a key (read from the environment variables below);
- ``bybit``: ``GET /v5/market/risk-limit`` (public); the maintenance margin deduction is kept as
  ``cum`` (Bybit sends ``""`` for the first tier: 0);
- ``okx``: ``GET /api/v5/public/position-tiers`` with ``tdMode=isolated`` (public); OKX counts
  contracts, stored as contracts x contract size (base units), with no maintenance amount.

    BINANCE_API_KEY=... BINANCE_SECRET=... python scripts/refresh_tiers.py
    python scripts/refresh_tiers.py --exchange bybit --exchange okx
    python scripts/refresh_tiers.py --exchange binanceusdm --symbols BTC/USDT:USDT KSM/USDT:USDT --dry-run

Each table is validated (:func:`oiradar.liquidations.tiers.table_from_rows`) before the file is
replaced atomically; ``default`` tables and symbols not asked for are kept as they are; the file's
``retrieved`` says, per symbol, when and from where the refreshed rows came (``source`` describes
the checked-in snapshot).
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
    "binanceusdm": ["BTC/USDT:USDT", "ETH/USDT:USDT", "KSM/USDT:USDT"],
    "binancecoinm": ["BTC/USD:BTC"],
    "bybit": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    "okx": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
}
SOURCE = {
    "binanceusdm": "Binance GET /fapi/v1/leverageBracket via ccxt fetch_market_leverage_tiers",
    "binancecoinm": "Binance GET /dapi/v1/leverageBracket via ccxt fetch_market_leverage_tiers",
    "bybit": "Bybit GET /v5/market/risk-limit (category linear) via ccxt fetch_market_leverage_tiers",
    "okx": "OKX GET /api/v5/public/position-tiers (SWAP, isolated) via ccxt fetch_market_leverage_tiers",
}
SIGNED = ("binanceusdm", "binancecoinm")


def fetch(exchange_id: str, symbols: list[str]) -> dict[str, list[dict[str, Any]]]:
    import ccxt  # imported here: the package does not need ccxt to read the files

    config = {}
    if exchange_id in SIGNED:
        config = {"apiKey": os.environ.get("BINANCE_API_KEY"),
                  "secret": os.environ.get("BINANCE_SECRET")}  # fmt: skip
    exchange = getattr(ccxt, exchange_id)(config)
    exchange.load_markets()
    out = {}
    for symbol in symbols:
        if exchange_id == "okx":
            raw = exchange.fetch_market_leverage_tiers(symbol, {"marginMode": "isolated"})
            size = float(exchange.market(symbol)["contractSize"])
            out[symbol] = rows_from_ccxt(raw, scale=size, deduction=False)
        else:
            out[symbol] = _percent_to_rate(exchange_id, rows_from_ccxt(
                exchange.fetch_market_leverage_tiers(symbol)))  # fmt: skip
    return out


def _percent_to_rate(exchange_id: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bybit has sent ``maintenanceMargin`` both as a rate ("0.005") and in percent ("0.5"); no
    venue's first tier asks 5 % or more, so a first rate that high means percent."""
    if exchange_id == "bybit" and rows and rows[0]["mmr"] >= 0.05:
        for row in rows:
            row["mmr"] /= 100.0
    return rows


def update(exchange_id: str, tables: dict[str, list[dict[str, Any]]], *, dry_run: bool) -> None:
    path = DATA / f"tiers_{exchange_id}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for symbol, rows in tables.items():
        table_from_rows(rows, exchange=exchange_id, symbol=symbol, origin="refresh",
                        notional_unit=doc["notional_unit"], formula=doc.get("formula", "binance"),
                        fee=float(doc.get("fee_rate", 0.0)))  # fmt: skip
        doc["symbols"][symbol] = rows
        print(f"{exchange_id} {symbol}: {len(rows)} tiers")
    stamp = f"{datetime.now(UTC):%Y-%m-%d}"
    doc.setdefault("retrieved", {}).update({s: f"{stamp}, {SOURCE[exchange_id]}" for s in tables})
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
    failed = 0
    for exchange_id in args.exchange or sorted(DEFAULT_SYMBOLS):
        symbols = args.symbols or DEFAULT_SYMBOLS[exchange_id]
        try:
            tables = fetch(exchange_id, symbols)
        except Exception as exc:  # network, auth: say which venue failed and go on
            print(f"{exchange_id}: could not fetch tiers: {exc}", file=sys.stderr)
            failed += 1
            continue
        update(exchange_id, tables, dry_run=args.dry_run)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
