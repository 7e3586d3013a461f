"""Which features a series can have, from the bar columns it holds (the declared inputs).

A feature reads input columns and features declared before it (:class:`FeatureSpec.inputs`); it
cannot be computed when one of them is missing from every bar (a file without volume, a mark
price with no high or low). Two inputs have a fallback, as the kernels fill them
(:func:`~oiradar.features.fused.fill_fallbacks`): ``quote_volume`` from ``volume`` and
``high low close``, ``oi_value`` from ``oi`` and ``close``. Example::

    >>> sorted(unavailable_features({"ts", "close", "high", "low", "open", "oi"}))[:3]
    ['oi_vol_ratio', 'oi_vol_ratio_ma_30d', 'vol_ma_20d']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from oiradar.features.spec import feature_specs

# An input with a fallback: each tuple of columns is one way to have it (the first: itself).
FALLBACKS: Mapping[str, tuple[tuple[str, ...], ...]] = MappingProxyType({
    "quote_volume": (("quote_volume",), ("volume", "high", "low", "close")),
    "oi_value": (("oi_value",), ("oi", "close")),
})  # fmt: skip


def lacking(column: str, present: set[str]) -> tuple[str, ...]:
    """The columns ``present`` lacks for ``column`` (empty: it is there, or its fallback is):
    for an input with a fallback, those the fallback lacks (``volume``, not ``quote_volume``)."""
    ways = FALLBACKS.get(column, ((column,),))
    if any(all(c in present for c in way) for way in ways):
        return ()
    return tuple(c for c in ways[-1] if c not in present)


def unavailable_features(present: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Every declared feature that cannot be computed from the columns ``present`` (those with a
    value on some bar), with the bar columns it lacks, in declaration order."""
    have = set(present)
    specs = feature_specs()
    features = {s.name for s in specs}
    out: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        missing: dict[str, None] = {}
        for name in spec.inputs:
            cols = out.get(name, ()) if name in features else lacking(name, have)
            missing.update(dict.fromkeys(cols))
        if missing:
            out[spec.name] = tuple(missing)
    return out


__all__ = ["FALLBACKS", "lacking", "unavailable_features"]
