"""``meltproof worker``: embed queued chunks, as ``python -m reference_impl.embedding_worker``."""

from __future__ import annotations

from reference_impl.embedding_worker.cli import DESCRIPTION, OPTIONS, main

from .table_command import table_command


worker = table_command(
    "worker", DESCRIPTION, OPTIONS, lambda argv: main(argv, prog="meltproof worker")
)
