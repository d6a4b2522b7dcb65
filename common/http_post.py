"""One HTTP POST as a sender makes it (the CLI's `webhook send`, the dashboard's test sale through
gateway_admin): any HTTP answer is a result; only a network failure is an error."""

from __future__ import annotations

import urllib.error
import urllib.request


class Unreachable(Exception):
    """No HTTP answer: the connection failed or timed out. The message is the reason in a few words."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST `body` and return (status, body) for any HTTP answer, 2xx or not; Unreachable without one."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(str(getattr(exc, "reason", exc))) from None
