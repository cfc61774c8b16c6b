"""Plain-Python access to Fingerprint: HTTP clients, event normaliser, webhook and sealed helpers.

Nothing in this package imports Django models, so it can be reused by the sandbox, the
management commands and the benchmarks alike.
"""
