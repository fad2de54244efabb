"""Errors raised while bringing the stack up or talking to its services.

StackError
├── StackStartError      a service could not start: names the service, the cause, the fix
└── ToxiproxyError       the Toxiproxy API refused a request or could not be reached
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


class ToxiproxyError(StackError):
    """The Toxiproxy API answered with an error, or not at all."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)


class ProviderControlError(StackError):
    """The simulated provider's control API answered with an error, or not at all."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        super().__init__(message)
