"""Command-line options as data, so that each option and its help is written once.

A command's table of ``CliOption`` builds its argparse parser here (``python -m ...``), and
``meltproof`` builds click options from the same table (``meltproof gateway``, ``meltproof
worker``). A default shows in the help as click shows it, ``[default: 8080]``; a help text may
name a default that comes from elsewhere in the same way (``[default: the config's]``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CliOption:
    """One ``--name VALUE`` option, or a ``switch``, which takes no value."""

    name: str
    help: str
    type: Callable[[str], Any] = str
    """``str``, ``int``, ``float`` or ``pathlib.Path``."""
    default: str | int | float | None = None
    """The value when the option is not given; None leaves it to the config or the code."""
    choices: tuple[str, ...] = ()
    required: bool = False
    repeatable: bool = False
    """Given any number of times; the values make a list."""
    switch: bool = False
    positive: bool = False
    """Only values above zero are valid."""
    metavar: str | None = None

    @property
    def dest(self) -> str:
        """The name of the parsed value: ``--upstream-timeout-s`` gives ``upstream_timeout_s``."""
        return self.name.removeprefix("--").replace("-", "_")


def add_options(parser: argparse.ArgumentParser, options: Sequence[CliOption]) -> None:
    """Add ``options`` to ``parser``."""
    for option in options:
        if option.switch:
            parser.add_argument(option.name, action="store_true", help=option.help)
            continue
        shown = "" if option.default is None else "  [default: %(default)s]"
        parser.add_argument(
            option.name,
            action="append" if option.repeatable else "store",
            type=_positive(option.type) if option.positive else option.type,
            default=[] if option.repeatable else option.default,
            choices=option.choices or None,
            required=option.required,
            metavar=option.metavar,
            help=option.help + shown,
        )


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    """``kind``, refusing values that are not above zero (as argparse refuses a bad value)."""

    def parse(text: str) -> Any:
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = getattr(kind, "__name__", "value")  # argparse names the type in its errors
    return parse
