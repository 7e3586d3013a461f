"""A local fake exchange: Binance USD-M/COIN-M, Bybit and OKX REST, the Binance archive, websockets.

One aiohttp server on 127.0.0.1 in a background thread. Each venue lives under its own prefix
(``/binanceusdm``, ``/binancecoinm``, ``/bybit``, ``/okx``, ``/archive``) so that a client points
its ``rest_url`` / ``archive_url`` settings at ``<url>/<venue>`` exactly as it would at a mirror.
Instrument lists are fixtures written from the venues' documented formats; market data comes from
:mod:`tests.fake_exchange.market`. Faults come from a :class:`FaultPlan`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from oiradar.sources.decode.binance_archive import METRICS_START_LABELS_FROM
from tests.fake_exchange import market as mk
from tests.fake_exchange.faults import Fault, FaultKind, FaultPlan
from tests.fake_exchange.recorded import Replay

FIXTURES = Path(__file__).parent / "fixtures"
REST_OI_DAYS = 30  # Binance keeps 30 days of OI history on REST
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_BINANCE_TF = {"5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000,
               "4h": 14_400_000, "6h": 21_600_000, "12h": 43_200_000, "1d": 86_400_000}  # fmt: skip
_BYBIT_KLINE = {"5": 300_000, "15": 900_000, "30": 1_800_000, "60": 3_600_000, "120": 7_200_000,
                "240": 14_400_000, "360": 21_600_000, "720": 43_200_000, "D": 86_400_000}  # fmt: skip
_BYBIT_OI = {"5min": 300_000, "15min": 900_000, "30min": 1_800_000, "1h": 3_600_000,
             "4h": 14_400_000, "1d": 86_400_000}  # fmt: skip
_OKX_BAR = {"5m": 300_000, "15m": 900_000, "30m": 1_800_000, "1H": 3_600_000, "2H": 7_200_000,
            "4H": 14_400_000, "6Hutc": 21_600_000, "12Hutc": 43_200_000, "1Dutc": 86_400_000,
            "6H": 21_600_000, "12H": 43_200_000, "1D": 86_400_000}  # fmt: skip
_COINM_SIZE = {"BTCUSD_PERP": 100.0, "DOTUSD_PERP": 10.0}
_OKX_CTVAL = {"KSM-USDT-SWAP": 0.1, "BTC-USDT-SWAP": 0.01, "BTC-USD-SWAP": 100.0}
BYBIT_OI_SIDES = 2  # the fake encodes Bybit's figure as both sides (as Bybit documents it)


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _int(req: web.Request, name: str, default: int | None = None) -> int | None:
    v = req.query.get(name)
    return int(v) if v not in (None, "") else default


def _s(x: float) -> str:
    return repr(float(x))


def _market_name(symbol: str) -> str:
    """The synthetic market behind a venue id: ``KSMUSDT``, ``KSM-USDT-SWAP`` -> ``KSM``."""
    for sep in ("-", "USD"):
        if sep in symbol:
            return symbol.split(sep)[0]
    return symbol


class FakeExchange:
    """Start with :meth:`start` (or as a context manager); ``url`` is the HTTP base, ``ws_url`` the ws base."""

    def __init__(
        self,
        *,
        now_ms: int,
        archive_until: date | None = None,
        faults: FaultPlan | None = None,
        timeout_hold_s: float = 0.8,
        archive_dir: Path | None = None,
        port: int = 0,
        archive_blank: dict[date, range] | None = None,
        replay: list[Replay] | None = None,
        extra_symbols: int = 0,
    ) -> None:
        self.now_ms = now_ms
        self.extra_symbols = extra_symbols  # Binance USD-M also lists S001USDT, S002USDT, ...
        self.archive_until = archive_until  # archive serves days strictly before this date
        self.faults = faults or FaultPlan()
        self.timeout_hold_s = timeout_hold_s
        self.archive_dir = archive_dir  # serve files laid out as on data.binance.vision instead
        self.port = port
        self.replay = replay or []  # recorded real responses served where they match
        self.archive_blank = archive_blank or {}  # metrics rows (0..287) served with empty OI cells
        self.requests: list[str] = []
        self._ws_faults: dict[str, Fault] = {}
        self._t0 = time.monotonic()
        self.ws_messages: list[dict[str, Any]] = []  # pushed to every websocket client
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._hang = asyncio.Event()
        self.url = ""
        self.ws_url = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeExchange:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/ws/{venue}", self._ws)
        app.router.add_get("/ws/{venue}/{tail:.*}", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._route)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/ws"

    def stop(self) -> None:
        async def _stop() -> None:
            self._hang.set()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            # an unclosed loop warns from __del__ in a later GC pass, at a random point of a test
            self._loop.close()

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """``OIRADAR__VENUES__*`` variables that point every venue at this fake."""
        out = {}
        for venue in ("binanceusdm", "binancecoinm", "bybit", "okx"):
            out[f"OIRADAR__VENUES__{venue.upper()}__REST_URL"] = f"{self.url}/{venue}"
            out[f"OIRADAR__VENUES__{venue.upper()}__WS_URL"] = f"{self.ws_url}/{venue}"
        out["OIRADAR__VENUES__BINANCEUSDM__ARCHIVE_URL"] = f"{self.url}/archive"
        out["OIRADAR__VENUES__BINANCECOINM__ARCHIVE_URL"] = f"{self.url}/archive"
        return out

    # ------------------------------------------------------------------ faults
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        fault = self.faults.take(request.path_qs)
        if fault is None or fault.kind is FaultKind.WS_DROP:
            if fault is not None:
                self._ws_faults[request.path_qs] = fault
            return await handler(request)
        if fault.kind is FaultKind.BAD_CHECKSUM:  # flip the last byte of the zip
            response = await handler(request)
            assert isinstance(response, web.Response) and response.body is not None
            body = bytes(response.body)  # type: ignore[arg-type]
            return web.Response(
                body=body[:-1] + bytes([body[-1] ^ 0xFF]), content_type="application/zip"
            )
        if fault.kind in (FaultKind.RATE_LIMIT, FaultKind.BANNED):
            code = 429 if fault.kind is FaultKind.RATE_LIMIT else 418
            body = {
                "code": -1003,
                "msg": "Too many requests; please use the websocket for live updates.",
            }
            return web.json_response(body, status=code, headers={"Retry-After": fault.retry_after})
        if fault.kind is FaultKind.BAD_REQUEST:
            body = {"code": -1130, "msg": "Data sent for parameter 'startTime' is not valid."}
            return web.json_response(body, status=400)
        if fault.kind is FaultKind.SERVER_ERROR:
            return web.Response(status=500, text="Internal Server Error")
        if fault.kind in (FaultKind.FORBIDDEN, FaultKind.GEO_BLOCKED):  # Binance's CloudFront text
            msg = "Service unavailable from a restricted location according to 'b. Eligibility'"
            return web.json_response({"code": 0, "msg": msg}, status=int(fault.kind.value))
        if fault.kind is FaultKind.TIMEOUT:
            await asyncio.sleep(self.timeout_hold_s)
            return await handler(request)
        if fault.kind is FaultKind.RESET:
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault.kind is FaultKind.HANG:
            await self._hang.wait()
            return web.Response(status=503)
        if fault.kind is FaultKind.MALFORMED:
            return web.json_response({"unexpected": "shape"})
        response = await handler(request)  # TRUNCATED
        assert isinstance(response, web.Response) and response.body is not None
        body = bytes(response.body)  # type: ignore[arg-type]
        return web.Response(
            body=body[: len(body) // 2], status=200, content_type="application/json"
        )

    # ------------------------------------------------------------------ routing
    async def _route(self, request: web.Request) -> web.StreamResponse:
        venue, _, rest = request.path.lstrip("/").partition("/")
        query = dict(request.query)
        for rec in self.replay:
            if rec.matches(venue, "/" + rest, query):
                return web.json_response(rec.body)
        handler = _ROUTES.get((venue, "/" + rest))
        if handler is not None:
            return handler(self, request)
        if venue == "archive":
            return self._archive(request, "/" + rest)
        return web.json_response(
            {"code": -1, "msg": f"fake exchange: no route {request.path}"}, status=404
        )

    # ------------------------------------------------------------------ Binance
    def _bn_exchange_info(self, request: web.Request) -> web.Response:
        """The fixture's instruments, plus ``extra_symbols`` perpetuals cloned from its first one
        (``S001USDT`` ...: base ``S001``, market data from :mod:`~tests.fake_exchange.market`)."""
        doc = _fixture("fapi_v1_exchangeInfo.json")
        template = doc["symbols"][0]
        for sym in extra_symbol_ids(self.extra_symbols):
            base = sym.removesuffix("USDT")
            doc["symbols"].append({**template, "symbol": sym, "pair": sym, "baseAsset": base})
        return web.json_response(doc)

    def _bn_klines(self, request: web.Request, coinm: bool) -> web.Response:
        sym = request.query["symbol"]
        tf = _BINANCE_TF[request.query["interval"]]
        rows = []
        for ts in self._window(request, tf, "startTime", "endTime", 1500, 500):
            if ts > self.now_ms:
                break
            k = mk.kline(_market_name(sym), ts, tf)
            if coinm:
                size = _COINM_SIZE[sym]
                contracts = round(k["quote_volume"] / size)
                taker = round(contracts * k["taker_buy_volume"] / k["volume"])
                row = [ts, _s(k["open"]), _s(k["high"]), _s(k["low"]), _s(k["close"]), str(contracts),
                       ts + tf - 1, _s(k["volume"]), 100, str(taker), _s(k["taker_buy_volume"]), "0"]  # fmt: skip
            else:
                row = [ts, _s(k["open"]), _s(k["high"]), _s(k["low"]), _s(k["close"]), _s(k["volume"]),
                       ts + tf - 1, _s(k["quote_volume"]), 100, _s(k["taker_buy_volume"]),
                       _s(k["taker_buy_volume"] * k["close"]), "0"]  # fmt: skip
            rows.append(row)
        return web.json_response(rows)

    def _window(
        self, request: web.Request, tf: int, lo: str, hi: str, cap: int, default: int
    ) -> list[int]:
        limit = min(cap, _int(request, "limit", default) or default)
        end = _int(request, hi, self.now_ms)
        start = _int(request, lo, None)
        if start is None:  # the latest ``limit`` bars up to ``end`` (any clock, aligned or not)
            start = end - end % tf - (limit - 1) * tf
        return list(mk.grid(start, end, tf))[:limit]

    def _too_old(self, request: web.Request) -> web.Response | None:
        """Binance refuses a startTime beyond its 30 days of OI statistics (error -1130)."""
        start = _int(request, "startTime")
        if start is not None and start < self.now_ms - REST_OI_DAYS * mk.DAY:
            body = {"code": -1130, "msg": "parameter 'startTime' is invalid."}
            return web.json_response(body, status=400)
        return None

    def _bn_oi_hist(self, request: web.Request) -> web.Response:
        if (refused := self._too_old(request)) is not None:
            return refused
        coinm = "pair" in request.query
        sym = request.query.get("symbol") or request.query["pair"] + "_PERP"
        tf = _BINANCE_TF[request.query["period"]]
        oldest = self.now_ms - REST_OI_DAYS * mk.DAY
        rows = []
        for ts in self._window(request, tf, "startTime", "endTime", 500, 30):
            if ts < oldest or ts > self.now_ms:
                continue
            base, px = mk.oi(_market_name(sym), ts), mk.price(_market_name(sym), ts)
            if coinm:
                contracts = round(base * px / _COINM_SIZE[sym])
                rows.append({"pair": request.query["pair"], "contractType": "PERPETUAL",
                             "sumOpenInterest": f"{contracts:.8f}",
                             "sumOpenInterestValue": f"{contracts * _COINM_SIZE[sym] / px:.8f}",
                             "timestamp": ts})  # fmt: skip
            else:
                rows.append({"symbol": sym, "sumOpenInterest": f"{base:.8f}",
                             "sumOpenInterestValue": f"{base * px:.8f}", "timestamp": ts})  # fmt: skip
        return web.json_response(rows)

    def _bn_oi_now(self, request: web.Request) -> web.Response:
        sym = request.query["symbol"]
        t = self.clock()
        return web.json_response(
            {"openInterest": f"{mk.oi(_market_name(sym), t):.3f}", "symbol": sym, "time": t}
        )

    def clock(self) -> int:
        """The venue's time for live endpoints: ``now_ms`` plus the wall time since start."""
        return self.now_ms + int((time.monotonic() - self._t0) * 1000)

    def _bn_lsr(self, request: web.Request) -> web.Response:
        if (refused := self._too_old(request)) is not None:
            return refused
        sym = request.query.get("symbol") or request.query["pair"] + "_PERP"
        tf = _BINANCE_TF[request.query["period"]]
        oldest = self.now_ms - REST_OI_DAYS * mk.DAY
        rows = []
        for ts in self._window(request, tf, "startTime", "endTime", 500, 30):
            if oldest <= ts <= self.now_ms:
                r = mk.long_short(_market_name(sym), ts)
                rows.append({"symbol": sym, "longShortRatio": f"{r:.4f}",
                             "longAccount": f"{r / (1 + r):.4f}", "shortAccount": f"{1 / (1 + r):.4f}",
                             "timestamp": ts})  # fmt: skip
        return web.json_response(rows)

    def _bn_funding(self, request: web.Request) -> web.Response:
        sym = request.query["symbol"]
        rows = []
        for ts in self._window(request, mk.FUNDING_EVERY, "startTime", "endTime", 1000, 100):
            if ts <= self.now_ms:
                rows.append({"symbol": sym, "fundingTime": ts,
                             "fundingRate": f"{mk.funding(_market_name(sym), ts):.8f}",
                             "markPrice": f"{mk.price(_market_name(sym), ts):.8f}"})  # fmt: skip
        return web.json_response(rows)

    # ------------------------------------------------------------------ Binance archive
    def _archive(self, request: web.Request, path: str) -> web.Response:
        if self.archive_dir is not None:
            file = self.archive_dir / path.lstrip("/")
            if ".." in path or not file.is_file():
                return web.Response(status=404, text="NoSuchKey")
            return web.Response(body=file.read_bytes(), content_type="application/octet-stream")
        return self._synthetic_archive(path)

    def _synthetic_archive(self, path: str) -> web.Response:
        # /data/futures/um/daily/metrics/KSMUSDT/KSMUSDT-metrics-2024-01-01.zip[.CHECKSUM]
        # /data/futures/cm/daily/metrics/BTCUSD_PERP/BTCUSD_PERP-metrics-2024-01-01.zip[.CHECKSUM]
        parts = path.strip("/").split("/")
        if len(parts) != 7 or parts[:2] != ["data", "futures"] or parts[4] != "metrics":
            return web.Response(status=404, text="NoSuchKey")
        market, sym, name = parts[2], parts[5], parts[6]
        if market not in ("um", "cm") or (market == "cm") != (sym in _COINM_SIZE):
            return web.Response(status=404, text="NoSuchKey")
        stem = name.removesuffix(".CHECKSUM")
        day_text = stem.removesuffix(".zip").rsplit("-metrics-", 1)[-1]
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            return web.Response(status=404, text="NoSuchKey")
        if self.archive_until is None or day >= self.archive_until:
            return web.Response(status=404, text="NoSuchKey")
        csv_name, blank = stem.removesuffix(".zip") + ".csv", self.archive_blank.get(day, range(0))
        if market == "cm":
            blob = coinm_metrics_zip(sym, day, csv_name, blank)
        else:
            blob = metrics_zip(sym, day, csv_name, blank)
        if name.endswith(".CHECKSUM"):
            return web.Response(text=f"{hashlib.sha256(blob).hexdigest()}  {stem}\n")
        return web.Response(body=blob, content_type="application/zip")

    # ------------------------------------------------------------------ Bybit
    def _bybit(self, result: dict[str, Any]) -> web.Response:
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": result,
                                  "retExtInfo": {}, "time": self.now_ms})  # fmt: skip

    def _bybit_instruments(self, request: web.Request) -> web.Response:
        cat = request.query.get("category", "linear")
        if request.query.get("status") == "PreLaunch" or cat not in ("linear", "inverse"):
            return self._bybit({"category": cat, "list": [], "nextPageCursor": ""})
        return web.json_response(_fixture(f"bybit_v5_market_instruments-info_{cat}.json"))

    def _bybit_kline(self, request: web.Request) -> web.Response:
        sym, tf = request.query["symbol"], _BYBIT_KLINE[request.query["interval"]]
        rows = []
        for ts in self._window(request, tf, "start", "end", 1000, 200):
            if ts <= self.now_ms:
                k = mk.kline(_market_name(sym), ts, tf)
                vol, turnover = k["volume"], k["quote_volume"]
                if request.query.get("category") == "inverse":  # volume in USD, turnover in coin
                    vol, turnover = turnover, vol
                rows.append([str(ts), _s(k["open"]), _s(k["high"]), _s(k["low"]), _s(k["close"]),
                             _s(vol), _s(turnover)])  # fmt: skip
        return self._bybit(
            {"symbol": sym, "category": request.query.get("category"), "list": rows[::-1]}
        )

    def _bybit_oi(self, request: web.Request) -> web.Response:
        sym, tf = request.query["symbol"], _BYBIT_OI[request.query["intervalTime"]]
        rows = [
            {
                "openInterest": f"{self._bybit_oi_figure(request, sym, ts):.8f}",
                "timestamp": str(ts),
            }
            for ts in self._window(request, tf, "startTime", "endTime", 200, 50)
            if ts <= self.now_ms
        ]
        return self._bybit(
            {"symbol": sym, "category": "linear", "list": rows[::-1], "nextPageCursor": ""}
        )

    @staticmethod
    def _bybit_oi_figure(request: web.Request, sym: str, ts: int) -> float:
        """Both sides; base units for linear contracts, USD for inverse ones (Bybit's docs)."""
        base = mk.oi(_market_name(sym), ts) * BYBIT_OI_SIDES
        if request.query.get("category") == "inverse":
            return base * mk.price(_market_name(sym), ts)
        return base

    def _bybit_account_ratio(self, request: web.Request) -> web.Response:
        sym, tf = request.query["symbol"], _BYBIT_OI[request.query["period"]]
        rows = []
        for ts in self._window(request, tf, "startTime", "endTime", 500, 50):
            if ts <= self.now_ms:
                r = mk.long_short(_market_name(sym), ts)
                rows.append({"symbol": sym, "buyRatio": f"{r / (1 + r):.6f}",
                             "sellRatio": f"{1 / (1 + r):.6f}", "timestamp": str(ts)})  # fmt: skip
        return self._bybit({"list": rows[::-1], "nextPageCursor": ""})

    def _bybit_funding(self, request: web.Request) -> web.Response:
        sym = request.query["symbol"]
        rows = [
            {
                "symbol": sym,
                "fundingRate": f"{mk.funding(_market_name(sym), ts):.8f}",
                "fundingRateTimestamp": str(ts),
            }
            for ts in self._window(request, mk.FUNDING_EVERY, "startTime", "endTime", 200, 200)
            if ts <= self.now_ms
        ]
        return self._bybit({"category": "linear", "list": rows[::-1]})

    # ------------------------------------------------------------------ OKX
    def _okx(self, data: list[Any]) -> web.Response:
        return web.json_response({"code": "0", "msg": "", "data": data})

    def _okx_instruments(self, request: web.Request) -> web.Response:
        if request.query.get("instType") != "SWAP":
            return self._okx([])
        return web.json_response(_fixture("okx_api_v5_public_instruments_SWAP.json"))

    def _okx_desc_window(self, request: web.Request, tf: int, cap: int) -> list[int]:
        """OKX pages by ``after`` (ts < after) and ``before`` (ts > before), newest first."""
        limit = min(cap, _int(request, "limit", cap) or cap)
        after = _int(request, "after", self.now_ms + 1) or self.now_ms + 1
        before = _int(request, "before", 0) or 0
        stamps = [ts for ts in mk.grid(before + 1, after - 1, tf) if ts <= self.now_ms]
        return stamps[::-1][:limit]

    def _okx_oi_now(self, request: web.Request) -> web.Response:
        inst = request.query["instId"]
        t, ct = self.clock(), _OKX_CTVAL[inst]
        base, px = mk.oi(_market_name(inst), t), mk.price(_market_name(inst), t)
        contracts = base * px / ct if inst.endswith("-USD-SWAP") else base / ct
        return self._okx([{"instId": inst, "instType": "SWAP", "oi": f"{contracts:.4f}", "oiCcy": f"{base:.4f}",
                           "oiUsd": f"{base * px:.4f}", "ts": str(t)}])  # fmt: skip

    def _okx_candles(self, request: web.Request) -> web.Response:
        inst, tf = request.query["instId"], _OKX_BAR[request.query["bar"]]
        ct = _OKX_CTVAL[inst]
        rows = []
        for ts in self._okx_desc_window(request, tf, 100):
            k = mk.kline(_market_name(inst), ts, tf)
            per = k["quote_volume"] if inst.endswith("-USD-SWAP") else k["volume"]
            rows.append([str(ts), _s(k["open"]), _s(k["high"]), _s(k["low"]), _s(k["close"]),
                         _s(per / ct), _s(k["volume"]), _s(k["quote_volume"]), "1"])  # fmt: skip
        return self._okx(rows)

    def _okx_oi_hist(self, request: web.Request) -> web.Response:
        inst, tf = request.query["instId"], _OKX_BAR[request.query.get("period", "5m")]
        ct = _OKX_CTVAL[inst]
        limit = min(100, _int(request, "limit", 100) or 100)
        end = _int(request, "end", self.now_ms + 1) or self.now_ms + 1  # OKX: both bounds exclusive
        begin = _int(request, "begin", end - limit * tf - 1) or 0
        stamps = [ts for ts in mk.grid(begin + 1, end - 1, tf) if ts <= self.now_ms][::-1][:limit]
        rows = []
        for ts in stamps:
            base, px = mk.oi(_market_name(inst), ts), mk.price(_market_name(inst), ts)
            contracts = base * px / ct if inst.endswith("-USD-SWAP") else base / ct
            rows.append([str(ts), f"{contracts:.4f}", f"{base:.4f}", f"{base * px:.4f}"])
        return self._okx(rows)

    def _okx_lsr(self, request: web.Request) -> web.Response:
        inst, tf = request.query["instId"], _OKX_BAR[request.query.get("period", "5m")]
        limit = min(100, _int(request, "limit", 100) or 100)
        end = _int(request, "end", self.now_ms + 1) or self.now_ms + 1  # both bounds exclusive
        begin = _int(request, "begin", end - limit * tf - 1) or 0
        stamps = [ts for ts in mk.grid(begin + 1, end - 1, tf) if ts <= self.now_ms][::-1][:limit]
        return self._okx(
            [[str(ts), f"{mk.long_short(_market_name(inst), ts):.4f}"] for ts in stamps]
        )

    def _okx_funding(self, request: web.Request) -> web.Response:
        inst = request.query["instId"]
        rows = [
            {
                "instType": "SWAP",
                "instId": inst,
                "formulaType": "noRate",
                "method": "current_period",
                "fundingRate": f"{mk.funding(_market_name(inst), ts):.8f}",
                "realizedRate": f"{mk.funding(_market_name(inst), ts):.8f}",
                "fundingTime": str(ts),
            }
            for ts in self._okx_desc_window(request, mk.FUNDING_EVERY, 100)
        ]
        return self._okx(rows)

    # ------------------------------------------------------------------ websockets
    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        fault = self._ws_faults.pop(request.path_qs, None)
        sent = 0
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            reply = _ws_ack(request.match_info["venue"], json.loads(msg.data))
            if reply is not None:
                await ws.send_json(reply)
            for payload in self.ws_messages:
                if payload.get("venue") == request.match_info["venue"]:
                    await ws.send_json(payload["message"])
                    sent += 1
                    if fault is not None and fault.kind is FaultKind.WS_DROP:
                        await ws.close()
                        return ws
        return ws


