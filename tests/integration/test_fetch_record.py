"""``record``: OI polls (every poll, two clocks) and websocket liquidations through ccxt.pro."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from oiradar.sources import Recorder, RecordOptions, RetryReport
from oiradar.store import Catalog, read_polls
from tests.fake_exchange import FakeExchange, FaultKind, FaultPlan
from tests.fake_exchange.harness import NOW, fake_settings

# One liquidation per venue, in each venue's documented stream format.
MESSAGES = {
    "binanceusdm": {"e": "forceOrder", "E": 1706745600123, "o": {
        "s": "KSMUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "12.5", "p": "30.10", "ap": "30.05",
        "X": "FILLED", "l": "12.5", "z": "12.5", "T": 1706745600100}},
    "bybit": {"topic": "allLiquidation.KSMUSDT", "type": "snapshot", "ts": 1706745600200,
              "data": [{"T": 1706745600150, "s": "KSMUSDT", "S": "Buy", "v": "3.2", "p": "29.95"}]},
    "okx": {"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [{"details": [
        {"bkLoss": "0", "bkPx": "30.2", "ccy": "", "posSide": "short", "side": "buy", "sz": "40",
         "ts": "1706745600300"}], "instFamily": "KSM-USDT", "instId": "KSM-USDT-SWAP",
        "instType": "SWAP", "uly": "KSM-USDT"}]},
}  # fmt: skip
EXPECTED = {  # (ts, position side, price, base qty)
    "binanceusdm": (1706745600100, "long", 30.10, 12.5),  # SELL order closes a long; order price p
    "bybit": (1706745600150, "long", 29.95, 3.2),  # Buy = the position side
    "okx": (1706745600300, "short", 30.2, 4.0),  # buy order closes a short; 40 contracts x 0.1 KSM
}


def _record(
    fake: FakeExchange, home: Path, exchange: str, want_polls: int = 3
) -> tuple[Recorder, RetryReport]:
    report = RetryReport()
    opts = RecordOptions(exchange=exchange, symbols=("KSM/USDT:USDT",), poll_s=0.05, duration_s=20)
    rec = Recorder(opts, Catalog(home), fake_settings(fake), report)

    def check(_msg: str) -> None:
        if rec.stats.liquidations >= 1 and rec.stats.polls >= want_polls:
            rec.stop.set()

    rec.on_event = check
    asyncio.run(rec.run())
    return rec, report


@pytest.mark.parametrize("exchange", list(MESSAGES))
def test_record_stores_liquidations_with_position_side_and_every_poll(
    tmp_path: Path, exchange: str
) -> None:
    with FakeExchange(now_ms=NOW) as fake:
        fake.ws_messages.append({"venue": exchange, "message": MESSAGES[exchange]})
        _, report = _record(fake, tmp_path, exchange)
    liq = Catalog(tmp_path).read_liquidations(exchange, "KSM/USDT:USDT")
    ts, side, price, qty = EXPECTED[exchange]
    assert liq.select("ts", "side", "price", "qty").rows() == [
        (ts, side, price, pytest.approx(qty))
    ]
    assert liq["source"].to_list() == ["ws"] and liq["quote_qty"][0] == pytest.approx(qty * price)
    polls = read_polls(tmp_path, exchange, "KSM/USDT:USDT")
    assert polls.height >= 3 and polls["oi"].null_count() == 0
    assert (polls["ts_received"] >= polls["ts_venue"]).all()  # two clocks: venue time, receipt time
    assert report.events == []


def test_unchanged_polls_are_all_kept(tmp_path: Path) -> None:
    """Bybit's 5-minute figure does not move between polls: every poll is stored anyway."""
    with FakeExchange(now_ms=NOW) as fake:
        fake.ws_messages.append({"venue": "bybit", "message": MESSAGES["bybit"]})
        _record(fake, tmp_path, "bybit", want_polls=4)
    polls = read_polls(tmp_path, "bybit", "KSM/USDT:USDT")
    assert polls.height >= 4 and polls["oi_raw"].n_unique() == 1
    assert polls["ts_received"].is_sorted() and polls["ts_received"].n_unique() == polls.height


def test_a_dropped_websocket_reconnects_and_keeps_each_event_once(tmp_path: Path) -> None:
    faults = FaultPlan().add(FaultKind.WS_DROP, "/ws/binanceusdm")
    with FakeExchange(now_ms=NOW, faults=faults) as fake:
        fake.ws_messages.append({"venue": "binanceusdm", "message": MESSAGES["binanceusdm"]})
        report = RetryReport()
        opts = RecordOptions(exchange="binanceusdm", symbols=("KSM/USDT:USDT",), poll_s=0.05,
                             duration_s=20, polls=False)  # fmt: skip
        rec = Recorder(opts, Catalog(tmp_path), fake_settings(fake), report)
        rec.on_event = lambda _m: rec.stop.set() if rec.stats.reconnects >= 1 else None

        async def run() -> None:
            task = asyncio.create_task(rec.run())
            for _ in range(400):  # the event arrives, the socket drops, the client reconnects
                if (
                    rec.stats.reconnects >= 1
                    and len([r for r in fake.requests if r.startswith("/ws/")]) >= 2
                ):
                    break
                await asyncio.sleep(0.025)
            await asyncio.sleep(0.2)  # the replayed event arrives on the new connection
            rec.stop.set()
            await task

        asyncio.run(run())
    assert faults.faults[0].fired
    assert [e.kind for e in report.events] == ["ws_reconnect"]
    assert len([r for r in fake.requests if r.startswith("/ws/")]) == 2
    liq = Catalog(tmp_path).read_liquidations("binanceusdm", "KSM/USDT:USDT")
    assert liq.height == 1  # the event replayed after the reconnect is stored once
