"""``oiradar serve``: the read-only web dashboard, a front end beside the CLI.

- :mod:`.server`: the FastAPI app (pages, the JSON API, the static files) and how it runs
- :mod:`.events`: new bars as server-sent events
- :mod:`.security`: loopback by default, the token, the hosts it answers

Like the CLI it reaches the pipeline only through :mod:`oiradar.app` (:mod:`oiradar.app.dashboard`,
:mod:`oiradar.app.report`) and draws with :mod:`oiradar.render.figures`. docs/dashboard.md.
"""
