"""The ``oiradar`` command line (typer + rich)."""
