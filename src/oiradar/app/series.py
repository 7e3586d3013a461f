"""Choosing stored series and loading their bars: where prices come from, which stored timeframe a
view is built from, OI summed across venues, and what every-series commands skip.

- **Prices.** Some sources give OI without prices (Coinalyze, Binance's OI history). A market takes
  its OHLCV from the series ``--prices EXCHANGE:SYMBOL`` names, else from the one it is linked to
  (``oiradar link``, kept in the catalog), else its own. ``oi`` missing where ``oi_value`` and a
  close are known is derived: ``oi = oi_value / close`` (base units).
- **Timeframes.** A view is built from the stored timeframe that covers most of the range
  (:meth:`~oiradar.store.Catalog.source_for`), or the one ``--from-timeframe`` names; a note says
  which when it is not the view's own.
- **Every series.** :func:`each_series` runs a step on every selected series, keeps what it could
  not do as :class:`Skipped` (with the reason), and fails only when nothing could be done.
- **All venues.** ``--exchange all`` is the OI of a base asset summed over the venues
  (:mod:`oiradar.app.aggregate`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import polars as pl

from oiradar.errors import InputError, OiradarError, SeriesNotFound
from oiradar.model import MarginType, SeriesKey, Timeframe, margin_type, parse_symbol
from oiradar.store import Catalog

PRICE_COLUMNS = ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume",
                 "quote_volume_estimated", "ohlc_from_close")  # fmt: skip
OI_COLUMNS = ("oi", "oi_value", "funding_rate", "long_short_ratio")
ALL_VENUES = "all"  # --exchange all: OI summed over the venues
T = TypeVar("T")


class Margin(StrEnum):
    """Which contracts ``--exchange all`` sums: USDT/USDC-margined, coin-margined, or both."""

    USDT = "usdt"
    COIN = "coin"
    ALL = "all"

    @classmethod
    def parse(cls, text: str) -> Margin:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise InputError(f"--margin must be usdt, coin or all, got {text!r}") from None

    def admits(self, symbol: str) -> bool:
        """Whether a contract of this margin type is summed."""
        if self is Margin.ALL:
            return True
        inverse = margin_type(symbol) is MarginType.INVERSE
        return inverse if self is Margin.COIN else not inverse

    def symbol(self, base: str) -> str:
        """The symbol of the summed series: ``BTC/USDT:USDT``, ``BTC/USD:BTC`` or ``BTC/USD``."""
        return {Margin.USDT: f"{base}/USDT:USDT", Margin.COIN: f"{base}/USD:{base}",
                Margin.ALL: f"{base}/USD"}[self]  # fmt: skip


@dataclass(frozen=True)
class Market:
    """An (exchange, symbol) pair without a timeframe, e.g. the series ``--prices`` names."""

    exchange: str
    symbol: str

    @classmethod
    def parse(cls, text: str, option: str = "--prices") -> Market:
        """``EXCHANGE:SYMBOL`` (the symbol may hold colons itself: ``binance:BTC/USDT:USDT``)."""
        exchange, sep, symbol = text.partition(":")
        if not sep or not exchange or not symbol:
            raise InputError(f"{option} must be EXCHANGE:SYMBOL, got {text!r}")
        market = cls(exchange, symbol)
        try:
            market.key(Timeframe.D1)  # checks both names
        except InputError as exc:
            raise InputError(f"{option} {text!r}: {exc}") from None
        return market

    def key(self, timeframe: Timeframe) -> SeriesKey:
        return SeriesKey(exchange=self.exchange, symbol=self.symbol, timeframe=timeframe)

    @property
    def pair(self) -> tuple[str, str]:
        return self.exchange, self.symbol

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}"


@dataclass(frozen=True)
class SeriesOptions:
    """How the bars of a series are loaded (the options every analysis command shares)."""

    prices: Market | None = None  # --prices: overrides the series' price link
    from_timeframe: Timeframe | None = None  # --from-timeframe: the stored timeframe to build from
    margin: Margin = Margin.ALL  # --margin, with --exchange all


AS_STORED = SeriesOptions()  # no --prices, no --from-timeframe: the link and the widest source


@dataclass(frozen=True)
class LoadedSeries:
    """The bars of one series as the analysis reads them, and how they were put together."""

    key: SeriesKey
    bars: pl.DataFrame
    notes: tuple[str, ...] = ()  # e.g. "4h built from the stored 1h series (500 bars)"
    prices: str = ""  # where the OHLCV come from: "" (its own), else EXCHANGE:SYMBOL


@dataclass(frozen=True)
class Skipped:
    """A series an every-series command could not handle, and why."""

    series: str
    why: str


class NothingDone(InputError):
    """Every selected series was skipped: the command has nothing to show."""

    def __init__(self, what: str, skipped: Sequence[Skipped]) -> None:
        self.skipped = list(skipped)
        lines = "".join(f"\n  {s.series}: {s.why}" for s in skipped)
        super().__init__(f"{what}: every selected series was skipped:{lines}")


def no_prices_hint(market: tuple[str, str]) -> str:
    return (
        f"link its price series once (`oiradar link {market[0]}:{market[1]} --prices "
        "EXCHANGE:SYMBOL`, e.g. --prices binance:BTC/USDT) or pass --prices EXCHANGE:SYMBOL"
    )


# ------------------------------------------------------------------------- selection
def stored_markets(catalog: Catalog) -> list[tuple[str, str]]:
    return sorted({(k.exchange, k.symbol) for k in catalog.stored_keys()})


def _listing(pairs: Iterable[tuple[str, str]]) -> str:
    return (
        ", ".join(f"{e} {s}" for e, s in pairs)
        or "nothing (try `oiradar import` or `oiradar demo`)"
    )


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    return (value,) if isinstance(value, str) else tuple(v for v in value if v)


def select_keys(
    catalog: Catalog,
    exchange: str | Sequence[str] | None,
    symbol: str | Sequence[str] | None,
    timeframe: Timeframe,
    margin: Margin = Margin.ALL,
) -> list[SeriesKey]:
    """The stored (exchange, symbol) pairs matching the filters, as keys of ``timeframe``.

    ``all`` among the exchanges adds, per base asset of the matching symbols, the OI summed over
    the venues. An exchange or symbol that nothing stored has is an error listing what is stored.
    """
    exchanges, symbols = _as_tuple(exchange), _as_tuple(symbol)
    stored = stored_markets(catalog)
    _check_known(stored, exchanges, symbols)
    keys = [
        SeriesKey(exchange=e, symbol=s, timeframe=timeframe)
        for e, s in stored
        if (not exchanges or e in exchanges) and (not symbols or s in symbols)
    ]
    if ALL_VENUES in exchanges:
        keys += _aggregate_keys(stored, symbols, timeframe, margin)
    if not keys:
        raise InputError(
            f"no stored series matches --exchange {' '.join(exchanges) or '(any)'} --symbol "
            f"{' '.join(symbols) or '(any)'}; stored: {_listing(stored)}"
        )
    return keys


def _check_known(
    stored: list[tuple[str, str]], exchanges: tuple[str, ...], symbols: tuple[str, ...]
) -> None:
    venues = {e for e, _ in stored}
    names = {s for _, s in stored}
    bases = {parse_symbol(s)[0] for s in names}
    for e in exchanges:
        if e != ALL_VENUES and e not in venues:
            raise InputError(
                f"--exchange {e!r}: no series stored on it; stored: {_listing(stored)}"
            )
    for s in symbols:
        known = s in names or (ALL_VENUES in exchanges and _base_of(s) in bases)
        if not known:
            raise InputError(f"--symbol {s!r}: no series stored for it; stored: {_listing(stored)}")


def series_key(exchange: str, symbol: str, timeframe: Timeframe, margin: Margin = Margin.ALL) -> SeriesKey:
    """The key of one series; with ``exchange`` ``all``, ``symbol`` may be a base (``BTC``)."""
    if exchange == ALL_VENUES:
        symbol = margin.symbol(_base_of(symbol))
    return SeriesKey(exchange=exchange, symbol=symbol, timeframe=timeframe)


def _base_of(symbol: str) -> str:
    """``BTC`` from ``BTC/USDT:USDT``, or ``BTC`` itself (``--exchange all --symbol BTC``)."""
    return parse_symbol(symbol)[0] if "/" in symbol else symbol


def _aggregate_keys(
    stored: list[tuple[str, str]], symbols: tuple[str, ...], tf: Timeframe, margin: Margin
) -> list[SeriesKey]:
    wanted = {_base_of(s) for s in symbols}
    bases = sorted({parse_symbol(s)[0] for e, s in stored
                    if e != ALL_VENUES and parse_symbol(s)[2] and margin.admits(s)})  # fmt: skip
    return [SeriesKey(exchange=ALL_VENUES, symbol=margin.symbol(b), timeframe=tf)
            for b in bases if not wanted or b in wanted]  # fmt: skip


def studied_keys(
    catalog: Catalog, exchange: str | None, symbol: str | None, timeframe: Timeframe,
    prices: Market | None, margin: Margin = Margin.ALL,
) -> list[SeriesKey]:  # fmt: skip
    """:func:`select_keys`, less the price series itself when several series are selected."""
    keys = select_keys(catalog, exchange, symbol, timeframe, margin)
    if prices is not None and len(keys) > 1:
        keys = [k for k in keys if (k.exchange, k.symbol) != prices.pair]
    return keys


def one_key(
    catalog: Catalog, exchange: str | None, symbol: str | None, timeframe: Timeframe,
    prices: Market | None, margin: Margin = Margin.ALL,
) -> SeriesKey:  # fmt: skip
    """The single series the filters select; an error naming the candidates otherwise."""
    keys = studied_keys(catalog, exchange, symbol, timeframe, prices, margin)
    if len(keys) != 1:
        names = ", ".join(f"{k.exchange} {k.symbol}" for k in keys)
        raise InputError(f"choose one series with --exchange/--symbol; {len(keys)} match: {names}")
    return keys[0]


# ------------------------------------------------------------------------- loading
def load_series(
    catalog: Catalog,
    key: SeriesKey,
    opts: SeriesOptions = AS_STORED,
    *,
    need: Sequence[str] = ("close", "oi"),
) -> LoadedSeries:
    """The bars of ``key`` with their prices (``--prices``, else the link, else its own), built
    from the stored timeframe :meth:`Catalog.source_for` picks; ``oi`` derived from ``oi_value``
    where missing. ``need``: the columns that must hold a value somewhere (else InputError)."""
    if key.exchange == ALL_VENUES:
        from oiradar.app.aggregate import aggregate_series

        return aggregate_series(catalog, key, opts, need=need)
    bars, notes = read_built(catalog, key, opts.from_timeframe)
    market = _price_market(catalog, key, opts.prices)
    if market is not None:
        px, px_notes = _read_prices(catalog, key, market, opts.prices is not None)
        bars, notes = join_prices(px, bars), [*notes, *px_notes]
    bars = derive_oi(bars)
    _check(key, bars, market, need)
    return LoadedSeries(key, bars, tuple(notes), "" if market is None else str(market))


def load_bars(catalog: Catalog, key: SeriesKey, prices: Market | None = None) -> pl.DataFrame:
    """The bars of ``key`` as :func:`load_series` loads them (prices: ``--prices`` or the link)."""
    return load_series(catalog, key, SeriesOptions(prices=prices)).bars


def read_built(
    catalog: Catalog, key: SeriesKey, from_tf: Timeframe | None
) -> tuple[pl.DataFrame, list[str]]:
    """The bars of ``key`` built from the stored series :meth:`Catalog.source_for` picks, and
    notes saying how when it is not ``key`` itself (which series; OHLC built from closes)."""
    source = catalog.source_for(key, from_timeframe=from_tf)
    bars = catalog.read_bars(key, source=source)
    if source == key:
        return bars, []
    n = catalog.count_bars(source)
    notes = [f"{key.timeframe} built from the stored {source.timeframe} series ({n:,} bars)"]
    return bars, notes + from_close_notes(bars, key.timeframe, source.timeframe)


def from_close_notes(bars: pl.DataFrame, tf: Timeframe, source_tf: Timeframe) -> list[str]:
    """A note when some bars' open/high/low were built from close-only sub-bars."""
    n = int(bars["ohlc_from_close"].sum()) if "ohlc_from_close" in bars.columns else 0
    if not n:
        return []
    return [f"{tf} open/high/low/close are the first/max/min/last of the {source_tf} closes "
            f"(close-only bars, e.g. a mark price) on {n:,} of {bars.height:,} bars "
            "(column ohlc_from_close)"]  # fmt: skip


