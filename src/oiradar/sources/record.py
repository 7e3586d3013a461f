"""Live recording: OI polls (every poll kept, two clocks) and websocket liquidations.

``oiradar record`` runs two kinds of loop until stopped:

- **OI polls**: every ``poll_s`` seconds, the venue's current OI for each symbol. Every poll is
  stored, even when the value did not change (a repeated value says "still X at t"), with the
  venue's timestamp ``ts_venue`` and our receipt time ``ts_received`` (STYLE habit 14). Polls go
  to ``<home>/recordings/oi_polls/<exchange>/<symbol-slug>/<YYYY-MM-DD>.parquet``.
- **liquidations**: ccxt.pro's ``watch_liquidations`` on the venue's public stream (Binance
  ``forceOrder``, Bybit ``allLiquidation``, OKX ``liquidation-orders``). Each event becomes a
  canonical liquidation row with the **position** side (SPEC section 1) and base quantity, written
  with :meth:`~oiradar.store.Catalog.write_liquidations` (a repeated event is kept once). A dropped
  connection is re-opened with exponential backoff and jitter; each reconnect is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt
import polars as pl

from oiradar.config import Settings
from oiradar.errors import SourceError, StoreError
from oiradar.model import MarginType, Source, now_ms, symbol_slug, validate_exchange_name
from oiradar.sources.ccxt_client import RestClient, classify, make_exchange
from oiradar.sources.retry import RetryEvent, RetryPolicy, RetryReport
from oiradar.sources.venues import MarketInfo, Venue, venue_for
from oiradar.sources.venues.base import OiUnit
from oiradar.store import Catalog
from oiradar.store.atomic import LOCKS_DIR, LockBusy, file_lock, fsync_path, tmp_path_for

POLL_SCHEMA: dict[str, pl.DataType] = {
    "ts_venue": pl.Int64(),
    "ts_received": pl.Int64(),
    "exchange": pl.String(),
    "symbol": pl.String(),
    "oi_raw": pl.Float64(),
    "oi_unit": pl.String(),
    "oi": pl.Float64(),
    "oi_value": pl.Float64(),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class RecordOptions:
    exchange: str
    symbols: tuple[str, ...]
    poll_s: float = 60.0
    duration_s: float | None = None  # stop after this long (None: until cancelled)
    polls: bool = True
    liquidations: bool = True


@dataclass
class RecordStats:
    polls: int = 0
    liquidations: int = 0
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)


def polls_dir(home: Path, exchange: str, symbol: str) -> Path:
    name = validate_exchange_name(exchange)  # a folder name: no path step can slip in
    return Path(home) / "recordings" / "oi_polls" / name / symbol_slug(symbol)


def read_polls(home: Path, exchange: str, symbol: str) -> pl.DataFrame:
    files = sorted(polls_dir(home, exchange, symbol).glob("*.parquet"))
    if not files:
        return pl.DataFrame(schema=POLL_SCHEMA)
    return pl.concat([_read_day(f) for f in files]).sort("ts_received")


def recording_lock(
    home: Path, exchange: str, symbol: str, *, timeout_s: float = 60.0
) -> AbstractContextManager[None]:
    """The lock of one recorded series, ``<home>/catalog/.locks/<exchange>__<symbol>.lock``.

    A :class:`Recorder` holds it for its whole run; :func:`append_polls` takes it (re-entrant in
    the recorder's process) around each read-extend-replace of a day file.
    """
    name = f"{validate_exchange_name(exchange)}__{symbol_slug(symbol)}.lock"
    path = Catalog(home).root / LOCKS_DIR / name
    return file_lock(path, timeout_s=timeout_s, what=f"the recording lock of {exchange} {symbol}")


def append_polls(home: Path, rows: pl.DataFrame) -> None:
    """Append polls to their day files (atomic replace: a crash leaves the old file whole).

    Each day file is read, extended and replaced under the series' recording lock: two writers
    doing it at once would each replace the file with their own rows and lose the other's.
    """
    day = pl.from_epoch(pl.col("ts_received"), time_unit="ms").dt.strftime("%Y-%m-%d")
    rows = rows.with_columns(day.alias("_d"))
    for (exchange, symbol, d), part in rows.group_by("exchange", "symbol", "_d"):
        with recording_lock(home, str(exchange), str(symbol)):
            path = polls_dir(home, str(exchange), str(symbol)) / f"{d}.parquet"
            _append_day(path, part.drop("_d"))


def _append_day(path: Path, part: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    pl.concat([_read_day(path), part]).write_parquet(tmp)
    fsync_path(tmp)  # the rename must not publish a file whose bytes are not on disk yet
    tmp.replace(path)
    fsync_path(path.parent)


def _read_day(path: Path) -> pl.DataFrame:
    """A day file, read in one go: polars opens a path more than once, and a recorder replacing
    the file in between would hand it the footer of one file and the pages of the other."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return pl.DataFrame(schema=POLL_SCHEMA)
    try:
        return pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise StoreError(
            f"{path} is damaged ({str(exc).splitlines()[0]}); restore it from a backup, or move it "
            f"out of {path.parent} and record again (a new file is started for that day)"
        ) from None


def poll_row(venue: Venue, market: MarketInfo, payload: Any, received: int) -> dict[str, Any]:
    """One poll -> a row; ``oi`` in base units when the unit allows it without a price."""
    t, raw, unit, value = venue.decode_current_oi(payload, market)
    base = {
        OiUnit.BASE: raw,
        OiUnit.BASE_BOTH_SIDES: raw / 2,
        OiUnit.CONTRACTS_BASE: raw * market.contract_size,
    }.get(unit)
    return {"ts_venue": t, "ts_received": received, "exchange": venue.id, "symbol": market.symbol,
            "oi_raw": raw, "oi_unit": unit.value, "oi": base, "oi_value": value}  # fmt: skip


def liquidation_rows(
    venue: Venue, markets: Mapping[str, MarketInfo], events: Sequence[Mapping[str, Any]]
) -> pl.DataFrame:
    """ccxt.pro liquidations -> canonical rows: position side, base quantity, quote value."""
    rows = []
    for liq in events:
        market = markets.get(str(liq.get("symbol")))
        if market is None:
            continue
        price, contracts = venue.liquidation_price(liq), float(liq["contracts"])
        qty = contracts * market.contract_size
        if market.margin is MarginType.INVERSE:
            qty = qty / price  # contracts worth contract_size USD
        rows.append({"ts": int(liq["timestamp"]), "exchange": venue.id, "symbol": market.symbol,
                     "side": venue.liquidation_side(liq).value, "price": price, "qty": qty,
                     "quote_qty": qty * price, "source": Source.WS.value})  # fmt: skip
    return pl.DataFrame(rows, schema={"ts": pl.Int64, "exchange": pl.String, "symbol": pl.String,
                                      "side": pl.String, "price": pl.Float64, "qty": pl.Float64,
                                      "quote_qty": pl.Float64, "source": pl.String})  # fmt: skip


class Recorder:
    """Runs the poll and liquidation loops of one venue until ``stop`` is set or time is up."""

    def __init__(self, opts: RecordOptions, catalog: Catalog, settings: Settings, report: RetryReport,
                 on_event: Callable[[str], None] | None = None) -> None:  # fmt: skip
        self.opts = opts
        self.catalog = catalog
        self.settings = settings
        self.report = report
        self.venue = venue_for(opts.exchange)
        self.policy = RetryPolicy.from_settings(settings.fetch)
        self.stats = RecordStats()
        self.stop = asyncio.Event()
        self.on_event = on_event or (lambda _msg: None)
        self.markets: dict[str, MarketInfo] = {}

    async def run(self) -> RecordStats:
        """Record until stopped; refuses at once when a series is being recorded already."""
        with contextlib.ExitStack() as claims:
            for symbol in self.opts.symbols:
                claims.enter_context(self._claim(symbol))
            return await self._record()

    def _claim(self, symbol: str) -> contextlib.ExitStack[bool | None]:
        """Hold ``symbol``'s recording lock, or a StoreError naming who records it already."""
        home, exchange = self.catalog.home, self.opts.exchange
        claim = (Path(home).resolve(), exchange, symbol_slug(symbol))
        stack = contextlib.ExitStack()
        try:
            if claim in _CLAIMED:  # the lock is re-entrant: a second recorder here needs this
                raise LockBusy("", path=Path(home), holder="this process")
            stack.enter_context(recording_lock(home, exchange, symbol, timeout_s=0))
        except LockBusy as exc:
            raise StoreError(
                f"{exchange} {symbol} is already being recorded into {home} by {exc.holder}; "
                f"stop that `oiradar record` first, or record other symbols (two recorders of "
                f"one series would lose each other's polls)"
            ) from None
        _CLAIMED.add(claim)
        stack.callback(_CLAIMED.discard, claim)
        return stack

    async def _record(self) -> RecordStats:
        async with RestClient(
            self.opts.exchange, self.settings, self.report, self.venue.ccxt_options
        ) as rest:
            self.markets = {s: await rest.market(s) for s in self.opts.symbols}
            tasks = []
            if self.opts.polls:
                tasks.append(asyncio.create_task(self._poll_loop(rest)))
            if self.opts.liquidations:
                tasks.append(asyncio.create_task(self._liquidation_loop()))
            try:
                if self.opts.duration_s is None:
                    await self.stop.wait()
                else:
                    await asyncio.wait_for(self.stop.wait(), self.opts.duration_s)
            except TimeoutError:
                pass
            finally:
                self.stop.set()
                for t in tasks:
                    t.cancel()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            for outcome in outcomes:  # a loop that died of a bug is not hidden
                if isinstance(outcome, Exception):
                    raise outcome
        return self.stats

    async def _poll_loop(self, rest: RestClient) -> None:
        while not self.stop.is_set():
            rows = []
            for market in self.markets.values():
                try:
                    payload = await rest.call(self.venue.current_oi_call(market))
                    rows.append(poll_row(self.venue, market, payload, now_ms()))
                except SourceError as exc:  # after every retry: report, keep recording
                    self.stats.errors.append(str(exc))
            if rows:
                append_polls(self.catalog.home, pl.DataFrame(rows, schema=POLL_SCHEMA))
                self.stats.polls += len(rows)
                self.on_event(f"{len(rows)} OI polls")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.opts.poll_s)

    async def _liquidation_loop(self) -> None:
        ex = make_exchange(self.opts.exchange, self.settings, self.venue.ccxt_options, pro=True)
        symbols = list(self.markets)
        try:
            if ex.has.get("watchLiquidationsForSymbols") is True:
                await self._watch(lambda: ex.watch_liquidations_for_symbols(symbols), "all")
            else:
                await asyncio.gather(
                    *(self._watch(_bind(ex.watch_liquidations, s), s) for s in symbols)
                )
        finally:
            await ex.close()

    async def _watch(self, watch: Callable[[], Any], label: str) -> None:
        rng, attempt = random.Random(), 0
        while not self.stop.is_set():
            try:
                events = await watch()
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                kind = classify(exc)
                wait = self.policy.backoff(attempt, None, rng)
                self.report.add(RetryEvent(what=f"{self.opts.exchange} ws liquidations {label}", attempt=attempt + 1,
                                           kind="ws_reconnect" if kind else "ws_error", detail=str(exc)[:200],
                                           wait_s=wait))  # fmt: skip
                self.stats.reconnects += 1
                attempt += 1
                await asyncio.sleep(wait)
                continue
            attempt = 0
            frame = liquidation_rows(self.venue, self.markets, events)
            if frame.height:
                written = self.catalog.write_liquidations(frame, Source.WS)
                self.stats.liquidations += written.rows_added
                self.on_event(f"{written.rows_added} liquidations")


_CLAIMED: set[tuple[Path, str, str]] = set()  # series recorded by this process


def _bind(fn: Callable[[str], Any], arg: str) -> Callable[[], Any]:
    return lambda: fn(arg)


async def record(opts: RecordOptions, catalog: Catalog, settings: Settings, report: RetryReport,
                 on_event: Callable[[str], None] | None = None) -> RecordStats:  # fmt: skip
    return await Recorder(opts, catalog, settings, report, on_event).run()
