"""``meltproof scenario``: list the built-in scenarios, validate files, print the JSON Schema."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from ..console import EXIT_HARNESS_ERROR, console, errors
from ..loader import builtin_names, load_scenario, resolve
from ..schema import SuiteError, json_schema


@click.group()
def scenario() -> None:
    """Scenario files: list, validate, schema."""


@scenario.command(name="list")
def list_builtin() -> None:
    """The built-in scenarios, with their descriptions."""
    for name in builtin_names():
        [path] = resolve(name)
        description = load_scenario(path).description
        console.print(f"[bold]{name:<22}[/] {escape(description)}")


@scenario.command()
@click.argument("scenarios", nargs=-1, required=True)
def validate(scenarios: tuple[str, ...]) -> None:
    """Check SCENARIOS (files, folders, built-in names) without running them."""
    failed = False
    for name in scenarios:
        try:
            paths = resolve(name)
        except SuiteError as exc:
            errors.print(f"[bold red]error:[/] {escape(str(exc))}")
            failed = True
            continue
        for path in paths:
            try:
                spec = load_scenario(path)
            except SuiteError as exc:
                errors.print(f"[bold red]invalid:[/] {escape(str(exc))}")
                failed = True
            else:
                console.print(f"ok: {escape(str(path))} ({spec.name})")
    sys.exit(EXIT_HARNESS_ERROR if failed else 0)


@scenario.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors: yaml-language-server)."""
    console.print_json(json.dumps(json_schema()))
