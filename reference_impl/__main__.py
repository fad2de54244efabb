"""``python -m reference_impl`` (also ``meltproof gateway``): run the gateway."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import PATTERNS, ConfigError, load_config
from .serve import serve_worker, serve_workers


def parser(prog: str = "python -m reference_impl") -> argparse.ArgumentParser:
    """The command line; every option can also come from the config file."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Run meltproof's reference gateway. Settings come from --config (YAML or JSON; "
            "MELTPROOF_GATEWAY_CONFIG), then MELTPROOF_GATEWAY_<FIELD> variables, then options."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument(
        "--config", type=Path, help="gateway config file (tenants, models, patterns)"
    )
    parser.add_argument("--provider-url", help="base URL of the OpenAI-compatible provider")
    parser.add_argument("--provider-api-key", help="key sent upstream")
    parser.add_argument("--redis-url", help="shared state (cache, coalescing, caps, budgets)")
    parser.add_argument(
        "--database-url", help="PostgreSQL with pgvector: the copilot's data (/v1/copilot/...)"
    )
    parser.add_argument(
        "--profile", choices=("naive", "hardened"), help="pattern defaults (default: hardened)"
    )
    parser.add_argument(
        "--enable", action="append", default=[], choices=PATTERNS, metavar="PATTERN",
        help=f"switch a pattern on (repeatable): {', '.join(PATTERNS)}",
    )  # fmt: skip
    parser.add_argument(
        "--disable", action="append", default=[], choices=PATTERNS, metavar="PATTERN",
        help="switch a pattern off (repeatable)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, help="worker processes sharing the port (default 1)")
    parser.add_argument(
        "--upstream-timeout-s", type=float, help="longest single upstream call (default 30)"
    )
    parser.add_argument(
        "--shutdown-timeout-s", type=float, default=10.0,
        help="how long in-flight requests may take to finish at shutdown (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (costly under load)"
    )
    return parser


def main(argv: list[str] | None = None, *, prog: str = "python -m reference_impl") -> int:
    """Parse the command line, validate the configuration, serve until SIGINT/SIGTERM."""
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
