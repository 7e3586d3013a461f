"""Results for people: tables, dates, percents, money, progress bars (the rendering layer).

Front ends call a use case of :mod:`oiradar.app`, then hand its typed result to a module here:

- :mod:`.formats`: single values (ISO UTC dates, percents, money with its unit); no polars
- :mod:`.console`: the consoles (markup off) and styled labels
- :mod:`.tables`: frames as tables (key columns, fitted to the terminal), CSV, JSON, files
- :mod:`.progress`: progress bars fed by the use cases' callbacks
- :mod:`.evidence`, :mod:`.liq`, :mod:`.demo`, :mod:`.fetch`: each command family's views

Nothing is imported here, so that a front end loads only what the command it runs needs.
"""