def extra_symbol_ids(n: int) -> list[str]:
    """Venue ids of the extra Binance USD-M perpetuals: ``S001USDT`` .. (unified ``S001/USDT:USDT``)."""
    return [f"S{i:03d}USDT" for i in range(1, n + 1)]


def _ws_ack(venue: str, msg: dict[str, Any]) -> dict[str, Any] | None:
    if venue.startswith("binance") and "id" in msg:
        return {"result": None, "id": msg["id"]}
    if venue == "bybit" and msg.get("op") == "subscribe":
        return {
            "success": True,
            "ret_msg": "",
            "op": "subscribe",
            "conn_id": "fake",
            "req_id": msg.get("req_id"),
        }
    if venue == "okx" and msg.get("op") == "subscribe":
        return {"event": "subscribe", "arg": (msg.get("args") or [{}])[0], "connId": "fake"}
    return None


def metrics_zip(symbol: str, day: date, csv_name: str, blank: range = range(0)) -> bytes:
    """A Binance ``metrics`` daily zip for ``day``: 288 five-minute snapshots.

    Files before 2026-06-25 label a snapshot with its time (00:05 .. 00:00 of the next day); from
    then on with the start of its 5-minute period (00:00 .. 23:55, the snapshot taken 5 minutes
    later): :data:`oiradar.sources.decode.binance_archive.METRICS_START_LABELS_FROM`, decision 0200.
    """
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    lines = [_METRICS_HEADER]
    name = _market_name(symbol)
    start_labels = int(start.timestamp() * 1000) >= METRICS_START_LABELS_FROM
    for i in range(288):
        t = start + timedelta(minutes=5 * (i if start_labels else i + 1))  # the label
        ts = int(t.timestamp() * 1000) + (5 * 60_000 if start_labels else 0)  # the snapshot
        base = mk.oi(name, ts)
        oi, value = (
            (f"{base:.8f}", f"{base * mk.price(name, ts):.8f}") if i not in blank else ("", "")
        )
        lines.append(
            f"{t:%Y-%m-%d %H:%M:%S},{symbol},{oi},{value},1.2,1.1,{mk.long_short(name, ts):.4f},0.98"
        )
    return _zip(csv_name, day, "\n".join(lines) + "\n")


