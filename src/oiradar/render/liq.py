"""The liquidation calculator and the ESTIMATED map for people: every map says it is estimated."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from rich.text import Text

from oiradar.render.console import say, styled, warning
from oiradar.render.formats import OutFormat, iso, money, percent
from oiradar.render.tables import Cell, Kind, as_data, show

if TYPE_CHECKING:  # the use cases load their lower layers: only their types here
    from oiradar.app.liqmap import (
        MapReport,
        ScoreReport,
        WalkForwardReport,
        WalkForwardScores,
        WhatIfReport,
    )
    from oiradar.app.liqprice import LiqPrice
    from oiradar.stats import Interval

# ``share`` is in the mix printed above the table; ``avg_entry`` the same on every row
LEVELS_KEY = ("side", "leverage", "est_notional_usd", "avg_liq_price", "liq_distance_pct", "status")
SCORE_KEY = (
    "mix",
    "side",
    "events",
    "realized_usd",
    "score",
    "chance",
    "lift",
    "lift_lo",
    "lift_hi",
)


def _points(v: float) -> str:
    """A difference of two shares, in percentage points: ``+6.9``."""
    return "n/a" if v != v else f"{100 * v:+.1f}"


SCORE_KINDS: dict[str, Kind | Cell] = {**{c: Kind.FRACTION for c in ("score", "chance", "score_lo", "score_hi")},
               **{c: _points for c in ("lift", "lift_lo", "lift_hi")}}  # fmt: skip
SCORE_HEADERS = {"lift": "lift, pp", "lift_lo": "lift_lo", "lift_hi": "lift_hi"}


def _price(v: float) -> str:
    return f"{v:,.6g}"


def show_liqprice(res: LiqPrice, fmt: OutFormat) -> None:
    if as_data(fmt, res.to_dict, lambda: pl.DataFrame([res.to_dict()])):
        return
    say(
        styled(
            "liquidation price", "", f"{res.liq_price:.6g} ({res.distance_pct:+.2f}% from entry)"
        )
    )
    if res.at_once is not None:
        why = res.at_once.removeprefix("liquidated at once: ")
        say(styled("liquidated at once:", "bold red", why))
    tier = "-" if res.tier is None else res.tier
    fee = f" + fee {res.fee:g}" if res.formula == "okx" else ""
    say(f"tier {tier}: mmr {res.mmr:g}{fee}, cum {res.cum:g} ({res.tiers})")
    say(f"formula: {res.formula}, {res.source}")
    if res.warning is not None:
        say(styled("warning:", "yellow", res.warning))


def show_map(report: MapReport, fmt: OutFormat, wide: bool = False) -> None:
    snap = report.snap
    if report.warning is not None:  # on stderr, whatever the format
        warning(report.warning)
    if as_data(fmt, report.to_dict, lambda: snap.cascade):
        return
    say(styled("ESTIMATED", "bold", f"liquidation map, {report.key} after the bar of "
               f"{iso(snap.ts)} UTC, price {snap.price:.6g}"))  # fmt: skip
    say(f"leverage mix: {report.spec.mix.describe()}; estimated open notional: long "
        f"{money(snap.open_long_usd)}, short {money(snap.open_short_usd)}")  # fmt: skip
    tv = report.spec.turnover
    if not tv.is_default:
        say(f"turnover: half-life {_life(tv.half_life)} bars, churn {tv.churn:.3g} a bar")
    if snap.profile is not None:
        show_strip(snap.profile, snap.price)
    show(snap.clusters, title="Estimated clusters (nearest significant and largest)", wide=wide)
    show(snap.cascade, title="Estimated cascade: liquidated if price moved by", wide=wide)
    show_band(snap.band, snap.mixes, wide=wide)


SHADES = " ░▒▓█"


def strip(profile: pl.DataFrame, price: float) -> str:
    """The profile as one line of shades (blank: none, █: the largest bin), ``│`` at ``price``."""
    total = (profile["est_long"] + profile["est_short"]).to_list()
    top = max(total) if total else 0.0
    cells = [SHADES[0] if top <= 0 or v <= 0 else SHADES[max(1, min(4, 1 + int(v / top * 4)))]
             for v in total]  # fmt: skip
    at = sum(1 for hi in profile["price_hi"].to_list() if hi <= price)  # bins wholly below
    return "".join(cells[:at]) + "│" + "".join(cells[at:])


def show_strip(profile: pl.DataFrame, price: float) -> None:
    """The ESTIMATED map in one terminal line: longs' liquidations below the price, shorts' above."""
    if profile.is_empty():
        return
    lo, hi = float(profile["price_lo"][0]), float(profile["price_hi"][-1])
    say(f"{lo:.6g} {strip(profile, price)} {hi:.6g}")
    say("  (ESTIMATED notional by liquidation price, ±20%; │ the price, longs below, shorts "
        "above; ░▒▓█ more)")


def show_band(band: pl.DataFrame, mixes: tuple[str, ...], title: str | None = None,
              wide: bool = False) -> None:  # fmt: skip
    show(band, title=title or f"Band over leverage mixes: {', '.join(mixes)}", wide=wide)


def show_score(report: ScoreReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: report.table):
        return
    say(f"Score of the ESTIMATED map against {report.n_records:,} REALIZED liquidation records, "
        f"{report.key}: {report.method}, vs chance")  # fmt: skip
    show(report.table, key=SCORE_KEY, wide=wide, kinds=SCORE_KINDS, headers=SCORE_HEADERS)


WF_KEY = ("fold", "test_from", "mix", "half_life_bars", "churn", "fit_score", "map", "baseline")
WF_HEADERS = {"test_from": "scored from", "half_life_bars": "half-life", "churn": "churn",
              "fit_score": "fit"}  # fmt: skip
VERDICT_STYLE = {"beats": "bold green", "ties": "bold yellow", "loses": "bold red"}


def _life(v: float) -> str:
    return "none" if v == float("inf") else f"{v:,.3g}"


def _day(ms: int) -> str:
    return iso(ms, "%Y-%m-%d")


WF_KINDS: dict[str, Kind | Cell] = {
    **{c: Kind.FRACTION for c in ("fit_score", "map", "unfitted", "baseline", "chance")},
    "test_from": _day, "test_to": _day, "fit_from": _day, "fit_to": _day, "half_life_bars": _life,
    "churn": lambda v: f"{v:.3g}",
}  # fmt: skip


def _share(iv: Interval) -> str:
    return f"{percent(iv.estimate)} [{percent(iv.low)}, {percent(iv.high)}]"


def _diff(iv: Interval) -> str:
    return f"{_points(iv.estimate)} pp [{_points(iv.low)}, {_points(iv.high)}]"


def verdict_line(report: WalkForwardReport) -> Text:
    """``SERIES: map 41.8% [37.8%, 45.9%] TIES the no-OI baseline ... ; BEATS chance ...``."""
    r = report.result
    sc = r.scores
    vb, vc = r.verdict_baseline, r.verdict_chance
    return Text.assemble(
        f"{report.key}: map {_share(sc['map'])} ", (vb.upper(), VERDICT_STYLE.get(vb, "")),
        f" the no-OI baseline {_share(sc['baseline'])} ({_diff(r.vs_baseline)}); ",
        (vc.upper(), VERDICT_STYLE.get(vc, "")),
        f" chance {percent(sc['chance'].estimate)} ({_diff(r.vs_chance)})",
    )  # fmt: skip


def show_walk_forward(scores: WalkForwardScores, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, scores.to_dict, scores.table):
        return
    first = scores.reports[0]
    say(f"Walk-forward score of the ESTIMATED map against REALIZED liquidations: {first.folds} "
        "folds, each fitted (leverage mix, ageing, churn) on the bars before it and scored on "
        f"its own; {first.result.method}; 95% block-bootstrap intervals")  # fmt: skip
    for report in scores.reports:
        say(verdict_line(report))
    if len(scores.reports) > 1 and not wide:
        say("(each fold's fitted parameters: --wide, or --format json)")
        return
    for report in scores.reports:
        unfitted = percent(report.result.scores["unfitted"].estimate)
        show(report.result.folds, title=f"{report.key}, each fold fitted on the bars before it "
             "(half-life in bars, churn a bar; fit: in sample)", key=WF_KEY, wide=wide,
             kinds=WF_KINDS, headers=WF_HEADERS)  # fmt: skip
        say(f"the unfitted map ({report.mix}) scores {unfitted} on the same folds")


def show_what_if(report: WhatIfReport, fmt: OutFormat, wide: bool = False) -> None:
    if as_data(fmt, report.to_dict, lambda: report.cascade):
        return
    o = report.opts
    say(styled("ESTIMATED what-if:", "bold", f"OI {money(o.oi_usd)}, average entry "
               f"{percent(o.entry_distance, sign=True)} from price {o.price:g}, mix {report.mix}"))  # fmt: skip
    show(report.levels, title="Levels by side and leverage", key=LEVELS_KEY, wide=wide,
         kinds={"share": Kind.FRACTION, "avg_entry": _price, "avg_liq_price": _price})  # fmt: skip
    if report.already_liquidated_usd > 0:
        say(f"{money(report.already_liquidated_usd)} would already be past its liquidation price "
            "(left out)")  # fmt: skip
    show(report.cascade, title="Estimated liquidations if price moved by", wide=wide)
    show_band(report.band, report.band_over, wide=wide)


__all__ = [
    "show_band",
    "show_liqprice",
    "show_map",
    "show_score",
    "show_walk_forward",
    "show_what_if",
    "verdict_line",
]
