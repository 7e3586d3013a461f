"""Faults the fake exchange injects, each once, on the n-th request whose path matches."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum


class FaultKind(StrEnum):
    RATE_LIMIT = "429"  # 429 with Retry-After
    BANNED = "418"  # 418 (IP auto-banned after ignoring 429s) with Retry-After
    SERVER_ERROR = "500"
    BAD_REQUEST = "400"  # a refused request (Binance error -1130), not transient
    FORBIDDEN = "403"  # a WAF / CDN refusing this network
    GEO_BLOCKED = "451"  # "Unavailable For Legal Reasons": the venue blocks this country
    TIMEOUT = "timeout"  # hold the response longer than the client's timeout
    RESET = "reset"  # drop the connection without an answer
    TRUNCATED = "truncated"  # 200 with the JSON body cut in half
    MALFORMED = "malformed"  # 200 with valid JSON of the wrong shape
    BAD_CHECKSUM = "bad_checksum"  # an archive zip whose bytes do not match its .CHECKSUM
    HANG = "hang"  # never answer (used to freeze a fetch at a known point, then kill it)
    WS_DROP = "ws_drop"  # close the websocket after the first message


@dataclass
class Fault:
    kind: FaultKind
    match: str  # substring of the request path (+ query); a trailing "$" anchors it at the end
    nth: int = 1  # fire on the n-th matching request ...
    times: int = 1  # ... and on the ``times - 1`` matching requests after it
    retry_after: str = "1"
    fired: bool = False


@dataclass
class FaultPlan:
    """A list of one-shot faults; thread-safe, since the server runs in its own thread."""

    faults: list[Fault] = field(default_factory=list)
    fired: list[tuple[FaultKind, str]] = field(default_factory=list)
    _counts: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        kind: FaultKind | str,
        match: str,
        nth: int = 1,
        times: int = 1,
        retry_after: str = "1",
    ) -> FaultPlan:
        self.faults.append(Fault(FaultKind(kind), match, nth, times, retry_after))
        return self

    def take(self, path_qs: str) -> Fault | None:
        """The fault to inject into this request, if any (marks it fired)."""
        with self._lock:
            for i, f in enumerate(self.faults):
                if f.fired or not _matches(f.match, path_qs):
                    continue
                self._counts[i] = self._counts.get(i, 0) + 1
                if f.nth <= self._counts[i] < f.nth + f.times:
                    f.fired = self._counts[i] == f.nth + f.times - 1
                    self.fired.append((f.kind, path_qs))
                    return f
            return None


def _matches(pattern: str, path_qs: str) -> bool:
    if pattern.endswith("$"):
        return path_qs.endswith(pattern[:-1])
    return pattern in path_qs
