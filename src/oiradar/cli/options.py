"""Options shared by the commands, and the parsers that turn their text into typed values.

The CLI is the edge: text becomes ``Timeframe``, ``Side``, epoch ms, fractions here, once, and the
use cases receive typed values. Everything heavier than typer is imported inside the parsers, so
that registering the commands (``oiradar --help``) stays cheap.
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from oiradar.errors import InputError
from oiradar.render.formats import OutFormat, TsFormat

if TYPE_CHECKING:
    from oiradar.app.batches import BatchOptions
    from oiradar.app.series import Market, SeriesOptions
    from oiradar.model import Side, Timeframe

Format = Annotated[OutFormat, typer.Option("--format", help="table (for people), csv or json.")]
Json = Annotated[bool, typer.Option("--json", hidden=True, help="The same as --format json.")]
Wide = Annotated[bool, typer.Option("--wide", help="Show every column (default: the key ones).")]
Ts = Annotated[
    TsFormat, typer.Option("--ts", help="Timestamps in CSV output: ms (epoch) or iso (UTC).")
]
Exchange = Annotated[str | None, typer.Option("--exchange", "-e", help="Only this exchange.")]
Symbol = Annotated[str | None, typer.Option("--symbol", "-s", help="Only this symbol.")]
Tf = Annotated[str, typer.Option("--timeframe", "-t", help="Bar timeframe (resampled if needed).")]
SideOpt = Annotated[str, typer.Option("--side", help="short (the framework's trade) or long.")]
Prices = Annotated[
    str | None,
    typer.Option(
        "--prices",
        help="Take OHLCV from EXCHANGE:SYMBOL (overrides the series' price link, `oiradar link`).",
    ),
]
PriceFrom = Annotated[
    str | None, typer.Option("--price-from", hidden=True, help="The same as --prices (older name).")
]
FromTf = Annotated[
    str | None,
    typer.Option(
        "--from-timeframe",
        help="Build the bars from this stored timeframe (default: the one covering most bars).",
    ),
]
MarginOpt = Annotated[
    str,
    typer.Option(
        "--margin", help="With --exchange all: sum usdt-margined, coin-margined or all contracts."
    ),
]

RAY_ADDRESS_HELP = (
    "Ray cluster address (ray executor). Without it Ray runs on this machine and listens on "
    "127.0.0.1 only; with it the data and the work go to that cluster, and this process listens "
    "on the network so the cluster can reach it: use only a cluster on a network you trust "
    "(Ray's ports take commands from anyone)."
)
BatchSize = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        help="Series read and computed at once; memory follows it (default: \\[performance] "
        "batch_series).",
    ),
]
ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="local (this process) or ray (one Ray task per batch of series); default: "
        "\\[performance] executor.",
    ),
]


def out_format(fmt: OutFormat, as_json: bool) -> OutFormat:
    """``--json`` (kept for scripts) is ``--format json``."""
    return OutFormat.JSON if as_json else fmt


def timeframe(text: str) -> Timeframe:
    from oiradar.model import Timeframe

    return Timeframe.parse(text)


def side(text: str, option: str = "--side") -> Side:
    from oiradar.model import Side

    try:
        return Side.parse(text)
    except InputError:
        raise InputError(f"{option} must be long or short, got {text!r}") from None


def date(text: str | None, option: str = "--since") -> int | None:
    """``2024-01-31`` or ``2024-01-31T12:00`` (UTC unless an offset is given) -> epoch ms."""
    if not text:
        return None
    from oiradar.timeutil import parse_instant

    return parse_instant(text, option)


def when(text: str | None, now: int, option: str = "--since") -> int | None:
    """A date (UTC) or a duration back from ``now`` (``90d``) -> epoch ms; None when not given."""
    if not text:
        return None
    from oiradar.timeutil import parse_when

    return parse_when(text, now, option)


def market(text: str | None, option: str = "--prices") -> Market | None:
    """``EXCHANGE:SYMBOL`` -> a :class:`~oiradar.app.series.Market` (None when not given)."""
    if not text:
        return None
    from oiradar.app.series import Market

    return Market.parse(text, option)


def series(
    prices: str | None, from_tf: str | None = None, margin: str = "all", price_from: str | None = None
) -> SeriesOptions:
    """``--prices`` (or its older name ``--price-from``), ``--from-timeframe`` and ``--margin``."""
    from oiradar.app.series import Margin, SeriesOptions

    if prices and price_from and prices != price_from:
        raise InputError(f"--prices {prices!r} and --price-from {price_from!r} disagree; give one")
    option = "--prices" if prices or not price_from else "--price-from"
    try:
        from_timeframe = timeframe(from_tf) if from_tf else None
    except InputError as exc:
        raise InputError(f"--from-timeframe {from_tf!r}: {exc}") from None
    return SeriesOptions(market(prices or price_from, option), from_timeframe, Margin.parse(margin))


def batches(
    size: int | None, executor: str | None = None, address: str | None = None
) -> BatchOptions:
    """``--batch-size``, ``--executor`` and ``--address`` (None: the ``[performance]`` setting)."""
    from oiradar.app.batches import BatchOptions

    return BatchOptions(series=size, executor=executor, address=address)


def params(items: list[str]) -> dict[str, Any]:
    """``--param key=value`` pairs, values read as TOML scalars (numbers, booleans), else text."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"--param wants KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k.strip()] = tomllib.loads(f"v = {v}")["v"]
        except tomllib.TOMLDecodeError:
            out[k.strip()] = v
    return out


def renames(items: list[str]) -> dict[str, str]:
    """``--map SRC=DST`` pairs (column renames of an import)."""
    mapping = {}
    for item in items:
        src, sep, dst = item.partition("=")
        if not sep or not src or not dst:
            raise InputError(f"--map expects SRC=DST (e.g. --map time=ts), got {item!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def moves(text: str | None) -> tuple[float, ...] | None:
    """``-10,-5,5,10`` (percents) -> fractions; None when not given (the default moves)."""
    if not text:
        return None
    try:
        return tuple(float(x.strip().rstrip("%")) / 100.0 for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--moves {text!r}: write percents like -10,-5,5,10") from None


def at_least(value: int, least: int, option: str) -> int:
    """``value`` when it is at least ``least``, else an InputError naming the option and value."""
    if value < least:
        raise InputError(f"{option} must be {least} or more, got {value}")
    return value


def seconds(text: str, option: str = "--interval") -> float:
    """``30s``, ``5m``, ``2h``: a duration in seconds (``s`` added to the config's m/h/d/w), more
    than zero; ``option`` names the option in the error."""
    from oiradar.errors import ConfigError
    from oiradar.timeutil import duration_ms

    clean = text.strip()
    try:
        if clean.endswith("s") and clean[:-1].replace(".", "", 1).isdigit():
            value = float(clean[:-1])
        else:
            value = duration_ms(clean) / 1000
    except (ConfigError, InputError) as exc:
        raise InputError(f"{option} {text!r}: {exc}") from None
    if not value > 0:
        raise InputError(f"{option} must be longer than 0, got {text!r}")
    return value


__all__ = [
    "RAY_ADDRESS_HELP", "BatchSize", "Exchange", "ExecutorOpt", "Format", "FromTf", "Json", "MarginOpt", "PriceFrom", "Prices", "SideOpt",
    "Symbol", "Tf", "Ts", "Wide", "at_least", "batches", "date", "market", "moves", "out_format", "params", "renames",
    "seconds", "series", "side", "timeframe", "when",
]  # fmt: skip
