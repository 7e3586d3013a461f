"""Run the fake exchange by hand: ``python -m tests.fake_exchange [--port 8765]``.

Prints the ``OIRADAR__VENUES__*`` variables that point oiradar at it, then serves until Ctrl-C.
Its clock and archive are fixed (``--now``, ``--archive-until``) so that examples are repeatable.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime

from tests.fake_exchange.server import FakeExchange


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--now", default="2024-03-01", help="the venues' clock (UTC date)")
    ap.add_argument("--archive-until", default="2024-02-28", help="first day the archive lacks")
    args = ap.parse_args()
    now = int(datetime.fromisoformat(args.now).replace(tzinfo=UTC).timestamp() * 1000)
    fake = FakeExchange(
        now_ms=now, archive_until=date.fromisoformat(args.archive_until), port=args.port
    )
    with fake:
        for name, value in fake.env().items():
            print(f"export {name}='{value}'", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
