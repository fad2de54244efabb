"""Jaeger v2 as the stack's traces receiver: OTLP/HTTP in, in memory, a query API out.

Its config (``jaeger.yaml`` in the run directory) keeps every listener on loopback: the OTLP
receiver (HTTP only), the query service (HTTP API and gRPC; the gRPC port is left to the
kernel, nothing here uses it) and the health check, which says when it is ready. Its own
telemetry is off: no metrics endpoint, and no traces of itself (its query service traces
itself by default, to OTLP/gRPC on localhost:4317, and waits 10 s for that at shutdown).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path
from typing import Any

import yaml

from ..ports import LOOPBACK
from ..process import ManagedProcess
from ..service import ServiceInfo
from .binary import SERVICE, JaegerBinary


STORE = "memstore"
MAX_TRACES = 100_000
"""The in-memory store keeps this many traces, dropping the oldest."""
HEALTH_PATH = "/status"


def jaeger_config(*, otlp_port: int, query_port: int, health_port: int) -> dict[str, Any]:
    """The collector pipeline: OTLP/HTTP receiver -> batch -> in-memory store, queried by
    ``jaeger_query``; every endpoint on loopback."""
    return {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query", "healthcheckv2"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {"metrics": {"level": "none"}, "traces": {"level": "none"}},
        },
        "extensions": {
            "healthcheckv2": {"use_v2": True, "http": {"endpoint": f"{LOOPBACK}:{health_port}"}},
            "jaeger_query": {
                "storage": {"traces": STORE},
                "enable_tracing": False,  # on by default: it would send its own spans
                "http": {"endpoint": f"{LOOPBACK}:{query_port}"},
                "grpc": {"endpoint": f"{LOOPBACK}:0"},
            },
            "jaeger_storage": {"backends": {STORE: {"memory": {"max_traces": MAX_TRACES}}}},
        },
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{LOOPBACK}:{otlp_port}"}}}},
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": STORE}},
    }


def _healthy(url: str) -> bool:
    """True once the health check answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status == HTTPStatus.OK)
    except (urllib.error.URLError, OSError):
        return False


class JaegerServer:
    """A Jaeger v2 process of our own, every listener on loopback."""

    name = SERVICE

    def __init__(
        self,
        binary: JaegerBinary,
        *,
        otlp_port: int,
        query_port: int,
        health_port: int,
        run_dir: Path,
        log_dir: Path,
    ) -> None:
        self._binary = binary
        self.otlp_url = f"http://{LOOPBACK}:{otlp_port}"
        """The OTLP/HTTP receiver's base URL (spans go to ``/v1/traces`` under it)."""
        self.url = f"http://{LOOPBACK}:{query_port}"
        """The query service: ``/api/v3/traces/{trace_id}``."""
        self._health_url = f"http://{LOOPBACK}:{health_port}{HEALTH_PATH}"
        self._config_path = run_dir / "jaeger.yaml"
        self._config = jaeger_config(
            otlp_port=otlp_port, query_port=query_port, health_port=health_port
        )
        self._process = ManagedProcess(
            self.name,
            [str(binary.path), "--config", str(self._config_path)],
            log_path=log_dir / "jaeger.log",
        )

    def launch(self) -> None:
        """Write the config and start the server."""
        self._config_path.write_text(yaml.safe_dump(self._config, sort_keys=False))
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the health check says every component started."""
        self._process.wait_ready(lambda: _healthy(self._health_url), deadline)
        return ServiceInfo(
            self.name, self.url, self._binary.source, self._binary.version, self._process.pid
        )

    def stop(self) -> None:
        """Stop the server; the traces it held go with it."""
        self._process.stop()
