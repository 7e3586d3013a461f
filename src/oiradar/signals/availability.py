"""Which signals a series can fire, from the features it can have (what each condition reads).

:data:`SIGNAL_NEEDS` mirrors the conditions of :mod:`oiradar.signals.kernels` (and
:mod:`oiradar.signals.cross`): per signal, groups of names (bar columns, features, signals) that
must each be available through one of their members. A signal whose need is missing from every
bar never fires: ``trigger`` compares ``volume`` with ``vol_ma_20d``, so a file without volume has
no ``trigger``; ``entry`` follows a ``trigger`` **or** a ``divergence``, so it still fires after
divergences.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from oiradar.features.availability import lacking, unavailable_features
from oiradar.features.spec import feature_columns

SIGNAL_NEEDS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType({
    "oi_extreme": (("oi_z_30d",),),
    "watch": (("oi",), ("oi_ma_30d",), ("oi_chg_7d",), ("oi_vol_ratio",),
              ("oi_vol_ratio_ma_30d",)),
    "trigger": (("watch",), ("new_high",), ("oi_down_streak",), ("volume",), ("vol_ma_20d",)),
    "divergence": (("oi_dd",), ("near_high",)),
    "entry": (("rejection",), ("trigger", "divergence")),
    "exchange_divergence": (("oi",),),
    "margin_divergence": (("oi",),),
    "mtf_entry": (("rejection",), ("trigger", "divergence")),  # the setup's, on coarser bars
    "liq_fade": (("oi",), ("high",), ("low",), ("close",)),  # the level model's inputs
})  # fmt: skip


def unavailable_signals(present: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every signal that cannot fire on bars holding the columns ``present``, with the bar
    columns it lacks (order of :data:`SIGNAL_NEEDS`: a signal is listed after those it reads)."""
    have = set(present)
    lost: dict[str, tuple[str, ...]] = dict(unavailable_features(have))
    derived = {*feature_columns(), *SIGNAL_NEEDS}  # available unless lost
    out: dict[str, tuple[str, ...]] = {}
    for signal, groups in SIGNAL_NEEDS.items():
        missing: dict[str, None] = {}
        for group in groups:
            why = [lost.get(n, ()) if n in derived else lacking(n, have) for n in group]
            if all(why):  # no member of the group is available
                for cols in why:
                    missing.update(dict.fromkeys(cols))
        if missing:
            out[signal] = lost[signal] = tuple(missing)
    return out


__all__ = ["SIGNAL_NEEDS", "unavailable_signals"]
