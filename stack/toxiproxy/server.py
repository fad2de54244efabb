"""The Toxiproxy server: our own process on a loopback port, or an existing one."""

from __future__ import annotations

from pathlib import Path

from ..errors import StackStartError, ToxiproxyError
from ..ports import LOOPBACK
from ..process import ManagedProcess
from ..service import ServiceInfo
from .binary import SERVICE, ToxiproxyBinary
from .client import ToxiproxyClient


def api_answers(client: ToxiproxyClient) -> bool:
    """True once the API answers."""
    try:
        client.version()
    except ToxiproxyError:
        return False
    return True


class ToxiproxyServer:
    """A Toxiproxy server process of our own; its API listens on loopback."""

    name = SERVICE

    def __init__(self, binary: ToxiproxyBinary, *, port: int, log_dir: Path) -> None:
        self._binary = binary
        self.url = f"http://{LOOPBACK}:{port}"
        self.client = ToxiproxyClient(self.url)
        self._process = ManagedProcess(
            self.name,
            [str(binary.path), "-host", LOOPBACK, "-port", str(port)],
            log_path=log_dir / "toxiproxy.log",
        )

    def launch(self) -> None:
        """Start the server."""
        self._process.spawn()

    def wait_ready(self, deadline: float) -> ServiceInfo:
        """Wait until the API answers."""
        self._process.wait_ready(lambda: api_answers(self.client), deadline)
        version = self._binary.version
        if version == "unknown":
            version = self.client.version()
        return ServiceInfo(self.name, self.url, self._binary.source, version, self._process.pid)

    def stop(self) -> None:
        """Stop the server; its proxies go with it."""
        self._process.stop()


class ExistingToxiproxy:
    """A Toxiproxy the user already runs on this machine, named by ``TOXIPROXY_URL``.

    Its proxies named like ours are replaced at start and deleted at stop; others are left alone.
    """

    name = SERVICE

    def __init__(self, url: str, proxy_names: tuple[str, ...]) -> None:
        self.url = url.rstrip("/")
        self.client = ToxiproxyClient(self.url)
        self._proxy_names = proxy_names

    def launch(self) -> None:
        """Nothing to start."""

    def wait_ready(self, deadline: float) -> ServiceInfo:  # noqa: ARG002 - it runs already
        """Check that the API answers, and clear proxies left over under our names."""
        try:
            version = self.client.version()
            for name in self.client.proxies().keys() & set(self._proxy_names):
                self.client.delete_proxy(name)
        except ToxiproxyError as exc:
            raise StackStartError(
                self.name,
                f"the Toxiproxy at TOXIPROXY_URL cannot be used: {exc}",
                "check TOXIPROXY_URL, or unset it to start a server of our own",
            ) from exc
        return ServiceInfo(self.name, self.url, "existing server (TOXIPROXY_URL)", version)

    def stop(self) -> None:
        """Delete our proxies; the server is not ours."""
        for name in self._proxy_names:
            try:
                self.client.delete_proxy(name)
            except ToxiproxyError:
                continue
