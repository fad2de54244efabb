"""``python -m reference_impl`` (also ``meltproof gateway``): run the gateway."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli_options import CliOption, add_options
from .config import PATTERNS, ConfigError, load_config


DESCRIPTION = (
    "Run meltproof's reference gateway. Settings come from --config (YAML or JSON; "
    "MELTPROOF_GATEWAY_CONFIG), then MELTPROOF_GATEWAY_<FIELD> variables, then options."
)
_FROM_CONFIG = "  [default: the config's, else {}]"
OPTIONS = (
    CliOption("--host", "Address to listen on.", default="127.0.0.1"),
    CliOption("--port", "Port to listen on.", type=int, default=8080),
    CliOption("--config", "Gateway config file (tenants, models, patterns).", type=Path),
    CliOption("--provider-url", "Base URL of the OpenAI-compatible provider."),
    CliOption("--provider-api-key", "Key sent upstream."),
    CliOption("--redis-url", "Shared state (cache, coalescing, caps, budgets)."),
    CliOption("--database-url", "PostgreSQL with pgvector: the copilot's data (/v1/copilot/...)."),
    CliOption(
        "--profile",
        "The patterns' defaults: every one off (naive) or on." + _FROM_CONFIG.format("hardened"),
        choices=("naive", "hardened"),
    ),
    CliOption(
        "--enable",
        f"Switch a pattern on (repeatable): {', '.join(PATTERNS)}.",
        choices=PATTERNS,
        repeatable=True,
        metavar="PATTERN",
    ),
    CliOption(
        "--disable",
        "Switch a pattern off (repeatable).",
        choices=PATTERNS,
        repeatable=True,
        metavar="PATTERN",
    ),
    CliOption("--workers", "Worker processes sharing the port." + _FROM_CONFIG.format(1), type=int),
    CliOption(
        "--upstream-timeout-s",
        "Longest single upstream call, in seconds." + _FROM_CONFIG.format(30),
        type=float,
    ),
    CliOption(
        "--shutdown-timeout-s",
        "How long in-flight requests may take to finish at shutdown, in seconds.",
        type=float,
        default=10.0,
    ),
    CliOption("--access-log", "Log every request (costly under load).", switch=True),
)
"""Every option; each one can also come from the config file."""


def parser(prog: str = "python -m reference_impl") -> argparse.ArgumentParser:
    """The command line (``OPTIONS``)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_options(parser, OPTIONS)
    return parser


def main(argv: list[str] | None = None, *, prog: str = "python -m reference_impl") -> int:
    """Parse the command line, validate the configuration, serve until SIGINT/SIGTERM."""
    from .serve import serve_worker, serve_workers  # noqa: PLC0415 - meltproof's help needs none

    args = parser(prog).parse_args(argv)
    overrides = {
        "provider_url": args.provider_url,
        "provider_api_key": args.provider_api_key,
        "redis_url": args.redis_url,
        "database_url": args.database_url,
        "profile": args.profile,
        "workers": args.workers,
        "upstream_timeout_s": args.upstream_timeout_s,
    }
    try:
        config = load_config(
            args.config, overrides=overrides, enable=tuple(args.enable), disable=tuple(args.disable)
        )
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if config.workers > 1 and args.port == 0:
        sys.stderr.write("error: --workers > 1 needs a fixed --port (they share it)\n")
        return 2
    options = {"shutdown_timeout_s": args.shutdown_timeout_s, "access_log": args.access_log}
    if config.workers == 1:
        serve_worker(config, args.host, args.port, **options)
        return 0
    return serve_workers(config, args.host, args.port, **options)


if __name__ == "__main__":
    sys.exit(main())
