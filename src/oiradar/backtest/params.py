"""Parameters of the SPEC section 4 trade model, shared by the backtest, the sweeps and paper trading."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from enum import IntEnum
from typing import Any

from oiradar.config import Settings
from oiradar.errors import ConfigError
from oiradar.model import Side


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
    venue_max_leverage: float = 125.0  # the venue's limit; the effective leverage never exceeds it
    fee: float = 0.0005  # taker fee per side, fraction of notional
    slippage: float = 0.0002  # 2 bp, on market fills (entry, stop, next-open exits, end)
    stop_lookback: int = 20  # bars of the swing high, up to the signal bar
    stop_atr: float = 0.5  # stop = swing high + stop_atr x atr_14 (short)
    use_stop: bool = True  # False: no stop order (and size by leverage, see sizing docs)
    take_profit_r: float = 2.0  # 0 turns the take-profit off
    time_stop: int = 30  # bars; 0 turns it off
    thesis_streak: int = 2  # exit when the OI streak reaches this; 0 turns it off
    entry_bar_stops: bool = True  # stop/target/liquidation may trigger in the bar of entry
    mmr: float = 0.004  # maintenance margin rate (Binance BTCUSDT tier 1)
    initial_equity: float = 10_000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", _side(self.side))
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
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ConfigError(
                f"unknown trade parameter(s) {sorted(unknown)}; valid: {sorted(asdict(self))}"
            )
        return replace(self, **changes)


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
    data.update({k: v for k, v in over.items() if v is not None})
    return TradeParams(**data)
