"""The ``meltproof`` command line."""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from stack import Ports, Stack, StackConfig, StackStartError, start_stack

from .calibrate_command import calibrate_command
from .compare_command import ab_command, capacity_command, compare_command
from .console import EXIT_HARNESS_ERROR
from .console import console as _console
from .console import errors as _errors
from .demo_command import demo
from .gate_command import gate_command
from .gateway_command import gateway
from .interrupts import interrupt_on_signals
from .load_command import load
from .run_command import check, run
from .scenario_command import scenario
from .worker_command import worker


def _default_run_dir() -> Path:
    """``.meltproof/runs/<UTC time>`` below the current directory."""
    return Path(".meltproof") / "runs" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="meltproof")
def main() -> None:
    """meltproof: prove that an AI gateway holds up under real load and real faults."""


_port = click.IntRange(1, 65535)


@main.command()
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where logs and stack.json go.  [default: .meltproof/runs/<UTC time>]",
)
@click.option(
    "--provider-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the simulated provider's models, latencies and rate limits.",
)
@click.option("--gateway-port", type=_port, help="Gateway port.  [default: ephemeral]")
@click.option("--provider-port", type=_port, help="Provider port.  [default: ephemeral]")
@click.option("--toxiproxy-port", type=_port, help="Toxiproxy API port.  [default: ephemeral]")
@click.option("--postgres-port", type=_port, help="PostgreSQL port.  [default: ephemeral]")
@click.option("--redis-port", type=_port, help="Redis port.  [default: ephemeral]")
@click.option(
    "--profile",
    type=click.Choice(["naive", "hardened"]),
    default="hardened",
    show_default=True,
    help="The gateway's profile: every stabilisation pattern off (naive) or on.",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
    help="Gateway worker processes.",
)  # fmt: skip
@click.option(
    "--gateway-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Gateway config file (tenants, models, patterns).  [default: three demo tenants]",
)
def up(
    run_dir: Path | None,
    provider_config: Path | None,
    gateway_port: int | None,
    provider_port: int | None,
    toxiproxy_port: int | None,
    postgres_port: int | None,
    redis_port: int | None,
    profile: str,
    workers: int,
    gateway_config: Path | None,
) -> None:
    """Start the whole stack on loopback and keep it up until Ctrl-C.

    PostgreSQL with pgvector, Redis, Toxiproxy, the simulated LLM provider and the gateway
    start on ephemeral loopback ports; the gateway reaches each dependency through its own
    Toxiproxy proxy (named postgres, redis and provider). DATABASE_URL, REDIS_URL and
    TOXIPROXY_URL use existing servers instead.
    """
    interrupt_on_signals()
    config = StackConfig.from_env(
        (run_dir or _default_run_dir()).resolve(),
        provider_config=provider_config,
        ports=Ports(
            postgres=postgres_port,
            redis=redis_port,
            toxiproxy=toxiproxy_port,
            provider=provider_port,
            gateway=gateway_port,
        ),
        gateway_profile=profile,
        gateway_workers=workers,
        gateway_config=gateway_config,
    )
    started = time.monotonic()
    stack: Stack | None = None
    try:
        with _console.status("starting the stack") as status:
            stack = start_stack(config, progress=status.update)
        _print_ready(stack, time.monotonic() - started)
        while True:
            signal.pause()
    except StackStartError as exc:
        _errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    except KeyboardInterrupt:
        _console.print("stopping…" if stack else "interrupted; what had started is stopped")
    finally:
        if stack is not None:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C is no error
                stack.stop()
    _console.print("stopped; no process of the stack is left")


def _print_ready(stack: Stack, elapsed_s: float) -> None:
    """Sources and versions, one line per endpoint, the run directory, then ``ready``."""
    for info in stack.services.values():
        _console.print(f"[dim]{info.name:<10} {info.version} — {info.source}[/]")
    for label, url in stack.endpoints.labelled():
        _console.print(f"{label:<20} {url}")
    _console.print(f"{'run dir':<20} {stack.run_dir}")
    for tenant, key in list(stack.api_keys.items())[:1]:
        _console.print(f"{'api key (' + tenant + ')':<20} {key}")
        _console.print(
            f"[dim]all tenants' keys: {stack.gateway_config}; "
            f"meltproof load reads MELTPROOF_API_KEY_{tenant.upper()}[/]"
        )
    _console.print(f"[bold green]ready[/] in {elapsed_s:.1f} s — press Ctrl-C to stop the stack")


main.add_command(load)
main.add_command(run)
main.add_command(check)
main.add_command(demo)
main.add_command(compare_command)
main.add_command(ab_command)
main.add_command(capacity_command)
main.add_command(gate_command)
main.add_command(calibrate_command)
main.add_command(scenario)
main.add_command(gateway)
main.add_command(worker)
