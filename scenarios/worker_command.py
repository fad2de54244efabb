"""``meltproof worker``: embed queued chunks (``python -m reference_impl.embedding_worker``)."""

from __future__ import annotations

import sys

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run the embedding worker; --help lists its options (--dsn, --concurrency N, ...)."""
    from reference_impl.embedding_worker import main as worker_main  # noqa: PLC0415 - loaded on use

    sys.exit(worker_main(list(args), prog="meltproof worker"))
