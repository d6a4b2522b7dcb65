"""gateway/openapi.yaml and the app agree: the same routes and methods, every status code a view can
answer is documented, and every problem code in the catalogue is in the spec."""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

import gateway
from gateway import problems
from gateway.app import create_app

SPEC_PATH = Path(gateway.__file__).with_name("openapi.yaml")
AUTOMATIC_METHODS = {"HEAD", "OPTIONS"}  # added by Flask to every GET / every route
# The success status each view answers with (its error statuses are found in its source).
SUCCESS = {"webhooks.inbound": {202}, "probes.healthz": {200}, "probes.readyz": {200},
           "platform_webhooks.from_shopify": {200, 202}, "platform_webhooks.from_woocommerce": {200, 202}}
APP_WIDE = {500}  # any view: an unhandled bug
# Statuses the scan finds in a callee that a view answers otherwise: a platform view catches the 409 of
# webhooks.publish and answers 200 "ignored" (tests/unit/test_gateway_signature_schemes.py proves it).
CAUGHT = {"platform_webhooks.from_shopify": {409}, "platform_webhooks.from_woocommerce": {409}}


class _Nothing:
    def __getattr__(self, name):
        raise AssertionError("not used")


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def app():
    return create_app(tenant_store=_Nothing(), publisher=_Nothing())


def app_operations(app) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> endpoint, for every route of the app."""
    operations = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - AUTOMATIC_METHODS:
            operations[(path, method.lower())] = rule.endpoint
    return operations


def problem_statuses(view) -> set[int]:
    """The statuses of the problem types (problems.NAME) a view references, itself or through the
    functions it calls: of its own module (`name(...)`) and of the gateway modules it imports
    (`module.name(...)`, e.g. webhooks.read_capped_body, authentication.authenticate_webhook)."""
    statuses, seen, todo = set(), set(), [(sys.modules[view.__module__], view.__name__)]
    while todo:
        module, name = todo.pop()
        if (module.__name__, name) in seen:
            continue
        seen.add((module.__name__, name))
        for node in ast.walk(_functions(module)[name]):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "problems":
                kind = getattr(problems, node.attr)
                if isinstance(kind, problems.ProblemType):
                    statuses.add(kind.status)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _functions(module):
                todo.append((module, node.func.id))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name)):
                other = vars(module).get(node.func.value.id)
                if (isinstance(other, types.ModuleType) and other.__name__.startswith("gateway.")
                        and node.func.attr in _functions(other)):
                    todo.append((other, node.func.attr))
    return statuses


def _functions(module) -> dict[str, ast.FunctionDef]:
    """The top-level functions of a module, by name."""
    tree = ast.parse(Path(module.__file__).read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_spec_is_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")


def test_routes_and_methods_are_the_same(app, spec):
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert set(app_operations(app)) == documented


def test_every_status_a_view_can_answer_is_documented_and_no_other(app, spec):
    for (path, method), endpoint in app_operations(app).items():
        expected = (SUCCESS[endpoint] | APP_WIDE | problem_statuses(app.view_functions[endpoint])) - CAUGHT.get(
            endpoint, set())
        documented = {int(code) for code in spec["paths"][path][method]["responses"]}
        assert documented == expected, endpoint


def test_the_status_scan_finds_the_webhook_contract(app):
    assert problem_statuses(app.view_functions["webhooks.inbound"]) == {400, 401, 409, 413, 415, 422, 429, 503}


def test_the_webhook_operation_documents_its_header_and_retry_after(spec):
    operation = spec["paths"]["/v1/webhooks/inbound/{tenant_id}"]["post"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "X-Autentikapp-Signature" in headers
    assert "Retry-After" in operation["responses"]["503"]["headers"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    for code, response in operation["responses"].items():
        if code.startswith(("4", "5")) and "content" in response:
            assert set(response["content"]) == {"application/problem+json"}


def test_every_problem_code_is_in_the_spec_and_generic_errors_are_described(spec):
    assert set(spec["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]) == {
        kind.code for kind in problems.CATALOGUE}
    assert {"NotFound", "MethodNotAllowed", "InternalError"} <= set(spec["components"]["responses"])


def test_the_request_schema_caps_match_the_code(spec):
    from common import limits

    schemas = spec["components"]["schemas"]
    item = schemas["LineItem"]["properties"]
    assert item["product_sku"]["maxLength"] == limits.MAX_SKU
    assert item["product_name"]["maxLength"] == limits.MAX_PRODUCT_NAME
    assert item["autentikapp_code"]["maxLength"] == limits.MAX_CODE
    assert item["quantity"]["maximum"] == limits.MAX_QUANTITY
    transaction = schemas["TransactionData"]["properties"]
    assert transaction["transaction_id"]["maxLength"] == limits.MAX_TRANSACTION_ID
    assert transaction["line_items"]["maxItems"] == limits.MAX_LINE_ITEMS
    customer = schemas["CustomerData"]["properties"]
    assert customer["email"]["maxLength"] == limits.MAX_EMAIL
    assert customer["first_name"]["maxLength"] == limits.MAX_NAME
