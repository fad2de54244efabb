"""The gateway's command line: ``python -m reference_impl`` and ``meltproof gateway``.

Settings come from ``--config`` (YAML or JSON; ``MELTPROOF_GATEWAY_CONFIG``), then
``MELTPROOF_GATEWAY_<FIELD>`` variables, then the options here.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click

from .config import PATTERNS, ConfigError, GatewayConfig, load_config


DESCRIPTION = (
    "Run meltproof's reference gateway. Settings come from --config (YAML or JSON; "
    "MELTPROOF_GATEWAY_CONFIG), then MELTPROOF_GATEWAY_<FIELD> variables, then options."
)
_FROM_CONFIG = "  [default: the config's, else {}]"


@click.command("gateway", help=DESCRIPTION)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Gateway config file (tenants, models, patterns).",
)
@click.option("--provider-url", help="Base URL of the OpenAI-compatible provider.")
@click.option("--provider-api-key", help="Key sent upstream.")
@click.option("--redis-url", help="Shared state (cache, coalescing, caps, budgets).")
@click.option(
    "--database-url", help="PostgreSQL with pgvector: the copilot's data (/v1/copilot/...)."
)
@click.option(
    "--profile",
    type=click.Choice(("naive", "hardened")),
    help="The patterns' defaults: every one off (naive) or on." + _FROM_CONFIG.format("hardened"),
)
@click.option(
    "--enable",
    type=click.Choice(PATTERNS),
    multiple=True,
    metavar="PATTERN",
    help=f"Switch a pattern on (repeatable): {', '.join(PATTERNS)}.",
)
@click.option(
    "--disable",
    type=click.Choice(PATTERNS),
    multiple=True,
    metavar="PATTERN",
    help="Switch a pattern off (repeatable).",
)
@click.option(
    "--workers", type=int, help="Worker processes sharing the port." + _FROM_CONFIG.format(1)
)
@click.option(
    "--upstream-timeout-s",
    type=float,
    help="Longest single upstream call, in seconds." + _FROM_CONFIG.format(30),
)
@click.option(
    "--shutdown-timeout-s",
    type=float,
    default=10.0,
    show_default=True,
    help="How long in-flight requests may take to finish at shutdown, in seconds.",
)
@click.option("--access-log", is_flag=True, help="Log every request (costly under load).")
def gateway(
    host: str,
    port: int,
    config_path: Path | None,
    provider_url: str | None,
    provider_api_key: str | None,
    redis_url: str | None,
    database_url: str | None,
    profile: str | None,
    enable: tuple[str, ...],
    disable: tuple[str, ...],
    workers: int | None,
    upstream_timeout_s: float | None,
    shutdown_timeout_s: float,
    access_log: bool,
) -> None:
    """Validate the configuration, then serve until SIGINT/SIGTERM."""
    from .serve import serve_worker, serve_workers  # noqa: PLC0415 - meltproof's help needs none

    overrides = {
        "provider_url": provider_url,
        "provider_api_key": provider_api_key,
        "redis_url": redis_url,
        "database_url": database_url,
        "profile": profile,
        "workers": workers,
        "upstream_timeout_s": upstream_timeout_s,
    }
    config = _load(config_path, overrides, enable, disable)
    if config.workers > 1 and port == 0:
        raise click.UsageError("--workers > 1 needs a fixed --port (they share it)")
    if config.workers == 1:
        serve_worker(
            config, host, port, shutdown_timeout_s=shutdown_timeout_s, access_log=access_log
        )
        return
    sys.exit(
        serve_workers(
            config, host, port, shutdown_timeout_s=shutdown_timeout_s, access_log=access_log
        )
    )


def _load(
    path: Path | None,
    overrides: Mapping[str, object],
    enable: tuple[str, ...],
    disable: tuple[str, ...],
) -> GatewayConfig:
    """The configuration; a refused one is a usage error naming what is wrong."""
    try:
        return load_config(path, overrides=overrides, enable=enable, disable=disable)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
