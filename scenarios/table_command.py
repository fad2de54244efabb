"""A click command made from a ``reference_impl`` command's table of options.

``meltproof gateway`` and ``meltproof worker`` run commands whose own command line is argparse
(``python -m reference_impl``): their options are written once, in a table of ``CliOption``.
Here the table becomes click options, so that their help looks like every other command's and
click refuses a bad value; the values click parsed become the argv the command's ``main``
parses again.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from reference_impl.cli_options import CliOption


Main = Callable[[list[str]], int]
"""A command's entry: its argv in, its exit status out."""

_VALUE_TYPES: Mapping[Callable[[str], Any], click.ParamType[Any]] = {
    str: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    Path: click.Path(path_type=Path),
}
_POSITIVE_TYPES: Mapping[Callable[[str], Any], click.ParamType[Any]] = {
    int: click.IntRange(0, min_open=True),
    float: click.FloatRange(0, min_open=True),
}


def table_command(
    name: str, help_text: str, options: Sequence[CliOption], main: Main
) -> click.Command:
    """The click command ``name``: ``options``, then exit with what ``main`` returns."""

    def run(**values: Any) -> None:
        sys.exit(main(argv_of(options, values)))

    params: list[click.Parameter] = [click_option(option) for option in options]
    return click.Command(name, callback=run, params=params, help=help_text)


def click_option(option: CliOption) -> click.Option:
    """``option`` as click shows and checks it."""
    if option.switch:
        return click.Option([option.name], is_flag=True, help=option.help)
    # click takes an explicit None for a default, which a required option then has
    given: dict[str, Any] = {} if option.default is None else {"default": option.default}
    return click.Option(
        [option.name],
        type=_value_type(option),
        required=option.required,
        multiple=option.repeatable,
        metavar=option.metavar,
        show_default=True,
        help=option.help,
        **given,
    )


def argv_of(options: Sequence[CliOption], values: Mapping[str, Any]) -> list[str]:
    """The command line that gives the command ``values`` (by ``CliOption.dest``) again."""
    argv: list[str] = []
    for option in options:
        value = values[option.dest]
        if option.switch:
            argv += [option.name] if value else []
        elif option.repeatable:
            for item in value:
                argv += [option.name, str(item)]
        elif value is not None:
            argv += [option.name, str(value)]
    return argv


def _value_type(option: CliOption) -> click.ParamType[Any]:
    if option.choices:
        return click.Choice(option.choices)
    return (_POSITIVE_TYPES if option.positive else _VALUE_TYPES)[option.type]
