"""Portkey's open-source gateway as a peer: npm ``@portkey-ai/gateway``, run with Node.

Portkey is configured per request: the ``x-portkey-config`` header, sent with every client
request, holds the routing (https://portkey.ai/docs/product/ai-gateway/configs). Ours routes
each model by the request's ``model`` (a conditional router) to a fallback chain of OpenAI
targets on the simulated provider (``custom_host``); every attempt is retried on 429 and 5xx and
cut after the request timeout; ``X-Tenant-Id`` is forwarded upstream (``forward_headers``). The
same JSON is written to ``portkey-config.json`` for the report.

What the npm build cannot do: cache (it leaves out the cache middleware, so a ``cache`` config
is accepted and ignored), honour ``Retry-After`` (``use_retry_after_header`` needs Portkey's
patch of ``async-retry``, which the package does not ship, and fails with a ``TypeError``; its
retries wait 1 s, then 2 s), break circuits (a feature of Portkey's hosted control plane), or
authenticate clients and limit tenants. It is one Node process, so it runs with one worker.
Its server binds every interface; a small preload module (``LOOPBACK_MODULE``, loaded with
``node --import``) makes every server of the process bind the loopback address only, whichever
form of ``listen`` it calls, like every other service of the stack.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stack import links
from stack.errors import StackStartError
from stack.gateway_command import ClientAuth, GatewayCommand

from .install import npm_install
from .served import (
    PROVIDER_API_KEY,
    RETRIES,
    RETRY_STATUSES,
    UPSTREAM_TIMEOUT_S,
    ServedModel,
    fallback_chains,
)


NAME = "portkey"
VERSION = "1.15.2"
PACKAGE = f"@portkey-ai/gateway@{VERSION}"
LOCKED_DEPENDENCIES = (
    "@aws-crypto/sha256-js@5.2.0", "@cfworker/json-schema@4.0.3", "@hono/node-server@1.13.5",
    "@hono/node-ws@1.2.0", "@portkey-ai/mustache@2.1.3", "@smithy/signature-v4@2.1.1",
    "@types/mustache@4.2.5", "async-retry@1.3.3", "avsc@5.7.7", "ioredis@5.8.0", "hono@4.9.7",
    "jose@6.0.11", "patch-package@8.0.1", "ws@8.18.3", "zod@3.25.76",
)  # fmt: skip
"""The gateway's dependencies at the versions its own lockfile pins for this release (as its
Docker image installs them): its package asks for ranges, and the newest ``@hono/node-server``
in them breaks responses (``TypeError: immutable``, Portkey-AI/gateway#1389)."""
LINKS = frozenset({links.PROVIDER})
"""The links the gateway reaches its upstreams through: the provider only (the npm build keeps
no state in Redis)."""
CONFIG_FILE = "portkey-config.json"
CONFIG_HEADER = "x-portkey-config"
LOOPBACK_FILE = "portkey-loopback.mjs"
FALLBACK_STATUSES = (408, *RETRY_STATUSES)
"""A timed-out attempt (408 from the gateway) falls back as well; other 4xx are the answer."""
MIN_NODE = (20, 6)
"""``node --import`` (the loopback preload) needs Node 20.6."""
LOOPBACK_MODULE = """\
// Makes every TCP server of this process listen on the loopback address only. A missing host, a
// host of every interface ("0.0.0.0", "::", "") or any other address becomes 127.0.0.1; a loopback
// host (127.x, ::1, localhost) is kept. Each form of server.listen() is covered, as Node reads it:
// (port[, host][, backlog][, callback]) with the port a number or a numeric string, (callback) and
// () for a random port, and ({port, host, ...}[, callback]). A pipe path or a handle is left alone.
import net from "node:net";

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

const isLoopback = (host) =>
  typeof host === "string" && (host === "localhost" || host === "::1" || host.startsWith("127."));
const loopback = (host) => (isLoopback(host) ? host : LOOPBACK);
const toNumber = (value) => ((value = Number(value)) >= 0 ? value : false);
const isPipe = (value) => typeof value === "string" && toNumber(value) === false;

net.Server.prototype.listen = function (...args) {
  const callback = typeof args.at(-1) === "function" ? [args.pop()] : [];
  const [first, second, third] = args;
  if (first !== null && typeof first === "object") {
    const tcp = ["path", "handle", "_handle", "fd"].every((key) => first[key] === undefined);
    if (!tcp) return listen.call(this, first, ...callback);
    return listen.call(this, { ...first, host: loopback(first.host) }, ...callback);
  }
  if (isPipe(first)) return listen.call(this, ...args, ...callback);
  const host = typeof second === "string" ? second : undefined;
  const options = { port: first ?? 0, host: loopback(host) };
  const backlog = toNumber(second) || toNumber(third);
  if (backlog) options.backlog = backlog;
  return listen.call(this, options, ...callback);
};
"""


def config(models: Sequence[ServedModel]) -> dict[str, Any]:
    """The gateway config for ``models``, with the stack's placeholder for the provider."""
    chains = fallback_chains(models)
    return {
        "strategy": {
            "mode": "conditional",
            "conditions": [
                {"query": {"params.model": {"$eq": name}}, "then": name} for name in chains
            ],
        },
        "targets": [_chain(name, chain) for name, chain in chains.items()],
        "retry": {"attempts": RETRIES, "on_status_codes": list(RETRY_STATUSES)},
        "request_timeout": UPSTREAM_TIMEOUT_S * 1000,
        "forward_headers": ["x-tenant-id"],
    }


def _chain(name: str, chain: Sequence[str]) -> dict[str, Any]:
    """The target a model is routed to: the provider, or a fallback chain of it."""
    if len(chain) == 1:
        return {"name": name, **_provider(name)}
    return {
        "name": name,
        "strategy": {"mode": "fallback", "on_status_codes": list(FALLBACK_STATUSES)},
        "targets": [_provider(model) for model in chain],
    }


def _provider(model: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "custom_host": "{provider_url}/v1",
        "api_key": PROVIDER_API_KEY,
        "override_params": {"model": model},
    }


def command(
    models: Sequence[ServedModel],
    *,
    cache_dir: Path,
    on_progress: Callable[[str], None],
    workers: int = 1,
) -> GatewayCommand:
    """Install the gateway once, then say how to start it (one Node process)."""
    if workers != 1:
        raise ValueError(f"Portkey's gateway runs as one Node process; it cannot use {workers}")
    document = config(models)
    node = _node()
    prefix = npm_install(
        cache_dir,
        service=NAME,
        packages=(PACKAGE, *LOCKED_DEPENDENCIES),
        version=VERSION,
        on_progress=on_progress,
    )
    server = prefix / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    argv = (
        node, "--import", f"{{run_dir}}/{LOOPBACK_FILE}", str(server),
        "--port={port}", "--headless",
    )  # fmt: skip
    return GatewayCommand(
        name=NAME,
        argv=argv,
        env={"NODE_ENV": "production"},
        ready_path="/",
        start_timeout_s=60.0,
        files={
            CONFIG_FILE: json.dumps(document, indent=2) + "\n",
            LOOPBACK_FILE: LOOPBACK_MODULE,
        },
        headers={CONFIG_HEADER: json.dumps(document, separators=(",", ":"))},
        auth=ClientAuth(mode="none"),
        version=f"Portkey Gateway {VERSION}",
    )


def _node() -> str:
    """The ``node`` on PATH, if it is recent enough."""
    node = shutil.which("node")
    fix = "install Node.js 20.6 or later (Debian: apt-get install nodejs npm)"
    if node is None:
        raise StackStartError(NAME, "node is not on PATH", fix)
    done = subprocess.run(  # noqa: S603 - the node on PATH, asked for its version
        [node, "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    found = re.match(r"v(\d+)\.(\d+)", done.stdout.strip())
    if found is None or (int(found[1]), int(found[2])) < MIN_NODE:
        version = done.stdout.strip() or "unknown"
        raise StackStartError(NAME, f"node {version} is older than 20.6", fix)
    return node
