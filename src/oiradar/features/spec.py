"""Every feature declared once: name, kernel, inputs, windows, type and long-side mirror.

The feature matrix has one row per declared feature, in declaration order: the built-ins of
:data:`BUILTIN` first (the rows the fused numba pass writes), then the features added with
:func:`register_feature`. Every index is derived from these declarations: :data:`FEATURE_INDEX`
(name -> row) and, for numba code, :data:`FEATURE_ROW` (a named tuple of ints: a module-level
tuple is a compile-time constant to numba, so ``out[FEATURE_ROW.oi_z_30d, i]`` compiles to what
a literal row number did). The inputs (:data:`INPUT_ROW`) and the per-series parameter vector
(:data:`PARAM`) are laid out the same way.

A registered feature is computed by its own kernel after the fused pass (arrays in, array out,
see :data:`Kernel`), so one declaration is enough for ``compute_features``, ``analyse_many`` and
``oiradar features`` to produce it. numba stores the row numbers with its compiled code: after
reordering :data:`BUILTIN` delete ``src/oiradar/{features,signals}/__pycache__/*.nb*``
(decision 0304).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from oiradar.model import BAR_COLUMNS, BAR_VALUE_COLUMNS

if TYPE_CHECKING:
    import numpy as np


class FeatureType(StrEnum):
    """How a row of float64 kernel output becomes a column (NaN is always a missing value)."""

    FLOAT = "float"  # Float64
    BOOL = "bool"  # 1.0 / 0.0 -> Boolean (above 0.5 is True)
    COUNT = "count"  # whole counts -> Int32


# A declared kernel: ``kernel(cols, windows)`` gets one series' input columns by name (float64,
# read-only, NaN = missing) and its windows in bars by name, and returns that series' values.
Kernel = Callable[[Mapping[str, "np.ndarray"], Mapping[str, int]], Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureSpec:
    """One feature. ``kernel`` is the name of the kernel(s) the fused pass runs for it (built-ins,
    ``features.kernels`` / ``features.fused``) or a :data:`Kernel` to run after that pass.

    ``inputs`` names what it reads: input columns (:data:`INPUTS`, fallbacks applied), other bar
    columns (``funding_rate``...) or features declared before it. ``windows`` are keys of
    :func:`oiradar.features.windows`. ``mirror`` is the feature the long side reads in its place
    (declared on the short side's feature; it may be declared after it).
    """

    name: str
    kernel: str | Kernel
    inputs: tuple[str, ...]
    windows: tuple[str, ...] = ()
    type: FeatureType = FeatureType.FLOAT
    mirror: str | None = None
    doc: str = ""

    @property
    def fused(self) -> bool:
        """Computed by the fused numba pass (a built-in), not by its own kernel."""
        return isinstance(self.kernel, str)


# Rows of the kernels' input matrix (float64; quote_volume and oi_value with their fallbacks).
INPUTS: tuple[str, ...] = (
    "open", "high", "low", "close", "volume", "quote_volume", "oi", "oi_value",
)  # fmt: skip
# Window lengths in bars (``features.windows``), then the other per-series parameters.
WINDOWS: tuple[str, ...] = ("z", "chg", "turnover", "peak", "vol", "new_high", "atr")
RULES: tuple[str, ...] = ("wick", "engulfing", "close_below_low")  # rejection rules, 1.0 = on
PARAMS: tuple[str, ...] = (*WINDOWS, "near_pct", *RULES, "min_coverage")

_OHLC = ("open", "high", "low", "close")
_BOOL, _COUNT = FeatureType.BOOL, FeatureType.COUNT

BUILTIN: tuple[FeatureSpec, ...] = (
    FeatureSpec(name="oi_ma_30d", kernel="rolling_mean_std_into", inputs=("oi",), windows=("z",),
                doc="mean of oi over n(30d)"),
    FeatureSpec(name="oi_sd_30d", kernel="rolling_mean_std_into", inputs=("oi",), windows=("z",),
                doc="standard deviation (ddof=1) of oi over n(30d)"),
    FeatureSpec(name="oi_z_30d", kernel="safe_div_into", inputs=("oi", "oi_ma_30d", "oi_sd_30d"),
                doc="(oi - oi_ma_30d) / oi_sd_30d"),
    FeatureSpec(name="oi_chg_7d", kernel="pct_change_lag_into", inputs=("oi",), windows=("chg",),
                doc="oi / oi[t - n(7d)] - 1"),
    FeatureSpec(name="oi_vol_ratio", kernel="rolling_sum_into, ratio_into",
                inputs=("oi_value", "quote_volume"), windows=("turnover",),
                doc="oi_value / sum(quote_volume over n(24h))"),
    FeatureSpec(name="oi_vol_ratio_ma_30d", kernel="rolling_sum_into", inputs=("oi_vol_ratio",),
                windows=("z",), doc="mean of oi_vol_ratio over n(30d)"),
    FeatureSpec(name="oi_peak", kernel="rolling_max_into", inputs=("oi",), windows=("peak",),
                doc="max of oi over n(7d)"),
    FeatureSpec(name="oi_dd", kernel="drawdown_into", inputs=("oi", "oi_peak"),
                doc="1 - oi / oi_peak"),
    FeatureSpec(name="oi_down_streak", kernel="streaks_into", inputs=("oi",), type=_COUNT,
                doc="bars in a row ending at t with oi below the bar before"),
    FeatureSpec(name="oi_up_streak", kernel="streaks_into", inputs=("oi",), type=_COUNT,
                doc="bars in a row ending at t with oi above the bar before"),
    FeatureSpec(name="vol_ma_20d", kernel="rolling_sum_into", inputs=("volume",),
                windows=("vol",), doc="mean of volume over n(20d)"),
    FeatureSpec(name="price_high", kernel="rolling_max_into", inputs=("high",),
                windows=("peak",), mirror="price_low", doc="max of high over n(7d)"),
    FeatureSpec(name="new_high", kernel="breakout_into", inputs=("high",), windows=("new_high",),
                type=_BOOL, mirror="new_low", doc="high > max(high[t-20 .. t-1])"),
    FeatureSpec(name="near_high", kernel="near_level_into", inputs=("close", "price_high"),
                type=_BOOL, mirror="near_low", doc="close >= (1 - near_pct) * price_high"),
    FeatureSpec(name="atr_14", kernel="wilder_atr_into", inputs=("high", "low", "close"),
                windows=("atr",), doc="Wilder's average true range"),
    FeatureSpec(name="rejection", kernel="rejection_into", inputs=_OHLC, type=_BOOL,
                mirror="rejection_bull", doc="bearish rejection candle (wick, engulfing, close)"),
    FeatureSpec(name="price_low", kernel="rolling_max_into", inputs=("low",), windows=("peak",),
                doc="min of low over n(7d)"),
    FeatureSpec(name="new_low", kernel="breakout_into", inputs=("low",), windows=("new_high",),
                type=_BOOL, doc="low < min(low[t-20 .. t-1])"),
    FeatureSpec(name="near_low", kernel="near_level_into", inputs=("close", "price_low"),
                type=_BOOL, doc="close <= (1 + near_pct) * price_low"),
    FeatureSpec(name="rejection_bull", kernel="rejection_into", inputs=_OHLC, type=_BOOL,
                doc="bullish rejection candle (the mirror rules)"),
)  # fmt: skip

FEATURE_COLUMNS: tuple[str, ...] = tuple(s.name for s in BUILTIN)  # the fused pass's rows
FEATURE_INDEX: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(FEATURE_COLUMNS)})
INPUT_INDEX: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(INPUTS)})
PARAM_INDEX: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate(PARAMS)})
# The same as named tuples for numba code (typed Any: the fields are built from the names).
FEATURE_ROW: Any = namedtuple("FeatureRow", FEATURE_COLUMNS)(*range(len(FEATURE_COLUMNS)))
INPUT_ROW: Any = namedtuple("InputRow", INPUTS)(*range(len(INPUTS)))
PARAM: Any = namedtuple("Param", PARAMS)(*range(len(PARAMS)))
N_FUSED = len(BUILTIN)

BOOL_FEATURES: tuple[str, ...] = tuple(s.name for s in BUILTIN if s.type is FeatureType.BOOL)
INT_FEATURES: tuple[str, ...] = tuple(s.name for s in BUILTIN if s.type is FeatureType.COUNT)
LONG_MIRROR: Mapping[str, str] = MappingProxyType(
    {s.name: s.mirror for s in BUILTIN if s.mirror is not None}
)

_REGISTERED: list[FeatureSpec] = []
_LOCK = threading.Lock()
# columns a features frame also has
_FRAME_COLUMNS = ("ts", "complete", "ohlc_from_close", "phase", "liquidations")


def feature_specs() -> tuple[FeatureSpec, ...]:
    """Every declared feature in row order: the built-ins, then the registered ones."""
    with _LOCK:
        return BUILTIN + tuple(_REGISTERED)


def feature_columns() -> tuple[str, ...]:
    """The feature columns ``compute_features`` adds, in order (built-ins and registered)."""
    return tuple(s.name for s in feature_specs())


def register_feature(spec: FeatureSpec) -> None:
    """Add ``spec`` to every feature computation from now on (its row follows those before it).

    Refused (:class:`ValueError`) when the name is taken, the kernel is not callable, or an
    input or window is unknown: a feature reads only columns that exist when it runs.
    """
    with _LOCK:
        _check(spec, BUILTIN + tuple(_REGISTERED))
        _REGISTERED.append(spec)


def unregister_feature(name: str) -> None:
    """Remove the registered feature ``name`` (built-ins stay); unknown names are refused."""
    with _LOCK:
        for i, spec in enumerate(_REGISTERED):
            if spec.name == name:
                del _REGISTERED[i]
                return
    raise ValueError(f"no registered feature {name!r}")


@contextmanager
def registered_feature(spec: FeatureSpec) -> Iterator[FeatureSpec]:
    """``spec`` registered for the ``with`` block only (tests, one-off studies)."""
    register_feature(spec)
    try:
        yield spec
    finally:
        unregister_feature(spec.name)


def _check(spec: FeatureSpec, known: tuple[FeatureSpec, ...]) -> None:
    names = {s.name for s in known}
    taken = names | set(BAR_COLUMNS) | set(_FRAME_COLUMNS)
    if spec.name in taken:
        raise ValueError(f"feature name {spec.name!r} is taken by a column of the features frame")
    if spec.fused or not callable(spec.kernel):
        raise ValueError(f"feature {spec.name!r}: kernel must be a function (cols, windows)")
    readable = names | set(INPUTS) | set(BAR_VALUE_COLUMNS)
    unknown = [c for c in spec.inputs if c not in readable]
    if unknown:
        raise ValueError(f"feature {spec.name!r} reads unknown column(s) {unknown}")
    bad = [w for w in spec.windows if w not in WINDOWS]
    if bad:
        raise ValueError(f"feature {spec.name!r}: unknown window(s) {bad}; valid: {WINDOWS}")
