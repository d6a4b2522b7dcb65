"""gRPC access for commands: where each service is, one channel per service, deadlines, error translation.

A command never touches a channel or catches ``grpc.RpcError`` itself: it calls ``Context.call`` (or
``Context.paginate``), which applies the ``--timeout`` deadline and turns a failed call into a
``CliError`` whose one-line message names the status code, the server's details and, when the service
cannot be reached, the address tried and the variable or option that sets it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from autentikapp.v1 import customer_pb2_grpc, identifier_pb2_grpc
from cli.errors import EXIT_FAILURE, EXIT_NOT_FOUND, CliError
from cli.local_stack import LocalStack
from common import grpc_tls
from common.config import CUSTOMER_SERVICE_DEFAULT_PORT, IDENTIFIER_SERVICE_DEFAULT_PORT, grpc_address


@dataclass(frozen=True)
class Endpoint:
    """A gRPC service the CLI talks to, and how its address is chosen (option, else env var, else default)."""

    name: str  # for messages: "customer service"
    env_var: str  # CUSTOMER_SERVICE_ADDR, the same variable the other processes read
    default_port: int
    option: str  # global command-line override, e.g. --customer-service
    stub_class: Callable[[grpc.Channel], Any]

    @property
    def dest(self) -> str:
        """The argparse attribute that holds the override."""
        return self.option.lstrip("-").replace("-", "_")


CUSTOMERS = Endpoint(
    name="customer service",
    env_var="CUSTOMER_SERVICE_ADDR",
    default_port=CUSTOMER_SERVICE_DEFAULT_PORT,
    option="--customer-service",
    stub_class=customer_pb2_grpc.CustomerServiceStub,
)
IDENTIFIERS = Endpoint(
    name="identifier service",
    env_var="IDENTIFIER_SERVICE_ADDR",
    default_port=IDENTIFIER_SERVICE_DEFAULT_PORT,
    option="--identifier-service",
    stub_class=identifier_pb2_grpc.IdentifierServiceStub,
)
# Every service gets a global --<service> ADDR option; add a new one here.
ENDPOINTS = (CUSTOMERS, IDENTIFIERS)


class Context:
    """What a command needs to reach services: lazily opened channels and the per-call deadline."""

    def __init__(self, args: argparse.Namespace, local_stack: LocalStack | None = None) -> None:
        """Take the parsed global options, and the ``.run/env`` the environment was completed from if any
        (only to say so in messages); nothing is resolved or connected until a command needs it."""
        self._args = args
        self._local_stack = local_stack
        self.timeout: float = args.timeout
        self._channels: dict[Endpoint, grpc.Channel] = {}
        self._stubs: dict[Endpoint, Any] = {}
        self._addresses: dict[Endpoint, str] = {}

    def address(self, endpoint: Endpoint) -> str:
        """host:port of the service: the command-line option, else its env var (ConfigError if malformed)."""
        if endpoint not in self._addresses:
            override = getattr(self._args, endpoint.dest, None)
            self._addresses[endpoint] = override or grpc_address(endpoint.env_var, endpoint.default_port)
        return self._addresses[endpoint]

    def stub(self, endpoint: Endpoint) -> Any:
        """The service's stub over one channel (mutual TLS with the operator's certificate, GRPC_TLS_*),
        opened on first use."""
        if endpoint not in self._stubs:
            channel = grpc_tls.channel(self.address(endpoint), grpc_tls.TlsFiles.from_env())
            self._channels[endpoint] = channel
            self._stubs[endpoint] = endpoint.stub_class(channel)
        return self._stubs[endpoint]

    def call(self, endpoint: Endpoint, method: str, request: Any) -> Any:
        """Run one unary RPC with the deadline; a failure becomes a CliError with a readable reason."""
        rpc = getattr(self.stub(endpoint), method)
        try:
            return rpc(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise self._translate(endpoint, exc) from None

    def paginate(
        self,
        endpoint: Endpoint,
        method: str,
        make_request: Callable[[int, str], Any],
        items_field: str,
        *,
        limit: int,
        page_size: int,
    ) -> tuple[list[Any], bool]:
        """Follow next_page_token until the last page or ``limit`` items (0 = no limit).

        ``make_request(page_size, page_token)`` builds one page's request. Returns the items and whether
        more were left on the server.
        """
        items: list[Any] = []
        token = ""
        seen_tokens: set[str] = set()
        while True:
            size = page_size if not limit else max(1, min(page_size, limit - len(items)))
            response = self.call(endpoint, method, make_request(size, token))
            items.extend(getattr(response, items_field))
            token = response.next_page_token
            if limit and len(items) >= limit:
                return items[:limit], bool(token) or len(items) > limit
            if not token:
                return items, False
            if token in seen_tokens:
                raise CliError(f"the {endpoint.name} returned the same page token twice; stopping")
            seen_tokens.add(token)

    def close(self) -> None:
        """Close every channel opened."""
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        self._stubs.clear()

    def _translate(self, endpoint: Endpoint, exc: grpc.RpcError) -> CliError:
        """Map a gRPC error to one line: reason, server details, status code name; NOT_FOUND exits 3."""
        code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
        details = (exc.details() if callable(getattr(exc, "details", None)) else None) or ""
        address = self.address(endpoint)
        if code is grpc.StatusCode.UNAVAILABLE:
            reason = f"the {endpoint.name} at {address} is unavailable"
            if details:
                reason += f": {details}"
            if getattr(self._args, endpoint.dest, None):
                hint = f"the address came from {endpoint.option}"
            elif self._local_stack and self._local_stack.supplied(endpoint.env_var):
                hint = (f"the address came from {self._local_stack.path}, written by `make run`: "
                        f"is it still running?")
            else:
                hint = f"set {endpoint.env_var} (or {endpoint.option}) to the service's host:port"
            return CliError(f"{reason} (UNAVAILABLE); {hint}")
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return CliError(
                f"the {endpoint.name} at {address} did not answer within {self.timeout:g}s "
                f"(DEADLINE_EXCEEDED); a larger --timeout may help"
            )
        readable = code.name.lower().replace("_", " ")
        reason = f"{readable}: {details}" if details else readable
        exit_code = EXIT_NOT_FOUND if code is grpc.StatusCode.NOT_FOUND else EXIT_FAILURE
        return CliError(f"{reason} ({code.name})", exit_code)
