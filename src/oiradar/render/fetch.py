"""``fetch``, ``record`` and ``markets`` for people: plans, what was written, the retries made."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from oiradar.render.console import say, styled
from oiradar.render.formats import iso
from oiradar.render.tables import Kind, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.fetch import FetchReport, RecordReport, RetryReport


def show_plans(report: FetchReport) -> None:
    """``--dry-run``: per series, the endpoints, the bars they cover and the requests."""
    for res in report.results:
        plan = res.plan
        table = plan.table()
        if table.is_empty():
            say(f"{plan.key}: nothing to fetch ({plan.skipped} chunks already complete)")
            continue
        show(table, title=f"Plan for {plan.key}: {len(plan.chunks)} chunks ({plan.skipped} already "
             f"complete), about {plan.requests()} requests",
             kinds={"first_bar": Kind.TIME, "end": Kind.TIME})  # fmt: skip
        if plan.archive_market:
            say("Days the archive does not have yet are asked of REST (30 days deep) instead.")


def show_fetched(report: FetchReport) -> None:
    for res in report.results:
        w = res.written
        say(f"{res.plan.key}: {res.done} chunks fetched, {res.plan.skipped} already complete, "
            f"{len(res.failed)} failed; {w.rows_added} bars added, {w.rows_changed} changed")  # fmt: skip
        for chunk, why in res.failed:
            say(styled("failed", "red", f"{iso(chunk.start)} .. {iso(chunk.end)}: {why}"), err=True)
    show_retries(report.retries)


def show_retries(retries: RetryReport) -> None:
    """The retries of a run, or ``retries: none``."""
    events = retries.events
    if not events:
        say("retries: none")
        return
    rows = [{"what": e.what, "attempt": e.attempt, "kind": e.kind, "wait_s": round(e.wait_s, 3),
             "gave_up": e.gave_up, "detail": e.detail} for e in events]  # fmt: skip
    show(pl.DataFrame(rows), title=f"Retries: {retries.summary()}")


def show_recorded(report: RecordReport) -> None:
    stats = report.stats
    say(f"{stats.polls} OI polls, {stats.liquidations} liquidations, {stats.reconnects} reconnects")
    for err in stats.errors:
        say(styled("poll failed", "red", str(err)), err=True)
    show_retries(report.retries)


__all__ = ["show_fetched", "show_plans", "show_recorded", "show_retries"]
