"""Retries with exponential backoff and jitter, and the report of every retry made.

Retried: rate limits (429, with ``Retry-After`` honoured), bans (418), server errors (5xx),
timeouts, connection resets, and payloads that are malformed, truncated or fail their checksum.
A connection that cannot be opened at all (refused, unknown host: kind ``connect``) is retried
at most :data:`CONNECT_RETRIES` times, a second apart at most: offline, a command fails in
seconds, not after a minute of backoff.
Not retried: anything else (a bad symbol, a 400, a 403/451 geo-block): it is a bug, a user error
or a refusal, reported at once.
Backoff before retry ``k`` (0-based): ``min(max, base * 2**k) * U(0.5, 1)``, or ``Retry-After``
when the venue asks for longer, up to ``[fetch] max_retry_after``: a venue asking for more fails
the request with a :class:`SourceError` that says what it asked.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from oiradar.config import FetchSettings
from oiradar.errors import SourceError

T = TypeVar("T")

CONNECT_RETRIES = 2
CONNECT_WAIT_MAX = 1.0  # seconds
LONG_WAIT_S = 5.0  # a wait at least this long is announced as it starts (RetryReport.on_event)


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    retries: int = 6
    base: float = 1.0
    max_wait: float = 60.0
    max_retry_after: float = 60.0

    @classmethod
    def from_settings(cls, s: FetchSettings) -> RetryPolicy:
        return cls(retries=s.retries, base=s.backoff_base, max_wait=s.backoff_max,
                   max_retry_after=s.max_retry_after)  # fmt: skip

    def retries_for(self, kind: str) -> int:
        return min(self.retries, CONNECT_RETRIES) if kind == "connect" else self.retries

    def backoff(
        self, attempt: int, retry_after: float | None, rng: random.Random, kind: str = ""
    ) -> float:
        wait = min(self.max_wait, self.base * 2**attempt) * rng.uniform(0.5, 1.0)
        if kind == "connect":
            wait = min(wait, CONNECT_WAIT_MAX)
        return max(wait, retry_after or 0.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryEvent:
    """One failed attempt that was retried (or given up on: ``gave_up``)."""

    what: str  # endpoint or file
    attempt: int  # 1-based
    kind: str  # rate_limit, banned, server_error, timeout, network, connect, bad_payload, checksum
    detail: str
    wait_s: float
    gave_up: bool = False
    retry_after: float | None = None  # what the venue asked for (seconds), when it asked

    def warning(self) -> str | None:
        """A line worth showing while the run goes on: a long wait, or a wait refused."""
        if self.retry_after is not None and self.gave_up and self.wait_s == 0.0:
            return f"{self.what}: the venue asked to wait {self.retry_after:g} s ({self.kind}); gave up"
        if self.wait_s >= LONG_WAIT_S:
            return (
                f"{self.what}: {self.kind}, waiting {self.wait_s:.0f} s before attempt "
                f"{self.attempt + 1} ({self.detail[:120]})"
            )
        return None


@dataclass
class RetryReport:
    """Every retry of a run, thread-safe; printed by ``oiradar fetch`` at the end."""

    events: list[RetryEvent] = field(default_factory=list)
    on_event: Callable[[RetryEvent], None] | None = None  # live feed (the CLI prints warnings)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, event: RetryEvent) -> None:
        with self._lock:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def kinds(self) -> set[str]:
        return {e.kind for e in self.events}

    def summary(self) -> str:
        if not self.events:
            return "no retries"
        counts: dict[str, int] = {}
        for e in self.events:
            counts[e.kind] = counts.get(e.kind, 0) + 1
        return (
            f"{len(self.events)} retries ("
            + ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
            + ")"
        )


def parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds; None when absent, an HTTP date, negative or not finite."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: not worth parsing, the backoff applies
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


class Retryable(SourceError):
    """A transient failure: ``kind`` names it, ``retry_after`` is the venue's wish in seconds."""

    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy,
    report: RetryReport,
    classify: Callable[[BaseException], Retryable | None],
    rng: random.Random | None = None,
) -> T:
    """Run ``attempt`` until it succeeds; transient failures (``classify``) wait and retry."""
    rng = rng or random.Random()
    for k in range(policy.retries + 1):
        try:
            return await attempt()
        except Exception as exc:
            transient = classify(exc)
            if transient is None:
                raise
            _refuse_long_wait(transient, what, k, policy, report)
            last = k >= policy.retries_for(transient.kind)
            wait = 0.0 if last else policy.backoff(k, transient.retry_after, rng, transient.kind)
            report.add(RetryEvent(what=what, attempt=k + 1, kind=transient.kind,
                                  detail=str(transient)[:200], wait_s=wait, gave_up=last,
                                  retry_after=transient.retry_after))  # fmt: skip
            if last:
                raise SourceError(
                    f"{what}: gave up after {k + 1} attempts; last error "
                    f"({transient.kind}): {str(transient)[:300]}"
                ) from exc
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


def _refuse_long_wait(
    transient: Retryable, what: str, k: int, policy: RetryPolicy, report: RetryReport
) -> None:
    """A ``Retry-After`` beyond ``max_retry_after`` fails the request now instead of sleeping."""
    asked = transient.retry_after
    if asked is None or asked <= policy.max_retry_after:
        return
    report.add(RetryEvent(what=what, attempt=k + 1, kind=transient.kind,
                          detail=str(transient)[:200], wait_s=0.0, gave_up=True,
                          retry_after=asked))  # fmt: skip
    raise SourceError(
        f"{what}: the venue asked to wait {asked:g} s before retrying ({transient.kind}, "
        f"Retry-After), more than fetch.max_retry_after = {policy.max_retry_after:g} s; "
        "try again later, or raise [fetch] max_retry_after"
    ) from transient
