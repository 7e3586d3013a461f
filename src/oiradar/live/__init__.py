"""The live radar: ``oiradar watch``'s loop, its alert channels and their dispatcher.

A front end beside :mod:`oiradar.cli` (the same rule: it reaches the pipeline only through
:mod:`oiradar.app`). The use cases it runs are in :mod:`oiradar.app.live`.
"""
