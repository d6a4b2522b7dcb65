"""``autentikapp webhook send``: post a signed webhook to a gateway, as a tenant's sales system would.

The exact bytes of the file are signed (gateway.signature.sign, the same function the gateway verifies
with) and sent unchanged. Exit 0 for a 2xx answer, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from cli.examples import TRANSACTION_CREATED
from cli.output import Output
from cli.rpc import Context
from gateway.settings import public_base_url
from gateway.signature import HEADER, sign


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the ``webhook`` group and its command."""
    group = subparsers.add_parser(
        "webhook", help="send a signed test webhook", description="Send signed webhooks to a gateway."
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    send = commands.add_parser(
        "send",
        parents=[common],
        help="sign a JSON file and POST it",
        description="Sign the exact bytes of FILE (or the integration guide's example) with the tenant's "
        "secret and POST them to {URL}/v1/webhooks/inbound/{tenant}. Prints the HTTP status and body.",
    )
    send.add_argument("--tenant", required=True, metavar="ID", help="the tenant (brand) id")
    send.add_argument("--secret", required=True, metavar="S", help="the tenant's webhook secret (whsec_...)")
    send.add_argument("--url", metavar="BASE_URL", help="the gateway's base URL (default $PUBLIC_BASE_URL, "
                      "else http://localhost:8080)")
    source = send.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", metavar="FILE", help="the JSON body to send (- reads stdin)")
    source.add_argument("--example", action="store_true", help="send the integration guide's example payload")
    send.set_defaults(run=run_send)


def read_body(args: argparse.Namespace) -> bytes:
    """The bytes to send, unchanged: the example, stdin or the file."""
    try:
        if args.example:
            return TRANSACTION_CREATED.read_bytes()
        if args.file == "-":
            return sys.stdin.buffer.read()
        with open(args.file, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise CliError(f"{args.file}: no such file") from None
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror or exc}") from None


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST and return (status, body) for any HTTP answer; a network failure is a CliError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CliError(f"cannot reach {url}: {reason}") from None


def run_send(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """Sign, send, print the answer; exit 0 for 2xx, 1 otherwise."""
    body = read_body(args)
    base = (args.url or public_base_url()).rstrip("/")
    url = f"{base}/v1/webhooks/inbound/{urllib.parse.quote(args.tenant, safe='')}"
    headers = {"Content-Type": "application/json", HEADER: sign(args.secret, body)}
    status, answer = post(url, body, headers, ctx.timeout)
    try:
        parsed: Any = json.loads(answer)
    except ValueError:
        parsed = answer.decode("utf-8", "replace")
    if out.json_mode:
        out.mapping({"status": status, "body": parsed})
    else:
        print(f"HTTP {status}")
        print(json.dumps(parsed, indent=2, ensure_ascii=False) if not isinstance(parsed, str) else parsed)
    return EXIT_OK if 200 <= status < 300 else EXIT_FAILURE
