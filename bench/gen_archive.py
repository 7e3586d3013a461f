"""Write N days of Binance USD-M archive files (5m ``metrics`` + ``klines`` daily zips).

The files are in the exact archive format (header and header-less klines, ``.CHECKSUM``
beside every zip) with invented values from a seeded random walk; see
``oiradar.sources.decode.binance_archive.synthetic``. Usage::

    python bench/gen_archive.py OUT_DIR [--symbol BTCUSDT] [--start 2025-01-01] [--days 365]
        [--seed 7] [--layout flat|archive] [--funding-months 0]
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from oiradar.sources.decode.binance_archive.synthetic import (
    write_archive_days,
    write_funding_months,
)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", choices=("flat", "archive"), default="flat")
    parser.add_argument("--funding-months", type=int, default=0)
    args = parser.parse_args(argv)
    paths = write_archive_days(
        args.out, args.symbol, args.start, args.days, args.seed, layout=args.layout
    )
    if args.funding_months:
        paths += write_funding_months(
            args.out, args.symbol, args.start, args.funding_months, args.seed, layout=args.layout
        )
    print(f"wrote {len(paths)} zip files (+ .CHECKSUM) under {args.out}")
    return paths


if __name__ == "__main__":
    main()
