"""The command-line options that send a scenario's load through Locust master and workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .load_engines import LoadEngine, choose_engine


F = TypeVar("F", bound=Callable[..., Any])
_OPTIONS = (
    click.option(
        "--locust-workers",
        type=click.IntRange(1, 64),
        help="Send the load through a Locust master and N worker processes on this machine "
        "(same schedule, faults, checks and report).",
    ),
    click.option(
        "--remote-workers",
        type=click.IntRange(0, 1024),
        default=0,
        help="Also wait for N Locust workers from other machines; their command line is "
        "printed (needs a --master-host they can reach).",
    ),
    click.option(
        "--master-host",
        default="127.0.0.1",
        show_default=True,
        help="Where the Locust master listens.",
    ),
    click.option("--master-port", type=click.IntRange(1, 65535), help="The Locust master's port."),
)


def engine_options(function: F) -> F:
    """Add the Locust options; the command receives them as keyword arguments."""
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def engine_of(
    locust_workers: int | None, remote_workers: int, master_host: str, master_port: int | None
) -> LoadEngine:
    """The engine those options ask for; ``click.UsageError`` when they cannot work."""
    try:
        return choose_engine(
            locust_workers=locust_workers,
            remote_workers=remote_workers,
            master_host=master_host,
            master_port=master_port,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
