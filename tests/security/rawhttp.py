"""A tiny HTTP/1.1 client over a raw socket, for requests that http.client refuses to send.

CR/LF inside a header value, duplicate headers, a Content-Length that lies, broken chunked framing,
methods and paths byte for byte as written: the request is sent exactly as given. The request is
written from a background thread while the response is read, so a server that answers early (413
before reading a 10 MB body) and closes the connection is seen answering, not as a broken pipe.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class RawResponse:
    """A parsed HTTP response: status, headers as sent (name, value), the body."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), else None."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    @property
    def media_type(self) -> str:
        """Content-Type without parameters, lower-cased ("" when absent)."""
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when it is not)."""
        return json.loads(self.body)


def build_request(method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"",
                  *, content_length: bool = True) -> bytes:
    """An HTTP/1.1 request with Host and `Connection: close`, and Content-Length unless told not to."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    if content_length and not any(name.lower() == "content-length" for name, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + body


def exchange(port: int, request: bytes, *, half_close: bool = False, timeout: float = 15.0) -> RawResponse:
    """Send `request` as is and read one response. `half_close` shuts our writing side after sending
    (the server then sees the end of the body early, as when a client dies mid-request)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sender = threading.Thread(target=_send_all, args=(sock, request, half_close), daemon=True)
        sender.start()
        try:
            return _read_response(sock)
        finally:
            sender.join(timeout)


def _send_all(sock: socket.socket, data: bytes, half_close: bool) -> None:
    """Write everything the server is willing to read (it may answer and close early)."""
    try:
        view = memoryview(data)
        while view:
            sent = sock.send(view[:256 * 1024])
            view = view[sent:]
        if half_close:
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server answered and closed before reading all of it: that is its right


def _read_response(sock: socket.socket) -> RawResponse:
    """Read the status line, headers and body (by Content-Length, chunked, or until the close)."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = _recv(sock)
            if not chunk:
                raise ConnectionError(f"the server closed the connection without an answer (got {buffer[:200]!r})")
            buffer += chunk
        head, rest = buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        _version, status, *reason = status_line.split(" ", 2)
        if not status.startswith("1"):
            break
        buffer = rest  # an interim answer (100 Continue): the real one follows
    headers = tuple((name.strip(), value.strip()) for name, value in
                    (line.split(":", 1) for line in header_lines if ":" in line))
    response = RawResponse(int(status), reason[0] if reason else "", headers, b"")
    length = response.header("Content-Length")
    if length is not None:
        while len(rest) < int(length):
            chunk = _recv(sock)
            if not chunk:
                break
            rest += chunk
        body = rest[:int(length)]
    elif (response.header("Transfer-Encoding") or "").lower() == "chunked":
        body = _read_chunked(sock, rest)
    else:
        while chunk := _recv(sock):
            rest += chunk
        body = rest
    return RawResponse(response.status, response.reason, headers, body)


def _read_chunked(sock: socket.socket, buffer: bytes) -> bytes:
    """Decode a chunked body."""
    body = b""
    while True:
        while b"\r\n" not in buffer:
            buffer += _recv(sock) or b"\r\n0\r\n"
        size_line, buffer = buffer.split(b"\r\n", 1)
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        while len(buffer) < size + 2:
            more = _recv(sock)
            if not more:
                return body + buffer[:size]
            buffer += more
        body, buffer = body + buffer[:size], buffer[size + 2:]


def _recv(sock: socket.socket) -> bytes:
    """One read; a reset after the answer counts as the end of the stream."""
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        return b""
