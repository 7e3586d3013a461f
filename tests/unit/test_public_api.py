"""The public surface is small and deliberate: changing it means changing this test."""

import oiradar

EXPECTED = {
    "Catalog",
    "ConfigError",
    "InputError",
    "OiradarError",
    "SeriesKey",
    "SeriesNotFound",
    "Settings",
    "Side",
    "Source",
    "SourceError",
    "StoreError",
    "Timeframe",
    "load_settings",
    "resample_bars",
}


def test_exported_members() -> None:
    assert set(oiradar.__all__) == EXPECTED
    assert oiradar.__all__ == sorted(oiradar.__all__)
    for name in oiradar.__all__:
        assert getattr(oiradar, name) is not None
