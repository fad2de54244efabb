"""``meltproof gateway``: run the reference gateway (the same as ``python -m reference_impl``)."""

from __future__ import annotations

import sys

import click


@click.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def gateway(args: tuple[str, ...]) -> None:
    """Run the reference gateway; --help lists its options (--workers N, --profile, ...)."""
    from reference_impl.__main__ import main as gateway_main  # noqa: PLC0415 - loaded on use

    sys.exit(gateway_main(list(args), prog="meltproof gateway"))
