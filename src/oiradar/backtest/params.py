"""Parameters of the SPEC section 4 trade model, shared by the backtest, the sweeps and paper trading."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oiradar.config import Settings
from oiradar.errors import ConfigError
from oiradar.liquidations.prices import BINANCE, FORMULA_CODES
from oiradar.liquidations.tiers import TierTable
from oiradar.model import Side

# What the engine reads of a venue's tiers: (formula code, rows of cap / mmr / cum / max leverage,
# the fee the formula counts, whether the caps count base units).
MarginTable = tuple[int, NDArray[np.float64], float, bool]


class ExitReason(IntEnum):
    """Why a trade ended (stored as a small int in the engine's trade table)."""

    STOP = 1
    LIQUIDATION = 2
    TAKE_PROFIT = 3
    THESIS = 4  # short: oi_up_streak >= thesis_streak ("if OI starts climbing again ...")
    TIME = 5
    END = 6  # still open at the last bar: closed at its close

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, kw_only=True)
class TradeParams:
    """SPEC section 4 defaults. ``side``: short (the seed's trade) or long; "short"/"long" from a
    grid file or the configuration are read as :class:`Side`."""

    side: Side = Side.SHORT
    risk: float = 0.02  # of equity per trade, before the OI scale
    scale_by_oi: bool = True  # scale = 1 / (1 + max(0, oi_z_30d))
    leverage: float = 5.0  # cap on notional / equity, and the isolated leverage setting
    venue_max_leverage: float = 125.0  # a limit above the tiers'; the leverage never exceeds it
    fee: float = 0.0005  # taker fee per side, fraction of notional
    slippage: float = 0.0002  # 2 bp, on market fills (entry, stop, next-open exits, end)
    stop_lookback: int = 20  # bars of the swing high, up to the signal bar
    stop_atr: float = 0.5  # stop = swing high + stop_atr x atr_14 (short)
    use_stop: bool = True  # False: no stop order (and size by leverage, see sizing docs)
    take_profit_r: float = 2.0  # 0 turns the take-profit off
    time_stop: int = 30  # bars; 0 turns it off
    thesis_streak: int = 2  # exit when the OI streak reaches this; 0 turns it off
    entry_bar_stops: bool = True  # stop/target/liquidation may trigger in the bar of entry
    mmr: float = 0.004  # maintenance margin rate when the symbol has no tiers (one flat tier)
    initial_equity: float = 10_000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", _side(self.side))
        _check_types(self)
        checks = {
            "risk": 0 < self.risk <= 1,
            "leverage": self.leverage >= 1,
            "venue_max_leverage": self.venue_max_leverage >= 1,
            "fee": 0 <= self.fee < 0.1,
            "slippage": 0 <= self.slippage < 0.1,
            "stop_lookback": self.stop_lookback >= 1,
            "stop_atr": self.stop_atr >= 0,
            "take_profit_r": self.take_profit_r >= 0,
            "time_stop": self.time_stop >= 0,
            "thesis_streak": self.thesis_streak >= 0,
            "mmr": 0 <= self.mmr < 0.5,
            "initial_equity": self.initial_equity > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            k = bad[0]
            raise ConfigError(f"trade parameter {k} = {getattr(self, k)!r} is out of range")

    @property
    def effective_leverage(self) -> float:
        return min(self.leverage, self.venue_max_leverage)

    def with_(self, **changes: Any) -> TradeParams:
        check_names(changes)
        return replace(self, **changes)


PARAM_NAMES = tuple(sorted(f.name for f in fields(TradeParams)))


def check_names(values: dict[str, Any]) -> None:
    """Refuse a trade parameter that does not exist, naming the closest one and every valid one."""
    for name in values:
        if name not in PARAM_NAMES:
            close = difflib.get_close_matches(name, PARAM_NAMES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown trade parameter {name!r} (--param/-p, [backtest] or a grid file); "
                f"{hint}valid: {', '.join(PARAM_NAMES)}"
            )


def _check_types(p: TradeParams) -> None:
    """A value of the wrong kind (``-p risk=abc``, ``-p use_stop=1``) is refused with its name."""
    for f in fields(p):
        v = getattr(p, f.name)
        default = f.default
        if isinstance(default, bool):
            ok, want = isinstance(v, bool), "true or false"
        elif isinstance(default, int) and not isinstance(default, Side):
            ok, want = isinstance(v, int) and not isinstance(v, bool), "a whole number"
        elif isinstance(default, float):
            ok, want = isinstance(v, int | float) and not isinstance(v, bool), "a number"
        else:
            continue
        if not ok:
            raise ConfigError(f"trade parameter {f.name} = {v!r}: expected {want}")


def margin_table(tiers: TierTable | None, p: TradeParams) -> MarginTable:
    """The venue's tiers as the engine reads them; without a table, one unbounded tier of
    ``p.mmr`` (no amount, no leverage limit beyond ``p.venue_max_leverage``) and Binance's formula."""
    if tiers is None:
        return BINANCE, np.array([[np.inf, p.mmr, 0.0, np.inf]]), 0.0, False
    return FORMULA_CODES[tiers.formula], tiers.as_array(), tiers.fee, tiers.in_base


def _side(value: Side | str) -> Side:
    """A grid file or the configuration gives the side as text: read it as a :class:`Side`."""
    if value not in tuple(Side):
        raise ConfigError(f"trade parameter side must be 'long' or 'short', got {value!r}")
    return Side(value)


def trade_params(
    settings: Settings | None = None, exchange: str | None = None, **over: object
) -> TradeParams:
    """``[backtest]`` settings, with the venue's ``taker_fee`` when it has one, then ``over``."""
    s = settings or Settings()
    data = s.backtest.model_dump()
    if exchange is not None and s.venue(exchange).taker_fee is not None:
        data["fee"] = s.venue(exchange).taker_fee
    over = {k: v for k, v in over.items() if v is not None}
    check_names(over)
    data.update(over)
    return TradeParams(**data)
