"""Domain errors, raised by services and translated once at each boundary (gRPC status, HTTP problem)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a caller can act on; the message says what to fix."""


class InvalidArgument(DomainError):
    """The caller sent something malformed. `field` names the offending field when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """The thing asked for does not exist (for this tenant)."""


class AlreadyExists(DomainError):
    """The thing to create exists already."""


class FailedPrecondition(DomainError):
    """The system is not in a state that allows the operation."""


class Unavailable(DomainError):
    """A dependency (database, broker) is down or overloaded: retry later."""
