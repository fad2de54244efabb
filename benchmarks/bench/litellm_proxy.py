"""The LiteLLM proxy as a benchmark target: installed once in a venv of its own, run on loopback.

``ensure_litellm`` installs ``REQUIREMENT`` with pip into ``<cache>/litellm-<version>``
(created with ``python -m venv``) and marks the venv done, so later runs reuse it; a failed
install raises ``LiteLLMInstallError`` with pip's last lines. The version is pinned exactly:
releases 1.82.7 and 1.82.8 on PyPI were malicious, so the benchmark never takes "the latest".

``LiteLLMProxy`` runs ``litellm --config F --host 127.0.0.1 --port P --num_workers 1`` with
a generated config (``proxy_config``: one model routed to an OpenAI-compatible provider), an
environment of its own (nothing of ours leaks into it), telemetry off, request and access
logs off, no docs or admin UI, the bundled model cost map instead of a download, and no
database. It is ready when ``GET /health/liveliness`` answers 200.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from stack.ports import LOOPBACK
from stack.process import ManagedProcess
from stack.service import ServiceInfo


VERSION = "1.82.6"
REQUIREMENT = f"litellm[proxy]=={VERSION}"
INSTALLED_MARKER = ".meltproof-installed"
INSTALL_TIMEOUT_S = 1800.0
HEALTH_PATH = "/health/liveliness"
SETTINGS_ENV = {
    "LITELLM_MODE": "PRODUCTION",  # no .env loading, no dev banners
    "LITELLM_LOG": "ERROR",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download at start-up
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
"""Environment of the proxy, on top of ``PATH``, ``HOME`` and ``LANG``."""


class LiteLLMInstallError(RuntimeError):
    """LiteLLM could not be installed; the message says why."""


@dataclass(frozen=True)
class LiteLLMInstall:
    """A venv with the pinned LiteLLM proxy in it."""

    venv: Path
    version: str = VERSION

    @property
    def executable(self) -> Path:
        """The ``litellm`` command of the venv."""
        return self.venv / "bin" / "litellm"


def ensure_litellm(
    cache_dir: Path,
    *,
    on_progress: Callable[[str], None],
    timeout_s: float = INSTALL_TIMEOUT_S,
) -> LiteLLMInstall:
    """The installed LiteLLM in ``cache_dir``, installing it first if it is not there yet."""
    install = LiteLLMInstall(cache_dir / f"litellm-{VERSION}")
    marker = install.venv / INSTALLED_MARKER
    if marker.is_file() and marker.read_text() == REQUIREMENT and install.executable.is_file():
        return install
    on_progress(f"installing {REQUIREMENT} into {install.venv} (once; this takes a while)")
    python = install.venv / "bin" / "python"
    for step in (
        [sys.executable, "-m", "venv", str(install.venv)],
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", REQUIREMENT],
    ):
        _run_install_step(step, timeout_s)
    marker.write_text(REQUIREMENT)
    on_progress(f"installed {REQUIREMENT}")
    return install


def _run_install_step(argv: list[str], timeout_s: float) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - our interpreter, the venv's pip, a pinned package
            argv, capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise LiteLLMInstallError(f"{' '.join(argv)} took longer than {timeout_s:g} s") from None
    except OSError as exc:
        raise LiteLLMInstallError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise LiteLLMInstallError(
            f"{' '.join(argv)} failed with exit code {done.returncode}:\n{tail}"
        )


def proxy_config(
    *, provider_url: str, provider_model: str, api_key: str, model_name: str = "gpt-4o-mini"
) -> dict[str, Any]:
    """A LiteLLM config that serves ``model_name`` from an OpenAI-compatible provider.

    No retries (a benchmark must not multiply its own load), no message or spend logging.
    """
    return {
        "model_list": [
            {
                "model_name": model_name,
                "litellm_params": {
                    "model": f"openai/{provider_model}",
                    "api_base": f"{provider_url.rstrip('/')}/v1",
                    "api_key": api_key,
                },
            }
        ],
        "litellm_settings": {
            "set_verbose": False,
            "json_logs": False,
            "turn_off_message_logging": True,
            "num_retries": 0,
            "request_timeout": 30,
        },
        "general_settings": {"disable_spend_logs": True, "disable_error_logs": True},
    }


QUIET_LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "uvicorn.access": {"level": "WARNING"},
        "uvicorn.error": {"level": "WARNING"},
    },
}
"""The uvicorn logging config of the proxy: no line per request."""


def _answers(url: str) -> bool:
    """True once ``GET url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return bool(response.status == HTTPStatus.OK)
    except (urllib.error.URLError, OSError):
        return False


class LiteLLMProxy:
    """One LiteLLM proxy process (one uvicorn worker) on a loopback port."""

    name = "litellm"

    def __init__(
        self, install: LiteLLMInstall, *, port: int, config: Path, work_dir: Path, log_dir: Path
    ) -> None:
        self.install = install
        self.url = f"http://{LOOPBACK}:{port}"
        log_config = work_dir / "litellm-logging.json"
        log_config.write_text(json.dumps(QUIET_LOGGING))
        self._process = ManagedProcess(
            self.name,
            [
                str(install.executable), "--config", str(config), "--host", LOOPBACK,
                "--port", str(port), "--num_workers", "1", "--telemetry", "False",
                "--log_config", str(log_config),
            ],
            log_path=log_dir / "litellm.log",
            env={
                "PATH": f"{install.venv / 'bin'}:/usr/bin:/bin",
                "HOME": str(work_dir),
                "LANG": "C.UTF-8",
                **SETTINGS_ENV,
            },
        )  # fmt: skip

    def launch(self) -> None:
        """Start the proxy."""
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the proxy's liveness endpoint answers."""
        self._process.wait_ready(lambda: _answers(f"{self.url}{HEALTH_PATH}"), deadline)
        source = f"{REQUIREMENT} in {self.install.venv}"
        return ServiceInfo(self.name, self.url, source, f"LiteLLM {VERSION}", self._process.pid)

    def stop(self) -> None:
        """Stop the proxy."""
        self._process.stop()
