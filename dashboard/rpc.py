"""Calling the internal gRPC APIs from a view: one deadline, and a failed call turned into the domain
error the app's error pages already know (404, 400, 503), so no view catches grpc.RpcError itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from common.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unavailable

T = TypeVar("T")
DEADLINE_SECONDS = 10.0

_DOMAIN = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
}


def call(what: str, method: Callable[..., T], request: Any, timeout: float = DEADLINE_SECONDS) -> T:
    """`method(request)` with a deadline; NOT_FOUND, INVALID_ARGUMENT and FAILED_PRECONDITION keep the
    server's message (it says what to fix); anything else is Unavailable naming `what` (e.g. "the
    gateway's admin API"), never the server's details (they may name internals)."""
    try:
        return method(request, timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        error: type[DomainError] | None = _DOMAIN.get(code)
        if error is not None:
            raise error(exc.details() or code.name) from None
        raise Unavailable(f"{what} answered {code.name if code else 'an error'}") from None
