"""``oiradar watch``: keep the watched series current, alert once per event, survive what happens.

One pass (:meth:`Watcher.step`), for each series in turn:

1. the feed stores the bars closed by now (a venue: ``oiradar fetch``'s code from the last stored
   bar, so an outage's gap is backfilled when the venue is back; ``-e sim``: the simulated market);
2. the bars after the series' cursor are evaluated with ``oiradar scan``'s code
   (:func:`oiradar.app.live.evaluate`), their events become alerts routed to the channels;
3. alerts, deliveries and the new cursor are committed to the ledger in one transaction, then the
   dispatcher's channel threads send them (a delivery is marked sent after its channel answered).

A failing series is recorded (``oiradar status``) and the others go on. Killed at any point, a
restarted watch resumes from the ledger: no event is evaluated twice into new alerts (the cursor),
every delivery not confirmed is sent again, and one confirmed never is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from oiradar.app.brief import BriefOptions, append_sheet, brief, brief_text
from oiradar.app.feeds import (
    Feed,
    RevealFeed,
    SimClock,
    VenueFeed,
    liquidation_stream,
    save_sim_clock,
    sim_clock,
    sim_histories,
    wall_ms,
)
from oiradar.app.fetch import RetryEvent, RetryReport
from oiradar.app.live import (
    Ledger,
    NewAlert,
    alert_payload,
    brief_payload,
    evaluate,
    open_ledger,
    series_label,
    watch_lock,
)
from oiradar.app.paper import advance
from oiradar.app.session import Session
from oiradar.errors import InputError, OiradarError
from oiradar.live.channels import Channel, build_channels, route
from oiradar.live.dispatch import Dispatcher
from oiradar.model import DAY_MS, SeriesKey
from oiradar.timeutil import day_start_ms, iso_utc, utc_date

SIM = "sim"
Say = Callable[[str], None]


@dataclass(frozen=True)
class WatchOptions:
    series: tuple[SeriesKey, ...]
    notify: tuple[str, ...] = ()  # extra channel URLs (--notify)
    signals: tuple[str, ...] = ()  # alert on these (all when empty)
    sim_speed: float | None = None  # -e sim: simulated seconds per real second ([watch] sim_speed)
    stop_after_bars: int | None = None  # end after this many closed bars per series
    poll_s: float | None = None  # [watch] poll_s
    console: bool = True  # alerts printed to the terminal too
    drain_s: float = 10.0  # on the way out, how long the channels may take to send what is due

    def __post_init__(self) -> None:
        if not self.series:
            raise InputError("no series to watch: give -e EXCHANGE -s SYMBOL -t TIMEFRAME or add "
                             '[watch] series = ["binanceusdm KSM/USDT:USDT 4h"] to oiradar.toml')  # fmt: skip
        if self.stop_after_bars is not None and self.stop_after_bars < 1:
            raise InputError(f"--stop-after-bars {self.stop_after_bars}: give a count >= 1")


@dataclass
class SeriesState:
    key: SeriesKey
    label: str
    new_bars: int = 0  # closed bars evaluated in this run
    last_bar: int | None = None
    error: str | None = None


@dataclass
class WatchSummary:
    bars: int = 0
    alerts: int = 0
    late: int = 0
    errors: int = 0


class Watcher:
    """The watch loop; :meth:`step` is one pass (a test drives it with its own clock and feeds)."""

    def __init__(
        self, session: Session, opts: WatchOptions, *, say: Say | None = None,
        echo: Say | None = None, feeds: dict[str, Feed] | None = None,
        channels: Sequence[Channel] | None = None,
    ) -> None:  # fmt: skip
        self.session = session
        self.opts = opts
        self.say = say or (lambda _m: None)  # progress and problems
        self.echo = echo or print  # console alerts
        self.ledger: Ledger = open_ledger(session)
        self.states = [SeriesState(k, series_label(k)) for k in opts.series]
        self.summary = WatchSummary()
        self._feeds = feeds
        self._channels = channels
        self.feeds: dict[str, Feed] = {}
        self.dispatcher: Dispatcher | None = None
        self.channels: list[Channel] = []
        self._streams: list[tuple[object, asyncio.Task[object]]] = []
        self._sim_clock: SimClock | None = None
        self.stop = asyncio.Event()

    def first_cursor(self, label: str) -> int | None:
        """The bar the first watch of this home started after (alerts begin with the next one)."""
        raw = self.ledger.get(f"first_bar:{label}")
        return None if raw is None else int(raw)

    # ------------------------------------------------------------------ set-up
    def _build_feeds(self) -> dict[str, Feed]:
        cfg = self.session.settings.watch
        feeds: dict[str, Feed] = {}
        for exchange in sorted({k.exchange for k in self.opts.series}):
            keys = [k for k in self.opts.series if k.exchange == exchange]
            if exchange == SIM:
                speed = self.opts.sim_speed or cfg.sim_speed
                clock = sim_clock(self.ledger, speed, min(k.timeframe.ms for k in keys))
                self._sim_clock = clock
                self.say(f"simulated venue: {len(keys)} series, clock at "
                         f"{iso_utc(clock.now())} UTC, {speed:g}x real time")  # fmt: skip
                hist = sim_histories(self.session, keys, clock, cfg.history)
                feeds[exchange] = RevealFeed(self.session, hist, clock.now, speed)
            else:
                report = RetryReport(on_event=lambda e: self._retry_note(e))
                feeds[exchange] = VenueFeed(self.session, exchange, cfg.history, report)
        return feeds

    def _retry_note(self, event: RetryEvent) -> None:
        warning = event.warning()  # a long wait or a refused one; quiet retries say nothing
        if warning:
            self.say(warning)

    def open(self) -> None:
        settings = self.session.settings
        if self._channels is not None:
            self.channels = list(self._channels)
        else:  # first: a channel URL that cannot work is refused before anything starts
            urls = (*self.opts.notify, *(("console",) if self.opts.console else ()))
            self.channels = build_channels(settings.alerts, urls, self.echo)
        self.feeds = self._feeds if self._feeds is not None else self._build_feeds()
        # sends, retries and quiet hours run on the wall clock (a simulated venue's clock may run
        # thousands of times faster; a channel's backoff must not)
        self.dispatcher = Dispatcher(self.ledger, self.channels, settings.alerts, on_event=self.say)
        self.dispatcher.start()

    async def start_streams(self) -> None:
        """Liquidation websockets of the real venues watched (``[watch] liquidations``)."""
        if not self.session.settings.watch.liquidations:
            return
        for exchange, feed in self.feeds.items():
            if not isinstance(feed, VenueFeed):
                continue
            symbols = sorted({k.symbol for k in self.opts.series if k.exchange == exchange})
            rec = liquidation_stream(self.session, exchange, symbols, RetryReport(), self.say)
            self._streams.append((rec, asyncio.create_task(rec.run())))

    async def close(self) -> None:
        for rec, task in self._streams:
            rec.stop.set()  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
        for feed in self.feeds.values():
            await feed.aclose()
        if self.dispatcher is not None:
            self.dispatcher.drain(self.opts.drain_s)
            self.dispatcher.stop(5)
        self.ledger.close()

    # ------------------------------------------------------------------ one pass
    async def step(self) -> int:
        """Update and evaluate every series once; the number of closed bars evaluated."""
        done = 0
        for st in self.states:
            feed = self.feeds[st.key.exchange]
            now = feed.now()
            closed_by = now - int(self.session.settings.watch.settle_s * 1000)
            try:
                last = await feed.update(st.key, closed_by)
                cursor = self.ledger.cursor(st.label)
                if last is not None and cursor is not None and last <= cursor:
                    self._checked(st, last, now)  # no bar since the last evaluated one
                    st.last_bar = cursor
                    continue
                done += self._evaluate(st, cursor, closed_by, now)
            except OiradarError as exc:
                self._failed(st, str(exc), now)
            except Exception as exc:  # a series that fails never stops the others
                self._failed(st, f"{type(exc).__name__}: {exc}", now)
        try:
            self._day_close()
        except OiradarError as exc:
            self.say(f"daily sheet skipped: {exc}")
        if self._sim_clock is not None:  # a restart resumes the simulated time from here
            save_sim_clock(self.ledger, self._sim_clock)
        return done

    def _checked(self, st: SeriesState, last_bar: int | None, now: int) -> None:
        self.ledger.series_checked(st.label, last_bar, now)
        if st.error is not None:
            self.say(f"{st.label}: back (last bar {iso_utc(last_bar or 0)} UTC)")
            st.error = None

    def _failed(self, st: SeriesState, error: str, now: int) -> None:
        if st.error != error:
            self.say(f"{st.label}: {error}")
        st.error = error
        self.summary.errors += 1
        self.ledger.series_failed(st.label, error, now)

    def _evaluate(self, st: SeriesState, cursor: int | None, closed_by: int, now: int) -> int:
        ev = evaluate(self.session, st.key, cursor, closed_by, self.opts.signals)
        self._checked(st, ev.last_bar_ts, now)
        if ev.last_bar_ts is None or (cursor is not None and ev.last_bar_ts <= cursor):
            return 0
        if cursor is None:  # first start: the history is not alerted, only what closes from now
            self.ledger.put(f"first_bar:{st.label}", str(ev.last_bar_ts))
            self.ledger.commit(st.label, ev.last_bar_ts, [], now)
            self.say(f"{st.label}: {ev.bars.height:,} bars up to {iso_utc(ev.last_bar_ts)} UTC; "
                     "alerts start with the next closed bar")  # fmt: skip
            st.last_bar = ev.last_bar_ts
            return 0
        tf = st.key.timeframe
        new_bars = int((ev.last_bar_ts - cursor) // tf.ms)
        alerts = []
        for row in ev.events.iter_rows(named=True):
            payload = alert_payload(row, tf, now)
            alerts.append(NewAlert(payload["event_id"], st.label, payload["bar_ts"],
                                   payload["late"], payload, route(self.channels, payload)))  # fmt: skip
        fresh = self.ledger.commit(st.label, ev.last_bar_ts, alerts, now)
        if fresh and self.dispatcher is not None:
            self.dispatcher.notify()
        st.new_bars += new_bars
        st.last_bar = ev.last_bar_ts
        self.summary.bars += new_bars
        self.summary.alerts += len(fresh)
        self.summary.late += sum(1 for a in alerts if a.late and a.event_id in fresh)
        self.after_bars(st, closed_by)
        return new_bars

    def after_bars(self, st: SeriesState, closed_by: int) -> None:
        """After a series' new closed bars: its paper accounts move on them (the same trade model
        as the backtest). The daily sheet follows at the end of the pass (:meth:`_day_close`)."""
        try:
            for e in advance(self.session, st.key, closed_by=closed_by):
                self.say(f"paper #{e.account} {st.label} {iso_utc(e.bar_ts)}: {e.kind} {e.reason}")
        except OiradarError as exc:
            self.say(f"{st.label}: paper trading skipped this bar ({exc})")

    def _day_close(self) -> None:
        """Append every UTC day that all series have closed (their last bar ends on or after the
        next midnight) to the daily sheet, once; with ``[alerts] daily_brief``, send the brief."""
        ends = [st.last_bar + st.key.timeframe.ms for st in self.states if st.last_bar is not None]
        if len(ends) < len(self.states):
            return
        last_day = utc_date(min(ends)) - timedelta(days=1)  # ends at or after its next midnight
        done = self.ledger.get("sheet_day")
        if done is None:
            days = [last_day]
        else:
            first = date.fromisoformat(done) + timedelta(days=1)
            days = [first + timedelta(days=i) for i in range((last_day - first).days + 1)][-7:]
        keys = [st.key for st in self.states]
        for day in days:
            path = append_sheet(self.session, keys, day)
            self.ledger.put("sheet_day", day.isoformat())
            self.say(f"daily sheet: {day} appended to {path}")
            if self.session.settings.alerts.daily_brief:
                self._send_brief(keys, day)

    def _send_brief(self, keys: list[SeriesKey], day: date) -> None:
        end = day_start_ms(day) + DAY_MS
        text = brief_text(brief(self.session, BriefOptions(tuple(keys), closed_by=end)))
        payload = brief_payload(day, text)
        alert = NewAlert(payload["event_id"], "brief", end, False, payload,
                         tuple(ch.name for ch in self.channels))  # fmt: skip
        if self.ledger.commit("brief", end, [alert], wall_ms()) and self.dispatcher is not None:
            self.dispatcher.notify()

    # ------------------------------------------------------------------ the loop
    def finished(self) -> bool:
        n = self.opts.stop_after_bars
        return n is not None and all(st.new_bars >= n for st in self.states)

    def _wait_s(self) -> float:
        """Real seconds until the next bar of any series closes (plus the settle delay), at most
        the poll interval (a venue's outage is retried at that pace)."""
        poll = self.opts.poll_s or self.session.settings.watch.poll_s
        settle = int(self.session.settings.watch.settle_s * 1000)
        waits = [poll]
        for st in self.states:
            feed = self.feeds[st.key.exchange]
            tf = st.key.timeframe.ms
            now = feed.now() - settle
            waits.append(feed.wall_wait_s(now - now % tf + tf + settle) + 0.01)
        return min(waits)

    async def run(self) -> WatchSummary:
        with watch_lock(self.session):
            self.open()
            try:
                await self.start_streams()
                while not self.stop.is_set():
                    await self.step()
                    if self.finished():
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), self._wait_s())
            finally:
                await self.close()
        return self.summary


def run_watch(session: Session, opts: WatchOptions, *, say: Say | None = None,
              echo: Say | None = None) -> WatchSummary:  # fmt: skip
    """Run ``oiradar watch`` until ``--stop-after-bars`` or Ctrl-C (the ledger keeps every state)."""
    watcher = Watcher(session, opts, say=say, echo=echo)
    return asyncio.run(watcher.run())


__all__ = ["SIM", "SeriesState", "WatchOptions", "WatchSummary", "Watcher", "run_watch"]
