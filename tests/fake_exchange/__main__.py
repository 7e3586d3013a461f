"""Run the fake exchange by hand: ``python -m tests.fake_exchange [--port 8765]``.

Prints the ``OIRADAR__VENUES__*`` variables that point oiradar at it, then serves until Ctrl-C.
Its clock is the real one unless ``--now`` says otherwise; its archive is ``--archive-lag`` days
behind (it serves days strictly before ``today - lag + 1``, like data.binance.vision a day or two
late).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from tests.fake_exchange.server import FakeExchange


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--now", default=None, help="the venues' clock, a UTC date (default: now)")
    ap.add_argument("--archive-lag", type=int, default=2, help="days the archive is behind")
    args = ap.parse_args()
    if args.now is None:
        now = time.time_ns() // 1_000_000
    else:
        now = int(datetime.fromisoformat(args.now).replace(tzinfo=UTC).timestamp() * 1000)
    today = datetime.fromtimestamp(now / 1000, tz=UTC).date()
    archive_until = today - timedelta(days=args.archive_lag - 1)
    with FakeExchange(now_ms=now, archive_until=archive_until, port=args.port) as fake:
        for name, value in fake.env().items():
            print(f"export {name}='{value}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
