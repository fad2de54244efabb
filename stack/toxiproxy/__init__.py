"""Toxiproxy: the server binary, the server process, and a client of its API."""

from .binary import ToxiproxyBinary, find_toxiproxy
from .client import Proxy, Toxic, ToxiproxyClient
from .server import ExistingToxiproxy, ToxiproxyServer


__all__ = [
    "ExistingToxiproxy",
    "Proxy",
    "Toxic",
    "ToxiproxyBinary",
    "ToxiproxyClient",
    "ToxiproxyServer",
    "find_toxiproxy",
]
