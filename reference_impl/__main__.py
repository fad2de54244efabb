"""``python -m reference_impl``: run the gateway."""

from __future__ import annotations

import argparse
import logging
import sys

import pydantic
from aiohttp import web

from .app import create_app
from .config import GatewayConfig


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, validate the configuration, serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m reference_impl", description="Run meltproof's reference gateway."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--provider-url", required=True, help="base URL of the provider")
    parser.add_argument("--provider-api-key", default="sk-meltproof", help="key sent upstream")
    parser.add_argument(
        "--upstream-timeout-s", type=float, default=30.0, help="whole-call upstream timeout"
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (costly under load)"
    )
    args = parser.parse_args(argv)
    try:
        config = GatewayConfig(
            provider_url=args.provider_url,
            provider_api_key=args.provider_api_key,
            upstream_timeout_s=args.upstream_timeout_s,
        )
    except pydantic.ValidationError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    access_log = logging.getLogger("aiohttp.access") if args.access_log else None
    web.run_app(
        create_app(config), host=args.host, port=args.port, print=None, access_log=access_log
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
