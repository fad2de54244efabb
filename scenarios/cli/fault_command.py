"""``meltproof fault``: inject and heal faults on the stack that ``meltproof up`` runs.

A fault is given as its kind and its fields, as a scenario file writes it: ``fault: {kind:
latency, link: provider, latency_ms: 300}`` is ``meltproof fault add latency link=provider
latency_ms=300``. Each value is read as YAML (``'rates={429: 1.0}'``). The fault is validated
here, with the scenario files' models, before ``up`` injects it.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any, get_args

import click
import yaml
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from faults import FAULT_TYPES, FaultModel
from faults.link.toxic import Link
from faults.process.base import Service

from ..active_faults import ActiveFault
from ..console import EXIT_HARNESS_ERROR, console, errors
from ..fault_client import FaultClientError, FaultRefusedError, connect
from ..fault_control import NAME_PATTERN, AddFault, validation_problems


EXAMPLES = {
    "link": "meltproof fault add latency link=provider latency_ms=300 --for 30s",
    "provider": "meltproof fault add provider_errors 'rates={429: 1.0}' retry_after_s=2",
    "process": "meltproof fault add freeze service=redis --for 10s --name redis-pause",
    "gateway": "meltproof fault add flag file=flags.json flag=model variant=canary --for 60s",
}
"""One example per family of fault kinds (``faults.link``, ``faults.provider``, ...)."""
TENTHS_BELOW_S = 10.0
"""Shorter durations are shown to a tenth of a second."""


def family(model: type[FaultModel]) -> str:
    """The family of a fault kind: the subpackage of ``faults`` it lives in."""
    return model.__module__.split(".")[1]


def _add_epilog() -> str:
    """Examples, then every kind with its fields, by family."""
    lines = ["\b", "Examples, one per family:", *(f"  {e}" for e in EXAMPLES.values()), ""]
    lines += ["\b", "Kinds and their fields [optional ones, with their defaults]:"]
    shown = ""
    for kind, model in FAULT_TYPES.items():
        label = "" if family(model) == shown else family(model)
        shown = family(model)
        lines.append(f"  {label:<9} {kind:<18} {fields_of(model)}")
    links, services = "|".join(get_args(Link)), "|".join(get_args(Service))
    lines += ["", f"link: {links}; service: {services}; model: a provider model (default: all)."]
    return "\n".join(lines)


_SECONDS_PER_UNIT = MappingProxyType({"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0})
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|min|m|h)?")


class Duration(click.ParamType[float]):
    """A positive duration: ``30s``, ``500ms``, ``2m``, ``1h``, or seconds (``1.5``)."""

    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        """Seconds."""
        if isinstance(value, float):
            return value
        match = _DURATION.fullmatch(str(value).strip())
        if match is None or float(match[1]) == 0:
            self.fail(f"{value!r}: give a positive duration such as 30s, 500ms, 2m", param, ctx)
        return float(match[1]) * _SECONDS_PER_UNIT[match[2] or "s"]


def parse_fault(kind: str, assignments: Sequence[str]) -> FaultModel:
    """The fault of ``kind`` with the fields of ``FIELD=VALUE`` assignments (YAML values)."""
    model = FAULT_TYPES.get(kind)
    if model is None:
        close = difflib.get_close_matches(kind, FAULT_TYPES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(FAULT_TYPES)
        raise click.UsageError(f"unknown fault kind {kind!r}{hint} (kinds: {known})")
    fields: dict[str, Any] = {}
    for assignment in assignments:
        field, equals, text = assignment.partition("=")
        if not equals or not field:
            raise click.UsageError(f"{assignment!r}: give each field as FIELD=VALUE")
        if field == "kind" or field in fields:
            raise click.UsageError(f"{assignment!r}: {field} is given twice")
        try:
            fields[field] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise click.UsageError(f"{assignment!r}: the value is not valid YAML: {exc}") from None
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = "".join(f"\n  {problem}" for problem in validation_problems(exc))
        raise click.UsageError(
            f"fault {kind}:{problems}\n{kind} takes: {fields_of(model)}"
        ) from None


def fields_of(model: type[FaultModel]) -> str:
    """``link latency_ms [stream=downstream toxicity=1.0 jitter_ms=0]``."""
    required, optional = [], []
    for name, info in model.model_fields.items():
        if info.is_required():
            required.append(name)
        elif name != "kind":
            optional.append(f"{name}={yaml.safe_dump(info.default).splitlines()[0]}")
    return " ".join(required) + (f" [{' '.join(optional)}]" if optional else "")


def _name(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(NAME_PATTERN, value):
        raise click.BadParameter(f"{value!r}: use letters, digits, '_', '.', '-'", param=param)
    return value


_run_dir = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The run dir of `meltproof up`.  [default: the latest running one in .meltproof/runs]",
)


@contextmanager
def _harness_errors() -> Iterator[None]:
    """No running stack, or a refusal of its fault control: a message and exit code 3."""
    try:
        yield
    except FaultClientError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)


@click.group()
def fault() -> None:
    """Inject and heal faults on the stack `meltproof up` runs, while you watch it."""


@fault.command(epilog=_add_epilog(), short_help="Inject a fault: link, provider or process.")
@click.argument("kind")
@click.argument("fields", nargs=-1, metavar="[FIELD=VALUE]...")
@click.option("--for", "for_s", type=Duration(), help="Heal it after this long (30s, 2m).")
@click.option(
    "--name", callback=_name,
    help="Its name in `fault list` and `fault clear`.  [default: KIND-TARGET]",
)  # fmt: skip
@_run_dir
def add(
    kind: str, fields: tuple[str, ...], for_s: float | None, name: str | None, run_dir: Path | None
) -> None:
    """Inject a fault of KIND with the fields a scenario file's fault has.

    Each VALUE is read as YAML ('rates={429: 0.5}' is a mapping). The fault stays until
    `meltproof fault clear`, the end of --for, or the stop of `meltproof up`. A fault on the
    toxic, provider slot or process of an active one replaces it.
    """
    order = AddFault(fault=parse_fault(kind, fields), name=name, for_s=for_s)
    with _harness_errors():
        added = connect(run_dir).add(order)
    limit = "until cleared" if for_s is None else f"for {duration(for_s)}"
    console.print(f"injected {added.fault.name}: {escape(added.fault.summary)} ({limit})")
    if added.replaced is not None:
        console.print(f"  in place of {added.replaced.name}: {escape(added.replaced.summary)}")
    console.print(f"[dim]heal it now: meltproof fault clear {added.fault.name}[/]")


@fault.command(name="list")
@_run_dir
def list_active(run_dir: Path | None) -> None:
    """The active faults: name, age, time left, kind and fields."""
    with _harness_errors():
        client = connect(run_dir)
        active = client.active()
    console.print(f"[dim]stack of {client.run_dir}[/]")
    if not active:
        console.print("no active faults")
        return
    table = Table("name", "age", "left", "fault", box=None, pad_edge=False)
    for item in active:
        left = "until cleared" if item.remaining_s is None else duration(item.remaining_s)
        table.add_row(item.name, duration(item.age_s), left, escape(item.summary))
    console.print(table)
    for item in active:
        if item.error:
            errors.print(f"[bold red]not healed:[/] {item.name}: {escape(item.error)}")


@fault.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Heal every active fault.")
@_run_dir
def clear(names: tuple[str, ...], every: bool, run_dir: Path | None) -> None:
    """Heal the faults NAMES, or --all."""
    if bool(names) == every:
        raise click.UsageError("name the faults to heal, or give --all")
    with _harness_errors():
        client = connect(run_dir)
        results = client.clear_all() if every else []
    if every and not results:
        console.print("no active faults")
    failed = not all(map(_reported, results))
    for name in names:
        try:
            item = client.clear(name)
        except FaultRefusedError as exc:
            errors.print(f"[bold red]error:[/] {escape(str(exc))}")
            failed = True
        else:
            failed |= not _reported(item)
    if failed:
        sys.exit(EXIT_HARNESS_ERROR)


def _reported(item: ActiveFault) -> bool:
    """Print what became of a fault to clear; whether it is healed."""
    if item.error:
        errors.print(f"[bold red]not healed:[/] {item.name}: {escape(item.error)}")
        return False
    console.print(f"healed {item.name} after {duration(item.age_s)}: {escape(item.summary)}")
    return True


def duration(seconds: float) -> str:
    """``0.5 s`` (tenths below ``TENTHS_BELOW_S``), ``42 s``, ``3 min 05 s``."""
    if round(seconds, 1) < TENTHS_BELOW_S:  # 9.96 s is 10 s, not 10.0 s
        return f"{seconds:.1f} s"
    minutes, whole = divmod(round(seconds), 60)
    return f"{minutes} min {whole:02d} s" if minutes else f"{whole} s"