def _price_market(catalog: Catalog, key: SeriesKey, prices: Market | None) -> Market | None:
    """The market whose OHLCV ``key`` takes: ``--prices``, else its link; None: its own."""
    if prices is None:
        link = catalog.price_link(key.exchange, key.symbol)
        prices = None if link is None else Market(*link)
    if prices is None or prices.pair == (key.exchange, key.symbol):
        return None
    return prices


def _read_prices(
    catalog: Catalog, key: SeriesKey, market: Market, given: bool
) -> tuple[pl.DataFrame, list[str]]:
    how = "--prices" if given else "linked; `oiradar link` lists the links"
    pkey = market.key(key.timeframe)
    try:
        px, built = read_built(catalog, pkey, None)
    except SeriesNotFound as exc:
        fix = (
            "pass another --prices"
            if given
            else "link another with `oiradar link` or pass --prices"
        )
        raise InputError(
            f"prices of {key.exchange} {key.symbol} from {market} ({how}): {exc}; {fix}"
        ) from None
    return px, [f"prices from {market} ({how})", *(f"prices: {n}" for n in built)]


def join_prices(px: pl.DataFrame, bars: pl.DataFrame) -> pl.DataFrame:
    """OHLCV of ``px`` with the OI, funding and long/short columns of ``bars``, on common ``ts``;
    a bar is complete when both sides are."""
    price_part = px.select("ts", *[c for c in PRICE_COLUMNS if c in px.columns],
                           pl.col("complete").alias("_pc"))  # fmt: skip
    oi_part = bars.drop([c for c in PRICE_COLUMNS if c in bars.columns])
    joined = price_part.join(oi_part, on="ts", how="inner")
    names = [*bars.columns, *price_part.columns]
    order = [c for c in dict.fromkeys(names) if c in joined.columns and c != "_pc"]
    return joined.with_columns((pl.col("complete") & pl.col("_pc")).alias("complete")).select(order)


