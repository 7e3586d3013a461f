"""``metrics`` files (daily, 5-minute snapshots of OI and ratios) -> 5m bars.

A sample (USD-M; COIN-M files have the same columns with other units, decision 0505)::

    create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio
    2025-07-01 00:05:00,ETHUSDT,1893129.089,4706583953.32646,1.91519612,3.27485900,1.46745437,1.08735800
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import polars as pl

from oiradar.errors import InputError
from oiradar.model import MINUTE_MS
from oiradar.sources.decode.binance_archive.csvbatch import (
    Body,
    ParsedRows,
    bad_number,
    check_header,
    load_bodies,
    parse_bodies,
    strictly_increasing,
)
from oiradar.sources.decode.binance_archive.names import ArchiveMarket
from oiradar.sources.decode.binance_archive.reading import CsvInput
from oiradar.sources.decode.venues.base import OiUnit

METRICS_COLUMNS = (
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)
# USD-M metrics changed their create_time convention on this day (binance-public-data issue
# #491): files dated before it label a row with the END of its 5-minute period (rows 00:05 ..
# 00:00 next day, the snapshot taken at T); files from it on label the START (rows 00:00 ..
# 23:55, the snapshot taken at T + 5m). Decision 0200.
METRICS_START_LABELS_FROM = int(datetime(2026, 6, 25, tzinfo=UTC).timestamp() * 1000)
_METRICS_START_DATE = (
    datetime.fromtimestamp(METRICS_START_LABELS_FROM / 1000, UTC).date().isoformat()
)
_METRICS_STEP = 5 * MINUTE_MS
MetricsLabels = Literal["auto", "end", "start"]
# The unit of ``sum_open_interest`` per market, as the REST path stamps it (decision 0505):
# USD-M counts one side in base units; COIN-M counts contracts of ``contractSize`` USD.
METRICS_OI_UNIT: dict[str, str] = {"um": OiUnit.BASE.value, "cm": OiUnit.CONTRACTS_QUOTE.value}
_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "create_time": pl.String(),
    "symbol": pl.String(),
    **{c: pl.Float64() for c in METRICS_COLUMNS[2:]},
}
_METRICS_VALUES = ("sum_open_interest", "sum_open_interest_value", "count_long_short_ratio")
_VALUES_METRICS = ["oi_raw", "oi_value", "long_short_ratio"]  # the same, canonical names


def parse_metrics(
    source: CsvInput,
    *,
    name: str | None = None,
    labels: MetricsLabels = "auto",
    market: ArchiveMarket = "um",
) -> pl.DataFrame:
    """A daily ``metrics`` file -> 5m bars with ``oi``, ``oi_value``, ``long_short_ratio``.

    USD-M (``market="um"``): ``oi`` = ``oi_raw`` = ``sum_open_interest`` (one side, base units:
    the figure of REST ``openInterestHist.sumOpenInterest``), ``oi_value`` =
    ``sum_open_interest_value`` (USDT).

    COIN-M (``market="cm"``, decision 0505): ``oi_raw`` = ``sum_open_interest`` in **contracts**
    of ``contractSize`` USD (``oi_unit = contracts_usd``, as REST ``sumOpenInterest`` "unit:
    cont"); ``oi`` and ``oi_value`` are null here: the fetcher derives them with the one
    conversion the REST path uses (:func:`oiradar.sources.decode.venues.base.oi_to_base`: contracts x
    size / the bar's close), which needs the contract size and the klines.
    ``sum_open_interest_value`` (base coin, Binance's own conversion) is checked, not kept.

    ``long_short_ratio`` = ``count_long_short_ratio`` (all accounts, as REST
    ``globalLongShortAccountRatio.longShortRatio``; the two ``toptrader`` columns are top
    traders only and the taker ratio is a flow: neither is canonical). An empty cell (also
    written ``""``, as COIN-M files do) is missing (null), never zero. ``labels``: see
    :func:`metrics_bodies_to_bars` and decision 0200.
    """
    bodies = load_bodies([source], "create_time", [name])
    return metrics_bodies_to_bars(bodies, labels=labels, market=market)


def metrics_bodies_to_bars(
    bodies: list[Body], *, labels: MetricsLabels = "auto", market: ArchiveMarket = "um"
) -> pl.DataFrame:
    """Parse metrics files together. Bar ``ts`` is the open of the 5-minute bar the snapshot closes.

    ``labels="end"``: ``create_time`` T is the snapshot at T (the bar closing at T: ts = T - 5m);
    ``"start"``: T labels the period starting at T (snapshot at T + 5m: ts = T); ``"auto"``:
    USD-M per file, ``"start"`` when its first row is at or after
    :data:`METRICS_START_LABELS_FROM`; COIN-M always ``"start"`` (decisions 0200, 0505).
    Identical duplicate rows are dropped; a conflicting duplicate keeps the later row.
    """
    if market not in METRICS_OI_UNIT:
        raise InputError(f"archive market {market!r} is not 'um' (USD-M) or 'cm' (COIN-M)")
    if market == "cm" and labels == "auto":
        labels = "start"
    bodies = [_empty_quotes_blank(b) for b in bodies]
    for body in bodies:
        check_header(body, METRICS_COLUMNS, ("create_time", "sum_open_interest"))
    _check_symbols(bodies)
    parsed = parse_bodies(bodies, _METRICS_SCHEMA, ("create_time", *_METRICS_VALUES))
    parsed.drop_blank_lines()
    parsed.frame = parsed.frame.with_columns(_create_time(pl.col("create_time")))
    if parsed.frame["_t"].null_count():  # padded cells: retry them stripped (rare, slower)
        parsed.frame = parsed.frame.with_columns(
            _create_time(pl.col("create_time").str.strip_chars())
        )
    t = pl.col("_t")
    rules = [
        (t.is_null(), "create_time", "not a 'YYYY-MM-DD HH:MM:SS' UTC time"),
        ((t - _round_to_step(t)).abs() > MINUTE_MS, "create_time", "not near the 5-minute grid"),
        *[(bad_number(c), c, "negative or non-finite value") for c in _METRICS_VALUES],
    ]
    parsed.check(rules)
    return _metrics_frame(parsed, labels, market)


def _empty_quotes_blank(body: Body) -> Body:
    """``""`` cells (COIN-M files write empty ratios so) -> empty cells: the parse reads no quotes.

    Equals ``pandas.read_csv`` reading ``""`` as NaN. The ``in`` test is one ``memchr``: files
    without a quote (all USD-M ones) are not copied.
    """
    if b'"' not in body.data:
        return body
    return Body(body.name, body.data.replace(b'""', b""), body.header, body.info)


def _create_time(text: pl.Expr) -> pl.Expr:
    return (
        # cache=False: every time is distinct, so a cache of parsed strings only costs (1.5x)
        text.str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="ms", strict=False, cache=False)
        .dt.epoch("ms")
        .alias("_t")
    )


def _round_to_step(t: pl.Expr) -> pl.Expr:
    return ((t + _METRICS_STEP // 2) // _METRICS_STEP) * _METRICS_STEP


def _check_symbols(bodies: Sequence[Body]) -> None:
    """Each file's first row names the symbol of its file name (or of the batch's first file).

    Only the first row is read here: parsing the ``symbol`` column of every row would cost a
    third of the parse time for a value that never changes inside a file.
    """
    expected = next((sym for b in bodies if (sym := _named_symbol(b)) is not None), None)
    for body in bodies:
        first = body.data[:256].split(b"\n", 1)[0].split(b",")
        at = body.header.index("symbol") if body.header and "symbol" in body.header else 1
        if len(first) <= at or not first[0].strip():
            continue
        symbol = first[at].strip().decode("utf-8", "replace")
        expected = expected or symbol
        if symbol != expected:
            row = 2 if body.header else 1
            msg = f"the symbol is not {expected!r}"
            raise InputError(msg, file=body.name, row=row, column="symbol", value=symbol)


_METRICS_NAME = re.compile(r"^(?P<sym>[A-Z0-9_]{2,40})-metrics-\d{4}-\d{2}-\d{2}\b")


def _named_symbol(body: Body) -> str | None:
    """The symbol a metrics file's name gives: USD-M through :func:`detect`; COIN-M
    (``BTCUSD_PERP-metrics-...``, which :func:`detect` does not take) by the bare pattern."""
    if body.info is not None:
        return body.info.raw_symbol
    m = _METRICS_NAME.match(body.name)
    return m["sym"] if m else None


def _starts_from_name(body: Body) -> bool | None:
    """Start-of-period labels when the file's date (from its name) is on or after the change."""
    if body.info is None or body.info.monthly:
        return None
    return body.info.date >= _METRICS_START_DATE  # ISO dates compare as strings (no strptime)


def _metrics_frame(
    parsed: ParsedRows, labels: MetricsLabels, market: ArchiveMarket
) -> pl.DataFrame:
    t = _round_to_step(pl.col("_t"))
    starts = _start_labels(parsed, labels)
    if isinstance(starts, bool):  # one convention for every row: no per-row choice
        ts = t if starts else t - _METRICS_STEP
    else:
        ts = pl.when(starts).then(t).otherwise(t - _METRICS_STEP)
    raw = pl.col("sum_open_interest")
    if market == "um":  # one side in base units already; the value in USDT
        oi, value = raw, pl.col("sum_open_interest_value")
    else:  # contracts: the fetcher converts (oi_to_base), as it does REST's contracts
        oi = value = pl.lit(None, pl.Float64)
    out = parsed.frame.select(
        ts.alias("ts"),
        oi.alias("oi"),
        value.alias("oi_value"),
        pl.col("count_long_short_ratio").alias("long_short_ratio"),
        raw.alias("oi_raw"),
        pl.lit(METRICS_OI_UNIT[market]).alias("oi_unit"),
        "_row",
    )
    if out.select(_VALUES_METRICS).null_count().sum_horizontal().item():
        # a row whose every value is empty says nothing: no bar (the gap stays visible)
        out = out.filter(pl.any_horizontal(pl.col(_VALUES_METRICS).is_not_null()))
    if not strictly_increasing(out):
        values = [c for c in out.columns if c != "_row"]
        out = out.unique(subset=values, keep="first")
        out = out.sort("ts", "_row").unique(subset="ts", keep="last", maintain_order=True)
    return out.drop("_row")


def _start_labels(parsed: ParsedRows, labels: MetricsLabels) -> pl.Expr | bool:
    """Per row: is ``create_time`` the start of its period? (decision 0200). A bool when the
    answer is the same for every row."""
    if labels != "auto":
        return labels == "start"
    by_name = [_starts_from_name(b) for b in parsed.bodies]
    if by_name and None not in by_name and len(set(by_name)) == 1:
        return bool(by_name[0])  # the common case: every file named, all on one side
    files = parsed.file_index()
    from_rows = pl.col("_t").min().over(files) >= METRICS_START_LABELS_FROM
    named = pl.Series(by_name, dtype=pl.Boolean).gather(files)
    return pl.coalesce(pl.lit(named), from_rows)
