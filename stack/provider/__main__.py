"""Run the provider: ``python -m stack.provider --host 127.0.0.1 --port 0 [--config FILE]``.

Prints one line, ``provider listening on http://HOST:PORT``, to stdout once
it accepts connections; logs go to stderr. A bad config exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import socket
import sys
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from stack.provider.app import create_app
from stack.provider.config import ProviderConfig


BAD_CONFIG = 2
SHUTDOWN_TIMEOUT_S = 5.0
EPILOG = """\
Once it accepts connections it prints one line to stdout:
  provider listening on http://HOST:PORT
API: POST /v1/chat/completions, POST /v1/embeddings, GET /v1/models[/ID], GET /healthz
Control: GET|PUT /_control/config, GET|PUT|DELETE /_control/faults,
         GET /_control/stats, POST /_control/reset
"""


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load the config and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m stack.provider",
        description="Simulated OpenAI-compatible LLM provider (chat, embeddings, models) "
        "with a latency model, rate limits and a fault-injection control API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="port to bind; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="JSON file with a ProviderConfig (models, key_limits, seed, max_body_bytes); "
        "defaults to the built-in models",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    config = _load_config(parser, args.config)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        sock = _bind(args.host, args.port)
    except OSError as err:
        parser.exit(1, f"cannot listen on {args.host}:{args.port}: {err.strerror}\n")
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host

    def announce(*_args: object) -> None:
        sys.stdout.write(f"provider listening on http://{host}:{port}\n")
        sys.stdout.flush()

    web.run_app(
        create_app(config),
        sock=sock,
        print=announce,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        loop=_new_loop(),
    )


def _load_config(parser: argparse.ArgumentParser, path: Path | None) -> ProviderConfig:
    if path is None:
        return ProviderConfig()
    try:
        return ProviderConfig.model_validate_json(path.read_bytes())
    except OSError as err:
        parser.exit(BAD_CONFIG, f"cannot read config file {path}: {err.strerror}\n")
    except ValidationError as err:
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])) or '(file)'}: {e['msg']}"
            for e in err.errors(include_url=False)
        )
        parser.exit(BAD_CONFIG, f"invalid config file {path}:\n{problems}\n")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _new_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the default one."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


if __name__ == "__main__":
    main()
