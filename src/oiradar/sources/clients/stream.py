"""Websocket liquidation streams (ccxt.pro ``watch_liquidations``), re-opened after every drop.

A dropped connection or a venue error is re-opened with exponential backoff and jitter
(:class:`~oiradar.sources.clients.retry.RetryPolicy`); each reconnect is reported as a
:class:`~oiradar.sources.clients.retry.RetryEvent` and counted through ``on_reconnect``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ccxt

from oiradar.config import Settings
from oiradar.sources.clients.rest import classify, make_exchange
from oiradar.sources.clients.retry import RetryEvent, RetryPolicy, RetryReport

Events = Sequence[Mapping[str, Any]]


@dataclass
class LiquidationStream:
    """The public liquidation stream of one venue, handed event batches until ``stop`` is set."""

    exchange_id: str
    settings: Settings
    options: Mapping[str, Any]
    report: RetryReport
    stop: asyncio.Event
    on_events: Callable[[Events], None]
    on_reconnect: Callable[[], None] = lambda: None

    async def run(self, symbols: Sequence[str]) -> None:
        """Watch ``symbols`` (one stream for all where the venue has one, else one each)."""
        ex = make_exchange(self.exchange_id, self.settings, self.options, pro=True)
        try:
            if ex.has.get("watchLiquidationsForSymbols") is True:
                await self._watch(
                    ex, lambda: ex.watch_liquidations_for_symbols(list(symbols)), "all"
                )
            else:
                await asyncio.gather(
                    *(self._watch(ex, _bind(ex.watch_liquidations, s), s) for s in symbols)
                )
        finally:
            await ex.close()

    async def _watch(self, ex: Any, watch: Callable[[], Any], label: str) -> None:
        policy = RetryPolicy.from_settings(self.settings.fetch)
        rng, attempt = random.Random(), 0
        while not self.stop.is_set():
            try:
                events = await watch()
            except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                wait = policy.backoff(attempt, None, rng)
                self.report.add(RetryEvent(
                    what=f"{self.exchange_id} ws liquidations {label}", attempt=attempt + 1,
                    kind="ws_reconnect" if classify(exc) else "ws_error", detail=str(exc)[:200],
                    wait_s=wait,
                ))  # fmt: skip
                self.on_reconnect()
                attempt += 1
                await asyncio.sleep(wait)
                continue
            attempt = 0
            self.on_events(_new_in_cache(ex, events))


def _new_in_cache(ex: Any, events: Events) -> Events:
    """Every liquidation ccxt cached since the last call. A ccxt watch resolves with one
    liquidation only, the first of a message's batch (Bybit, OKX) or of a burst that arrived before
    the next watch, though its handler caches them all: the others would never be handed on."""
    cache = getattr(ex, "liquidations", None)
    if cache is None:
        return events
    n = cache.getLimit(None, None)
    return list(cache[-n:]) if n else events


def _bind(fn: Callable[[str], Any], arg: str) -> Callable[[], Any]:
    return lambda: fn(arg)