def derive_oi(bars: pl.DataFrame) -> pl.DataFrame:
    """``oi`` (base units) = ``oi_value / close`` where ``oi`` is missing and both are known
    (Coinalyze and other sources that give OI in USD only)."""
    if not {"oi", "oi_value", "close"} <= set(bars.columns):
        return bars
    return bars.with_columns(pl.coalesce("oi", pl.col("oi_value") / pl.col("close")).alias("oi"))


def _check(key: SeriesKey, bars: pl.DataFrame, market: Market | None, need: Sequence[str]) -> None:
    name = f"{key.exchange} {key.symbol} {key.timeframe}"
    if market is not None and bars.is_empty():
        raise InputError(
            f"{name} shares no bar with its prices {market}: their dates do not overlap"
        )
    no_oi = all(
        bars[c].null_count() == bars.height for c in ("oi", "oi_value") if c in bars.columns
    )
    if "oi" in need and no_oi:
        raise InputError(f"{name} has no open interest (prices or funding only)")
    if "close" in need and bars["close"].null_count() == bars.height:
        raise InputError(
            f"{name} has no prices (OI-only data): {no_prices_hint((key.exchange, key.symbol))}"
        )
    if "oi" in need and bars["oi"].null_count() == bars.height:
        raise InputError(f"{name} has open interest in USD only (oi_value) and no price to turn it "
                         f"into base units: {no_prices_hint((key.exchange, key.symbol))}")  # fmt: skip


