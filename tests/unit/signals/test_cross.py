"""exchange_divergence and margin_divergence: hand-built cases and the Coinalyze multi-venue BTC OI."""

from __future__ import annotations

import csv
import json

import polars as pl
import pytest

from oiradar.errors import InputError
from oiradar.model import DAY_MS, Timeframe
from oiradar.signals import EVENT_SCHEMA, exchange_divergence, margin_divergence
from tests.conftest import shared_file

D0 = 1_672_531_200_000  # 2023-01-01


def venue(oi: list[float | None], complete: list[bool] | None = None) -> pl.DataFrame:
    frame = pl.DataFrame({"ts": [D0 + i * DAY_MS for i in range(len(oi))], "oi": oi},
                         schema_overrides={"oi": pl.Float64})  # fmt: skip
    return frame if complete is None else frame.with_columns(complete=pl.Series(complete))


def days(ev: pl.DataFrame) -> list[tuple[int, str]]:
    return [((ts - D0) // DAY_MS, ex) for ts, ex in ev.select("ts", "exchange").iter_rows()]


def test_one_venue_drops_while_the_others_hold() -> None:
    venues = {
        "a": venue([100, 100, 100, 94, 90, 90]),  # -6 % on day 3, -4.3 % on day 4 (still falling)
        "b": venue([100, 101, 102, 103, 103, 103]),
        "c": venue([100, 99, 98, 97, 97, 97]),
    }
    ev = exchange_divergence(venues, "BTC/USDT:USDT", Timeframe.D1)
    assert ev.schema == pl.Schema(EVENT_SCHEMA)
    assert days(ev) == [(3, "a")]
    row = ev.row(0, named=True)
    assert row["chg"] == pytest.approx(-0.06) and row["others_median_chg"] == pytest.approx(
        (103 / 102 + 97 / 98) / 2 - 1
    )
    assert row["signal"] == "exchange_divergence" and row["symbol"] == "BTC/USDT:USDT"
    assert "b +1.0%" in row["others"] and "c -1.0%" in row["others"]


@pytest.mark.parametrize(
    ("a", "b", "c"),
    [
        ([100, 95.1], [100, 100], [100, 100]),  # -4.9 %: not enough
        ([100, 90], [100, 103], [100, 102.5]),  # others' median +2.5 %: the market moved
        ([100, 90], [100, 90], [100, 100]),  # median of b and c is -5 %
    ],
)
def test_near_misses(a, b, c) -> None:
    venues = {"a": venue(a), "b": venue(b), "c": venue(c)}
    assert (
        exchange_divergence(venues, "BTC/USDT:USDT", Timeframe.D1)
        .filter(pl.col("exchange") == "a")
        .is_empty()
    )


def test_incomplete_bars_and_gaps_do_not_fire() -> None:
    a = venue([100, 90, 90], complete=[True, False, True])
    assert exchange_divergence(
        {"a": a, "b": venue([100, 100, 100])}, "X/USDT:USDT", Timeframe.D1
    ).is_empty()
    gap = venue([100, None, 90])
    assert exchange_divergence(
        {"a": gap, "b": venue([100, 100, 100])}, "X/USDT:USDT", Timeframe.D1
    ).is_empty()
    one_venue = {"a": venue([100, 90])}
    assert exchange_divergence(one_venue, "X/USDT:USDT", Timeframe.D1).is_empty()


def test_margin_divergence_between_linear_and_inverse() -> None:
    legs = {"BTC/USDT:USDT": venue([100, 100, 93]), "BTC/USD:BTC": venue([50, 50, 50.5])}
    ev = margin_divergence(legs, "binance", Timeframe.D1)
    assert [(d, s) for (d, _), s in zip(days(ev), ev["symbol"], strict=True)] == [
        (2, "BTC/USDT:USDT")
    ]
    assert ev["exchange"].to_list() == ["binance"] and ev["signal"][0] == "margin_divergence"
    near = {"BTC/USDT:USDT": venue([100, 100, 93]), "BTC/USD:BTC": venue([50, 50, 51.25])}
    assert margin_divergence(near, "binance", Timeframe.D1).is_empty()  # the coin side moved +2.5 %
    with pytest.raises(InputError, match="linear and inverse"):
        margin_divergence(
            {"BTC/USDT:USDT": venue([1, 2]), "ETH/USD:ETH": venue([1, 2])}, "x", Timeframe.D1
        )


# ---------------------------------------------------------------- Coinalyze multi-venue BTC OI


def coinalyze_legs() -> dict[str, dict[str, pl.DataFrame]]:
    """Per symbol, per venue: OI in BTC = the file's USD value / Binance's BTCUSDT daily close.

    All venues share BTC's price, so dividing by one common daily price turns USD values into
    base units without favouring a venue; the file repeats two column names (Phemex, Kraken list
    two BTC/USD contracts), kept apart as "Phemex (2)", "Kraken (2)".
    """
    path = shared_file("btc_daily_multivenue", "open_interest_history.csv")
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    names, seen = [], {}
    for h in rows[0]:
        seen[h] = seen.get(h, 0) + 1
        names.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    df = pl.DataFrame(rows[1:], schema=names, orient="row").with_columns(
        pl.col("t").str.to_date().cast(pl.Datetime("ms")).dt.epoch("ms").alias("ts"),
        *[pl.col(c).replace("", None).cast(pl.Float64) for c in names[1:]],
    )
    candles = json.loads(
        shared_file("btc_daily_multivenue", "binance_btcusdt_candles_1d.json").read_text()
    )
    price = pl.DataFrame(candles).select(
        pl.col("openTime").cast(pl.Int64).alias("ts"), pl.col("close").cast(pl.Float64).alias("px")
    )
    df = df.join(price, on="ts", how="left")
    assert df["px"].null_count() == 0
    out: dict[str, dict[str, pl.DataFrame]] = {"BTC/USDT:USDT": {}, "BTC/USD:BTC": {}}
    for name in names[1:]:
        contract, venue_name = name.split(" - ")
        symbol = "BTC/USDT:USDT" if contract == "BTC/USDT" else "BTC/USD:BTC"
        out[symbol][venue_name] = df.select("ts", (pl.col(name) / pl.col("px")).alias("oi"))
    return out


def _listing(ev: pl.DataFrame) -> list[tuple[str, float, float]]:
    return [
        (str(d), round(c * 100, 1), round(m * 100, 1))
        for d, c, m in ev.select(
            pl.from_epoch("ts", time_unit="ms").dt.date(), "chg", "others_median_chg"
        ).iter_rows()
    ]


BINANCE_USDT = [
    ("2022-05-04", -9.1, -0.4), ("2022-05-14", -7.7, -0.4), ("2022-05-20", -5.3, -0.7),
    ("2022-06-01", -5.1, -0.8), ("2022-06-08", -7.5, -1.1), ("2022-08-15", -5.0, -1.3),
    ("2022-09-13", -16.0, 0.3), ("2022-09-30", -5.3, 0.0), ("2022-10-07", -6.4, -0.7),
    ("2022-10-24", -9.2, -0.1), ("2022-10-30", -5.8, -1.4), ("2022-11-06", -5.8, -1.7),
    ("2022-12-06", -10.0, 1.1), ("2023-01-30", -9.6, -0.7), ("2023-02-27", -5.7, 0.1),
    ("2023-03-09", -7.5, 0.5), ("2023-03-22", -7.4, -0.1), ("2023-05-06", -6.1, -0.9),
    ("2023-05-26", -5.3, -0.1),
]  # fmt: skip
BINANCE_USD = [
    ("2022-01-24", -5.2, -0.9), ("2022-04-01", -6.0, -0.1), ("2022-06-14", -16.9, -0.7),
    ("2022-06-29", -5.8, 1.7), ("2022-07-09", -5.0, 1.5), ("2022-07-16", -6.0, -0.7),
    ("2022-09-07", -5.7, -1.4), ("2022-09-19", -7.0, -1.4), ("2023-01-16", -5.2, -1.0),
    ("2023-03-21", -6.3, -1.3), ("2023-03-23", -6.5, -0.6),
]  # fmt: skip
COUNTS = {
    "BTC/USDT:USDT": {"Binance": 19, "Bybit": 27, "OKX": 44},
    "BTC/USD:BTC": {"Binance": 11, "Bybit": 24, "OKX": 13},
}


def test_exchange_divergence_on_coinalyze_btc(shared_data) -> None:
    legs = coinalyze_legs()
    ev = {sym: exchange_divergence(v, sym, Timeframe.D1) for sym, v in legs.items()}
    for sym, counts in COUNTS.items():
        per_venue = dict(ev[sym].group_by("exchange").len().iter_rows())
        assert {k: per_venue.get(k, 0) for k in counts} == counts
    usdt, usd = ev["BTC/USDT:USDT"], ev["BTC/USD:BTC"]
    assert _listing(usdt.filter(pl.col("exchange") == "Binance")) == BINANCE_USDT
    assert _listing(usd.filter(pl.col("exchange") == "Binance")) == BINANCE_USD
    # every event satisfies the definition with the values it carries
    both = pl.concat([usdt, usd])
    assert (both["chg"] <= -0.05).all() and (both["others_median_chg"].abs() <= 0.02).all()


def test_margin_divergence_on_coinalyze_btc_binance(shared_data) -> None:
    legs = coinalyze_legs()
    contracts = {s: legs[s]["Binance"] for s in ("BTC/USDT:USDT", "BTC/USD:BTC")}
    ev = margin_divergence(contracts, "Binance", Timeframe.D1)
    assert ev.height == 31 and (ev["chg"] <= -0.05).all()
    listing = _listing(ev)
    assert listing[0] == ("2022-01-24", -5.2, -1.4) and listing[-1] == ("2023-06-17", -6.2, -1.3)
    assert ev.filter(pl.col("symbol") == "BTC/USD:BTC").height == 15  # 16 on the USDT side
    assert (ev["others_median_chg"].abs() <= 0.02).all()
