"""``autentikapp webhook send``: post a signed webhook to a gateway, as a tenant's sales system (or its store
platform) would.

The exact bytes of the file are signed with the scheme asked for (gateway.signature and
gateway.standard_webhooks, the same functions the gateway verifies with) and sent unchanged. The secret
comes from an environment variable or a file, never from the command line: argv shows up in `ps` and in
shell history. Exit 0 for a 2xx answer, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from cli.args import refused_in_argv, secret_from
from cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from cli.examples import TRANSACTION_CREATED
from cli.output import Output
from cli.rpc import Context
from common import http_post
from gateway import signature, standard_webhooks
from gateway.platform_webhooks import SHOPIFY, WOOCOMMERCE
from gateway.settings import public_base_url

SECRET_ENV = "AUTENTIKAPP_WEBHOOK_SECRET"
GUIDE = "autentikapp"
STANDARD = "standard-webhooks"
SCHEMES = (STANDARD, GUIDE, SHOPIFY.name, WOOCOMMERCE.name)
DEFAULT_TOPICS = {SHOPIFY.name: "orders/create", WOOCOMMERCE.name: "order.created"}


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
        "secret and POST them to the tenant's endpoint: {URL}/v1/webhooks/inbound/{tenant} for the "
        "standard-webhooks and autentikapp schemes, {URL}/v1/webhooks/shopify|woocommerce/{tenant} for a "
        "platform's. Prints the HTTP status and body.",
    )
    send.add_argument("--tenant", required=True, metavar="ID", help="the tenant (brand) id")
    send.add_argument("--scheme", choices=SCHEMES, default=STANDARD,
                      help="how to sign: standard-webhooks (webhook-id, webhook-timestamp, webhook-signature; "
                      "the default), autentikapp (the guide's X-Autentikapp-Signature), or as shopify / "
                      "woocommerce sign (with that platform's secret)")
    secret = send.add_mutually_exclusive_group()
    secret.add_argument("--secret-env", metavar="NAME", default=SECRET_ENV,
                        help=f"the environment variable holding the secret (default {SECRET_ENV})")
    secret.add_argument("--secret-file", metavar="FILE", help="a file holding the secret (trailing newline ignored)")
    secret.add_argument("--secret", help=argparse.SUPPRESS, action=refused_in_argv(
        "secret", f"${SECRET_ENV} (or --secret-env NAME) or --secret-file FILE"))
    send.add_argument("--webhook-id", metavar="ID", help="standard-webhooks: the message id, the same on every "
                      "retry of one message (default: a new msg_... id)")
    send.add_argument("--topic", help="shopify / woocommerce: the topic header (default orders/create, "
                      "order.created)")
    send.add_argument("--url", metavar="BASE_URL", help="the gateway's base URL (default $PUBLIC_BASE_URL, "
                      "else http://localhost:8080)")
    source = send.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", metavar="FILE", help="the JSON body to send (- reads stdin)")
    source.add_argument("--example", action="store_true", help="send the integration guide's example payload")
    send.set_defaults(run=run_send)


def read_secret(args: argparse.Namespace) -> str:
    """The secret from --secret-file, else from the environment variable --secret-env names."""
    value = secret_from(args.secret_file, args.secret_env)
    if value is None:
        raise CliError(f"no secret: set ${args.secret_env} or give --secret-file FILE")
    return value


def signed_request(args: argparse.Namespace, secret: str, body: bytes) -> tuple[str, dict[str, str]]:
    """The endpoint path and the headers of the request, signed as --scheme says."""
    tenant = urllib.parse.quote(args.tenant, safe="")
    headers = {"Content-Type": "application/json"}
    if args.scheme == GUIDE:
        headers[signature.HEADER] = signature.sign(secret, body)
        return f"/v1/webhooks/inbound/{tenant}", headers
    if args.scheme == STANDARD:
        msg_id = args.webhook_id or "msg_" + secrets.token_urlsafe(18)
        try:
            headers.update(standard_webhooks.signed_headers(secret, body, msg_id, int(time.time())))
        except ValueError:
            raise CliError("the secret is not whsec_ followed by base64: standard-webhooks signs with the "
                           "tenant's whsec_ secret") from None
        return f"/v1/webhooks/inbound/{tenant}", headers
    platform = SHOPIFY if args.scheme == SHOPIFY.name else WOOCOMMERCE
    headers.update({platform.signature_header: signature.sign_base64(secret, body),
                    platform.topic_header: args.topic or DEFAULT_TOPICS[platform.name],
                    platform.delivery_header: secrets.token_hex(16)})
    return f"/v1/webhooks/{platform.name}/{tenant}", headers


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
    try:
        return http_post.post(url, body, headers, timeout)
    except http_post.Unreachable as exc:
        raise CliError(f"cannot reach {url}: {exc}") from None


def run_send(args: argparse.Namespace, ctx: Context, out: Output) -> int:
    """Sign, send, print the answer; exit 0 for 2xx, 1 otherwise."""
    body = read_body(args)
    path, headers = signed_request(args, read_secret(args), body)
    status, answer = post((args.url or public_base_url()).rstrip("/") + path, body, headers, ctx.timeout)
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
