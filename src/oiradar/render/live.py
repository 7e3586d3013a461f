"""Views of the live radar: ``oiradar status`` and the lines ``oiradar watch`` prints."""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from oiradar.app.live import WatchStatus
from oiradar.render.console import say, styled
from oiradar.render.formats import OutFormat, iso, number
from oiradar.render.tables import echo_json, show


def duration(ms: int | None) -> str:
    """``45s``, ``12m``, ``3h 20m``, ``2d 4h``; ``n/a`` when unknown."""
    if ms is None:
        return "n/a"
    s = ms // 1000
    if s < 90:
        return f"{s}s"
    m = s // 60
    if m < 90:
        return f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h {m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


def stamp() -> str:
    """The local wall time of a watch line, UTC: ``12:04:31``."""
    return time.strftime("%H:%M:%S", time.gmtime())


def watch_line(message: str) -> None:
    """A progress or problem line of ``oiradar watch`` (stderr, so alerts on stdout stay clean)."""
    say(styled(stamp(), "dim", message), err=True)


def _alert_cell(a: dict[str, Any] | None) -> str:
    if not a:
        return "none yet"
    late = " (late)" if a.get("late") else ""
    return f"{a['signal']} {a['side']} {a['bar_time']}{late}"


def show_status(st: WatchStatus | None, fmt: OutFormat, home: str) -> None:
    if st is None:
        if fmt is OutFormat.JSON:
            echo_json({"home": home, "running": None, "series": [], "channels": []})
            return
        say(f"no watch has run on this home ({home}); start one with "
            "`oiradar watch -e sim -s KSM/USDT:USDT -t 1h` or see docs/live.md")  # fmt: skip
        return
    if fmt is OutFormat.JSON:
        echo_json(st.__dict__)
        return
    running = f"running ({st.running})" if st.running else "not running"
    say(f"watch on {st.home}: {running}; {st.alerts:,} alerts recorded")
    series = pl.DataFrame(
        {
            "series": [r["series"] for r in st.series],
            "last bar (UTC)": [iso(r["last_bar_ts"]) for r in st.series],
            "lag": [duration(r["lag_ms"]) for r in st.series],
            "errors": [number(int(r["errors"])) for r in st.series],
            "last error": [(r["error"] or "")[:60] for r in st.series],
            "last alert": [_alert_cell(r["last_alert"]) for r in st.series],
        }
    )
    if series.height == 0:
        say("no series checked yet")
    else:
        show(series, fmt, title="series")
    if not st.channels:
        say("no alert sent yet on any channel")
        return
    channels = pl.DataFrame(
        {
            "channel": [c["channel"] for c in st.channels],
            "state": [c["state"] for c in st.channels],
            "last sent (UTC)": [iso(c["last_ok_ms"]) for c in st.channels],
            "pending": [number(int(c["pending"])) for c in st.channels],
            "failed": [number(int(c["failed"])) for c in st.channels],
            "last error": [(c["last_error"] or "")[:50] for c in st.channels],
        }
    )
    show(channels, fmt, title="channels")


__all__ = ["duration", "show_status", "stamp", "watch_line"]
