"""The root of the harness's load-side errors: a caller catches ``BenchmarkError`` for any of
them (a generator process that failed, a history it cannot read, a cluster's lost results)."""


class BenchmarkError(Exception):
    """The load side could not do what it was asked; the message says what and why."""