# ------------------------------------------------------------------------- every series
def each_series(
    keys: Sequence[SeriesKey], step: Callable[[SeriesKey], T], what: str
) -> tuple[list[T], list[Skipped]]:
    """``step`` on every key; a key it fails on (an :class:`OiradarError`) is skipped with the
    reason. Raises :class:`NothingDone` when every key was skipped; a single key's error is
    raised as it is (the user named that series)."""
    if len(keys) == 1:
        return [step(keys[0])], []
    done: list[T] = []
    skipped: list[Skipped] = []
    for key in keys:
        try:
            done.append(step(key))
        except OiradarError as exc:
            skipped.append(skipped_for(key, exc))
    if not done and skipped:
        raise NothingDone(what, skipped)
    return done, skipped


def skipped_for(key: SeriesKey, exc: OiradarError) -> Skipped:
    """The line an every-series command lists for ``key``, which failed with ``exc``."""
    return Skipped(f"{key.exchange} {key.symbol}", _reason(key, str(exc)))


def _reason(key: SeriesKey, message: str) -> str:
    """The message without the series name it starts with (the skip line names it already)."""
    for prefix in (f"{key} ", f"{key.exchange} {key.symbol} {key.timeframe} "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def summary_notes(noted: Sequence[tuple[SeriesKey, Sequence[str]]]) -> list[str]:
    """The notes of many series (``(key, notes)`` pairs), each once: ``note (N series)`` when
    several share it, else ``exchange symbol: note``."""
    if len(noted) == 1:  # one series: the output names it already
        return list(noted[0][1])
    counts = Counter(n for _, notes in noted for n in dict.fromkeys(notes))
    out, seen = [], set()
    for key, notes in noted:
        for n in notes:
            if counts[n] > 1 and n not in seen:
                seen.add(n)
                out.append(f"{n} ({counts[n]} series)")
            elif counts[n] == 1:
                out.append(f"{key.exchange} {key.symbol}: {n}")
    return out


__all__ = [
    "ALL_VENUES",
    "AS_STORED",
    "LoadedSeries",
    "Margin",
    "Market",
    "NothingDone",
    "SeriesOptions",
    "Skipped",
    "derive_oi",
    "each_series",
    "from_close_notes",
    "join_prices",
    "load_bars",
    "load_series",
    "no_prices_hint",
    "one_key",
    "read_built",
    "select_keys",
    "series_key",
    "skipped_for",
    "stored_markets",
    "studied_keys",
    "summary_notes",
]
