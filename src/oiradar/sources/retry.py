"""Retries with exponential backoff and jitter, and the report of every retry made.

Retried: rate limits (429, with ``Retry-After`` honoured), bans (418), server errors (5xx),
timeouts, connection resets, and payloads that are malformed, truncated or fail their checksum.
Not retried: anything else (a bad symbol, a 400): it is a bug or a user error, reported at once.
Backoff before retry ``k`` (0-based): ``min(max, base * 2**k) * U(0.5, 1)``, or ``Retry-After``
when the venue asks for longer.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from oiradar.config import FetchSettings
from oiradar.errors import SourceError

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryPolicy:
    retries: int = 6
    base: float = 1.0
    max_wait: float = 60.0

    @classmethod
    def from_settings(cls, s: FetchSettings) -> RetryPolicy:
        return cls(retries=s.retries, base=s.backoff_base, max_wait=s.backoff_max)

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        wait = min(self.max_wait, self.base * 2**attempt) * rng.uniform(0.5, 1.0)
        return max(wait, retry_after or 0.0)


@dataclass(frozen=True, kw_only=True, slots=True)
class RetryEvent:
    """One failed attempt that was retried (or given up on: ``gave_up``)."""

    what: str  # endpoint or file
    attempt: int  # 1-based
    kind: str  # rate_limit, banned, server_error, timeout, network, bad_payload, checksum
    detail: str
    wait_s: float
    gave_up: bool = False


@dataclass
class RetryReport:
    """Every retry of a run, thread-safe; printed by ``oiradar fetch`` at the end."""

    events: list[RetryEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, event: RetryEvent) -> None:
        with self._lock:
            self.events.append(event)

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
            last = k == policy.retries
            wait = 0.0 if last else policy.backoff(k, transient.retry_after, rng)
            report.add(RetryEvent(what=what, attempt=k + 1, kind=transient.kind,
                                  detail=str(transient)[:200], wait_s=wait, gave_up=last))  # fmt: skip
            if last:
                raise SourceError(
                    f"{what}: gave up after {policy.retries + 1} attempts; last error "
                    f"({transient.kind}): {str(transient)[:300]}"
                ) from exc
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
