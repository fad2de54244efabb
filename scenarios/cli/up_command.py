"""``meltproof up``: the whole stack on loopback until Ctrl-C, with faults on demand.

While it runs, ``meltproof fault`` injects and heals faults on it through its fault control
(``scenarios.fault_control``); every fault still active is healed before the stack stops.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from faults import FaultContext
from stack import Ports, Stack, StackConfig, StackStartError, start_stack
from stack.backend import BACKENDS, DEFAULT, ENV_VAR, Backend

from ..active_faults import ActiveFaults
from ..console import EXIT_HARNESS_ERROR
from ..console import console as _console
from ..console import errors as _errors
from ..fault_control import FaultControl
from ..interrupts import interrupt_on_signals
from .run_command import default_runs_dir


_port = click.IntRange(1, 65535)


@click.command()
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
@click.option(
    "--no-gateway",
    is_flag=True,
    help="Start no gateway: point your own at the links this prints, and run scenarios "
    "against it with a url target naming this run dir.",
)
@click.option(
    "--traces",
    is_flag=True,
    help="Also start Jaeger (OTLP/HTTP in, traces API out; built once with Go, minutes the "
    "first time) and have the gateway send its spans there.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    envvar=ENV_VAR,
    default=DEFAULT,
    show_default=True,
    show_envvar=True,
    help="Where PostgreSQL, Redis and Toxiproxy run: processes of meltproof's own (embedded), "
    "or containers of the upstream images (containers: needs a Docker engine, no Go).",
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
    no_gateway: bool,
    traces: bool,
    backend: Backend,
) -> None:
    """Start the whole stack on loopback and keep it up until Ctrl-C.

    PostgreSQL with pgvector, Redis, Toxiproxy, the simulated LLM provider and the gateway
    start on ephemeral loopback ports; the gateway reaches each dependency through its own
    Toxiproxy proxy (named postgres, redis and provider). With --no-gateway, your own
    gateway takes its place: point it at the links printed. With --traces, Jaeger receives
    the gateway's spans (OTLP/HTTP) and answers /api/v3/traces/{trace_id}. With --backend
    containers, PostgreSQL, Redis and Toxiproxy run in containers (ports published on
    127.0.0.1 only). DATABASE_URL, REDIS_URL and TOXIPROXY_URL use existing servers instead.
    Meanwhile `meltproof fault` injects and heals faults on it; those still active are healed
    before the stack stops.
    """
    interrupt_on_signals()
    config = StackConfig.from_env(
        (run_dir or default_runs_dir()).resolve(),
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
        start_gateway=not no_gateway,
        traces=traces,
        backend=backend,
    )
    started = time.monotonic()
    stack: Stack | None = None
    control: FaultControl | None = None
    try:
        with _console.status("starting the stack") as status:
            stack = start_stack(config, progress=status.update)
        faults = ActiveFaults(FaultContext.of_stack(stack), on_event=_print_fault_event)
        control = FaultControl(faults, stack.run_dir)
        _print_ready(stack, time.monotonic() - started, control.url)
        while True:
            signal.pause()
    except StackStartError as exc:
        _errors.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(EXIT_HARNESS_ERROR)
    except KeyboardInterrupt:
        _console.print("stopping…" if stack else "interrupted; what had started is stopped")
    finally:
        if control is not None:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C skips the heals only
                control.close()
        if stack is not None:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C is no error
                stack.stop()
    _console.print("stopped; no process of the stack is left")


def _print_ready(stack: Stack, elapsed_s: float, fault_control: str) -> None:
    """Sources and versions, one line per endpoint, the run directory, then ``ready``."""
    for info in stack.services.values():
        _console.print(f"[dim]{info.name:<10} {info.version} — {info.source}[/]")
    for label, url in stack.endpoints.labelled():
        _console.print(f"{label:<20} {url}")
    _console.print(f"{'run dir':<20} {stack.run_dir}")
    if stack.endpoints.gateway is None:
        _print_wiring(stack)
    for tenant, key in list(stack.api_keys.items())[:1]:
        _console.print(f"{'api key (' + tenant + ')':<20} {key}")
        _console.print(
            f"[dim]all tenants' keys: {stack.gateway_config}; "
            f"meltproof load reads MELTPROOF_API_KEY_{tenant.upper()}[/]"
        )
    _console.print(f"{'fault control':<20} {fault_control} [dim](meltproof fault --help)[/]")
    _console.print(f"[bold green]ready[/] in {elapsed_s:.1f} s — press Ctrl-C to stop the stack")


def _print_wiring(stack: Stack) -> None:
    """What to give a gateway of one's own, and the target that runs scenarios against it."""
    endpoints = stack.endpoints
    _console.print("no gateway: give yours these upstreams, each through its link:")
    for label, url in (
        ("OpenAI base URL", f"{endpoints.provider_proxied}/v1"),
        ("redis", endpoints.redis_proxied),
        ("postgres", endpoints.postgres_proxied),
    ):
        _console.print(f"  {label:<18} {url}")
    _console.print(
        "  any API key works; forward X-Tenant-Id upstream for per-tenant ground truth\n"
        "then, in a scenario (the links it uses in 'uses'):\n"
        f"  target: {{url: http://127.0.0.1:PORT, stack: {stack.run_dir}, "
        "uses: [provider, redis]}",
        markup=False,
    )


def _print_fault_event(message: str) -> None:
    """A fault injected or healed, at the local time of day, to find it on dashboards."""
    _console.print(f"[dim]{datetime.now(UTC).astimezone():%H:%M:%S}[/] {escape(message)}")