def coinm_metrics_zip(symbol: str, day: date, csv_name: str, blank: range = range(0)) -> bytes:
    """A Binance COIN-M ``metrics`` daily zip (decision 0505): 288 snapshots, as real files have.

    - ``create_time`` labels the **start** of each 5-minute period (00:00 .. 23:55; the snapshot
      is taken 5 minutes later), as COIN-M files always did (decision 0200);
    - ``sum_open_interest`` counts contracts of ``contractSize`` USD, rounded to whole contracts
      exactly as the fake's REST ``openInterestHist`` rounds them (the two sources agree);
    - ``sum_open_interest_value`` is in the base coin (contracts x size / price);
    - the three long/short ratio columns are empty: written ``""`` on even days and bare on odd
      days (both forms are in real files), while the taker ratio is filled.
    """
    size = _COINM_SIZE[symbol]
    name = _market_name(symbol)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    empty = '""' if day.toordinal() % 2 == 0 else ""
    lines = [_METRICS_HEADER]
    for i in range(288):
        t = start + timedelta(minutes=5 * i)  # the label: the period's start
        ts = int(t.timestamp() * 1000) + 5 * 60_000  # the snapshot: the period's end
        px = mk.price(name, ts)
        contracts = round(mk.oi(name, ts) * px / size)
        oi, value = (
            (f"{contracts:.8f}", f"{contracts * size / px:.8f}") if i not in blank else ("", "")
        )
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{symbol},{oi},{value},{empty},{empty},{empty},0.98")
    return _zip(csv_name, day, "\n".join(lines) + "\n")


