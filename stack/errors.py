"""Errors raised while bringing the stack up or talking to its services.

StackError
├── StackStartError          a service could not start: names the service, the cause, the fix
└── ControlApiError          a control API refused a request (``status``) or was unreachable (None)
    ├── ToxiproxyError       ... the Toxiproxy API
    └── ProviderControlError ... the simulated provider's control API
"""

from __future__ import annotations


class StackError(Exception):
    """Base class of every error the stack raises."""


class StackStartError(StackError):
    """A service of the stack could not be started or reached."""

    def __init__(self, service: str, cause: str, fix: str) -> None:
        self.service = service
        self.cause = cause
        self.fix = fix
        super().__init__(f"{service}: {cause}\n  fix: {fix}")


class PortTakenError(StackStartError):
    """A service could not bind its port: another process took it after it was chosen."""


class ControlApiError(StackError):
    """A control API answered with an error status, or not at all (``status`` None)."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


class ToxiproxyError(ControlApiError):
    """The Toxiproxy API answered with an error, or not at all."""


class ProviderControlError(ControlApiError):
    """The simulated provider's control API answered with an error, or not at all."""
