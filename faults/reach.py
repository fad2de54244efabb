"""Which of the gateway's links a fault perturbs, as the gateway sees it.

A link fault acts on its link; a process fault on the service behind the link of the same name
(``redis``, ``postgres``); a provider fault on what the gateway receives over the provider link.
A gateway that does not use a link cannot feel a fault on it.
"""

from __future__ import annotations

from stack import links

from .link.link_down import LinkDownFault
from .link.toxic import ToxicFault
from .model import FaultModel
from .process.base import ProcessFault
from .provider.base import ProviderFault


def link_of(fault: FaultModel) -> str:
    """The link ``fault`` perturbs."""
    if isinstance(fault, ToxicFault | LinkDownFault):
        return fault.link
    if isinstance(fault, ProcessFault):
        return fault.service
    if isinstance(fault, ProviderFault):
        return links.PROVIDER
    raise TypeError(f"fault kind {fault.kind!r} names no link")