def _zip(csv_name: str, day: date, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(csv_name, date_time=(day.year, day.month, day.day, 0, 0, 0))
        zf.writestr(info, text)
    return buf.getvalue()


_METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
    "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio"
)

_ROUTES: dict[tuple[str, str], Callable[[FakeExchange, web.Request], web.Response]] = {
    ("binanceusdm", "/fapi/v1/exchangeInfo"): FakeExchange._bn_exchange_info,
    ("binanceusdm", "/fapi/v1/klines"): lambda s, r: s._bn_klines(r, coinm=False),
    ("binanceusdm", "/fapi/v1/fundingRate"): FakeExchange._bn_funding,
    ("binanceusdm", "/fapi/v1/openInterest"): FakeExchange._bn_oi_now,
    ("binanceusdm", "/futures/data/openInterestHist"): FakeExchange._bn_oi_hist,
    ("binanceusdm", "/futures/data/globalLongShortAccountRatio"): FakeExchange._bn_lsr,
    ("binancecoinm", "/dapi/v1/exchangeInfo"): lambda s, r: web.json_response(
        _fixture("dapi_v1_exchangeInfo.json")
    ),
    ("binancecoinm", "/dapi/v1/klines"): lambda s, r: s._bn_klines(r, coinm=True),
    ("binancecoinm", "/dapi/v1/fundingRate"): FakeExchange._bn_funding,
    ("binancecoinm", "/futures/data/openInterestHist"): FakeExchange._bn_oi_hist,
    ("binancecoinm", "/futures/data/globalLongShortAccountRatio"): FakeExchange._bn_lsr,
    ("bybit", "/v5/market/instruments-info"): FakeExchange._bybit_instruments,
    ("bybit", "/v5/market/kline"): FakeExchange._bybit_kline,
    ("bybit", "/v5/market/open-interest"): FakeExchange._bybit_oi,
    ("bybit", "/v5/market/funding/history"): FakeExchange._bybit_funding,
    ("bybit", "/v5/market/account-ratio"): FakeExchange._bybit_account_ratio,
    ("okx", "/api/v5/public/instruments"): FakeExchange._okx_instruments,
    ("okx", "/api/v5/market/history-candles"): FakeExchange._okx_candles,
    ("okx", "/api/v5/market/candles"): FakeExchange._okx_candles,
    ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): FakeExchange._okx_oi_hist,
    ("okx", "/api/v5/public/funding-rate-history"): FakeExchange._okx_funding,
    ("okx", "/api/v5/public/open-interest"): FakeExchange._okx_oi_now,
    (
        "okx",
        "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract",
    ): FakeExchange._okx_lsr,
}
