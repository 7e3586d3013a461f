"""Use cases: typed arguments in, typed results out; nothing printed. What every front end calls.

One module per use case; each takes a :class:`~oiradar.app.session.Session` (home, settings,
catalog) and a frozen options dataclass or typed keywords (``Timeframe``, ``Side``, epoch ms:
text is parsed by the front end), and returns dataclasses holding polars frames and scalars.
Long runs report progress through a callback argument.

- :mod:`.session`: where data lives and the settings in force
- :mod:`.catalog`: stored series, gaps, SQL, one series read for export
- :mod:`.series`: choosing series, loading bars with their price source
- :mod:`.availability`: the features and signals a series' bars cannot give (a missing column)
- :mod:`.features`, :mod:`.scan`: docs/analysis.md
- :mod:`.study`, :mod:`.backtest` (backtest and sweep): docs/evidence.md
- :mod:`.liqprice`, :mod:`.liqmap`: docs/liquidations.md
- :mod:`.imports`, :mod:`.fetch` (markets, fetch, record), :mod:`.sim` (simulate, demo)

Nothing is imported here: a front end imports the module of the use case it runs, so a command
loads only what it needs (``oiradar liqprice`` never loads numba, ``oiradar --help`` not polars).
"""
