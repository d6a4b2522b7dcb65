"""docs/integration-guide.md, tested as a brand's developer would use it.

Every code example marked `<!-- example: NAME -->` is extracted and run, with the machine's own runtime,
against the real system: it reads the endpoint and the secret from its environment and the body from the
file named by its first argument, sends a sale, prints the status and the answer, and the sale's code is
linked. An example whose runtime this machine lacks is checked against the guide's test vectors instead,
and its test id says so (`php-standard[vector-only]`). The Spanish and the English part carry the same
examples with the same code (only whole-line comments are translated), the same test vectors, and
payloads and an error that the gateway really accepts and answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from system_support import EXAMPLE, System, start_system
from test_docs import github_slug

from devstack.stack import SERVICE_DATABASES
from gateway import json_body, payload, signature, standard_webhooks

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "integration-guide.md"
TENANT = "guide"

# The Standard Webhooks specification's own example, which the guide uses as its test vector.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

_FENCE = re.compile(r"^\s*(```|~~~)")
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[a-z]+-[a-z]+) -->\n```(?P<fence>\w+)\n(?P<code>.*?)\n```\n",
                      re.DOTALL)
_BLOCK = re.compile(r"<!-- (?P<kind>payload|problem): (?P<name>[\w.-]+) -->\n```json\n(?P<json>.*?)\n```\n",
                    re.DOTALL)
_STATED = re.compile(r"`(v1,[A-Za-z0-9+/=]+|[0-9a-f]{64})`")


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks, written here from the specification, independently of the gateway's code."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def hex_signature(secret: str, body: bytes) -> str:
    """The guide's X-Autentikapp-Signature, written here from the guide."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


VECTORS = {"standard": standard_signature(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
           "hex": hex_signature(VECTOR_SECRET, VECTOR_BODY)}


@dataclass(frozen=True)
class Runtime:
    """How to run one language's example: the tools it needs, where its code goes, the command (with
    `{file}` for the code's path; the body's path is appended), and how its comments start."""

    tools: tuple[str, ...]
    file_name: str
    command: tuple[str, ...]
    comment: str
    setup: tuple[str, ...] = ()
    version_command: tuple[str, ...] = ()
    min_major: int = 0


RUNTIMES = {
    "curl": Runtime(("bash", "curl", "openssl", "od", "mktemp"), "send.sh", ("bash", "{file}"), "#"),
    "python": Runtime((), "send.py", (sys.executable, "{file}"), "#"),
    "node": Runtime(("node",), "send.mjs", ("node", "{file}"), "//", version_command=("node", "--version"),
                    min_major=18),
    "java": Runtime(("java",), "Send.java", ("java", "{file}"), "//", version_command=("java", "-version"),
                    min_major=17),
    "php": Runtime(("php",), "send.php", ("php", "{file}"), "//"),
    "csharp": Runtime(("dotnet",), "app/Program.cs", ("dotnet", "run", "--project", "app", "--"), "//",
                      setup=("dotnet", "new", "console", "--force", "-o", "app")),
}

# What a Standard Webhooks example must visibly do, per language, for the examples checked only against
# the test vectors: the key is the base64-decoded part after "whsec_", the HMAC-SHA256 covers
# "{id}.{timestamp}.{body}", the signature is "v1," + base64, in the three headers, from the environment.
COMMON_PIECES = (r"AUTENTIKAPP_WEBHOOK_URL", r"AUTENTIKAPP_WEBHOOK_SECRET", r"webhook-id", r"webhook-timestamp",
                 r"webhook-signature", r"[\"']v1,[\"']", r"whsec_")
PIECES = {
    "curl": (r"openssl base64 -d", r"\$\{AUTENTIKAPP_WEBHOOK_SECRET#whsec_\}", r"printf '%s\.%s\.' \"\$msg_id\" \"\$timestamp\"",
             r"openssl dgst -sha256"),
    "python": (r"base64\.b64decode\(secret\.removeprefix\(\"whsec_\"\)\)", r"f\"\{msg_id\}\.\{timestamp\}\.\"",
               r"hashlib\.sha256", r"base64\.b64encode"),
    "node": (r"Buffer\.from\(secret\.slice\(\"whsec_\"\.length\), \"base64\"\)", r"`\$\{msgId\}\.\$\{timestamp\}\.`",
             r"createHmac\(\"sha256\"", r"digest\(\"base64\"\)"),
    "java": (r"Base64\.getDecoder\(\)\.decode\(secret\.substring\(\"whsec_\"\.length\(\)\)\)",
             r"msgId \+ \"\.\" \+ timestamp \+ \"\.\"", r"HmacSHA256", r"Base64\.getEncoder\(\)"),
    "php": (r"base64_decode\(substr\(\$secret, strlen\('whsec_'\)\), true\)", r"\"\{\$msgId\}\.\{\$timestamp\}\.\{\$body\}\"",
            r"hash_hmac\('sha256', [^;]*, \$key, true\)", r"base64_encode\(\$signature\)"),
    "csharp": (r"Convert\.FromBase64String\(secret\.Substring\(\"whsec_\"\.Length\)\)",
               r"\$\"\{msgId\}\.\{timestamp\}\.\"\)\.Concat\(body\)", r"HMACSHA256\.HashData\(key, signed\)",
               r"Convert\.ToBase64String"),
}


@dataclass(frozen=True)
class Example:
    """One marked example of one part of the guide."""

    name: str
    fence: str
    code: str
    stated: str | None  # the test vector's signature stated under it

    @property
    def language(self) -> str:
        return self.name.split("-", 1)[0]

    @property
    def scheme(self) -> str:
        return self.name.split("-", 1)[1]


def parts(text: str) -> list[str]:
    """The guide's top-level parts, split at its level-1 headings (outside code blocks)."""
    starts, fenced = [], False
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and line.startswith("# "):
            starts.append(number)
    return ["".join(lines[start:end]) for start, end in zip(starts, [*starts[1:], len(lines)])]


def examples_of(part: str) -> dict[str, Example]:
    """The part's marked examples by name, each with the signature stated on the first line under it."""
    found = {}
    for match in _EXAMPLE.finditer(part):
        following = part[match.end():].lstrip("\n").split("\n", 1)[0]
        stated = _STATED.search(following)
        found[match["name"]] = Example(match["name"], match["fence"], match["code"], stated and stated.group(1))
    return found


def without_comment_lines(example: Example) -> str:
    """The code with its whole-line comments removed: what must be identical in both parts."""
    comment = RUNTIMES[example.language].comment
    return "\n".join(line for line in example.code.splitlines()
                     if not line.strip().startswith(comment) or line.startswith("#!"))


def major_version(command: tuple[str, ...]) -> int:
    """The first number a `--version` command prints (stdout or stderr), 0 if none."""
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    match = re.search(r"(\d+)", result.stdout + result.stderr)
    return int(match.group(1)) if match else 0


def runnable(example: Example) -> bool:
    """True when this machine has the example's runtime, in a version the guide asks for."""
    runtime = RUNTIMES[example.language]
    if not all(shutil.which(tool) for tool in runtime.tools):
        return False
    return not runtime.version_command or major_version(runtime.version_command) >= runtime.min_major


GUIDE_TEXT = GUIDE.read_text(encoding="utf-8")
SPANISH, ENGLISH = (parts(GUIDE_TEXT) + ["", ""])[:2]
EXAMPLES = examples_of(SPANISH)
LIVE = [example for example in EXAMPLES.values() if runnable(example)]
VECTOR_ONLY = [example for example in EXAMPLES.values() if example not in LIVE]


# --- The guide's text -----------------------------------------------------------------------------


def test_the_guide_has_a_spanish_part_then_an_english_part_linked_to_each_other():
    headings = [part.split("\n", 1)[0] for part in parts(GUIDE_TEXT)]
    assert len(headings) == 2, f"two top-level parts, Spanish then English; found {headings}"
    assert "guía" in headings[0] and "guide" in headings[1], headings
    assert f"(#{github_slug(headings[1][2:])})" in SPANISH, "the Spanish part links the English part"
    assert f"(#{github_slug(headings[0][2:])})" in ENGLISH, "the English part links the Spanish part"


def test_every_link_inside_the_guide_names_one_of_its_headings():
    anchors, seen = set(), {}
    for part in parts(GUIDE_TEXT):
        fenced = False
        for line in part.splitlines():
            if _FENCE.match(line):
                fenced = not fenced
            elif not fenced and (match := re.match(r"^(#{1,6})\s+(.*?)\s*$", line)):
                slug = github_slug(match.group(2))
                anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
                seen[slug] = seen.get(slug, 0) + 1
    targets = re.findall(r"\]\(#([^)]+)\)", GUIDE_TEXT)
    assert targets, "the guide links its own sections"
    assert [target for target in targets if target not in anchors] == []


def test_both_parts_carry_the_same_examples_with_the_same_code_and_vectors():
    english = examples_of(ENGLISH)
    assert list(EXAMPLES) == list(english), "the same examples, in the same order, in both parts"
    assert {example.language for example in EXAMPLES.values()} == set(RUNTIMES), "one or more per language"
    for name, spanish in EXAMPLES.items():
        assert without_comment_lines(spanish) == without_comment_lines(english[name]), (
            f"{name}: the Spanish and English copies differ in more than their comment lines")
        assert (spanish.fence, spanish.stated) == (english[name].fence, english[name].stated), name


@pytest.mark.parametrize("part", [SPANISH, ENGLISH], ids=["es", "en"])
def test_the_stated_test_vectors_are_the_specifications_and_the_gateways(part):
    assert VECTORS["standard"] == SPEC_SIGNATURE, "the vector is the Standard Webhooks specification's"
    assert standard_webhooks.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTORS["standard"]
    assert signature.sign(VECTOR_SECRET, VECTOR_BODY) == VECTORS["hex"]
    for value in (VECTOR_SECRET, VECTOR_ID, str(VECTOR_TIMESTAMP), VECTOR_BODY.decode(), VECTORS["standard"],
                  VECTORS["hex"], f"{VECTOR_ID}.{VECTOR_TIMESTAMP}.{VECTOR_BODY.decode()}"):
        assert f"`{value}`" in part, f"the test vectors' table states {value}"


@pytest.mark.parametrize("part", [SPANISH, ENGLISH], ids=["es", "en"])
def test_every_example_states_its_schemes_test_vector(part):
    for example in examples_of(part).values():
        assert example.stated == VECTORS[example.scheme], (
            f"{example.name}: the line under it states {example.stated}, the {example.scheme} vector is "
            f"{VECTORS[example.scheme]}")


def test_every_example_reads_the_url_and_secret_from_the_environment_and_holds_no_secret():
    for example in EXAMPLES.values():
        assert "AUTENTIKAPP_WEBHOOK_URL" in example.code and "AUTENTIKAPP_WEBHOOK_SECRET" in example.code, example.name
        assert not re.search(r"whsec_[A-Za-z0-9+/]{8,}", example.code), f"{example.name} holds a secret"
        assert "-hmac" not in example.code, f"{example.name} puts the key on openssl's command line"


@pytest.mark.parametrize("part", [SPANISH, ENGLISH], ids=["es", "en"])
def test_the_payload_examples_are_the_reference_ones_and_follow_the_rules(part):
    blocks = {match["name"]: json.loads(match["json"]) for match in _BLOCK.finditer(part)
              if match["kind"] == "payload"}
    assert set(blocks) == set(payload.EVENT_TYPES)
    assert blocks["transaction.created"] == json.loads(EXAMPLE.read_bytes()), "the sale is the CLI's example"
    received = datetime(2025, 9, 15, tzinfo=UTC)
    for event_type, document in blocks.items():
        raw = json.dumps(document).encode()
        assert document["event_type"] == event_type
        payload.parse_event(json_body.loads(raw), received, default_country=None)  # raises PayloadInvalid


# --- The examples against the real system -------------------------------------------------------


@pytest.fixture(scope="module")
def guide_system(tmp_path_factory, postgres):
    """One running system for the whole module, started like the e2e `running_system` (its fixtures are
    per test; the examples share one system to keep the suite fast)."""
    from devstack.nats import LocalNats

    base = tmp_path_factory.mktemp("guide")
    urls = {variable: postgres.create_database(name) for variable, name in SERVICE_DATABASES.items()}
    try:
        with LocalNats(base / "nats", users=True) as nats_server, start_system(base / "logs", nats_server, urls) as sut:
            yield sut
    finally:
        for url in urls.values():
            postgres.drop_database(url)


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


@pytest.fixture(scope="module")
def endpoint(guide_system) -> Endpoint:
    """A tenant made with the CLI, as the operator makes one for a brand."""
    created = guide_system.cli("tenants", "create", "--name", "Guide brand", "--id", TENANT)
    assert created["endpoint_url"] == f"{guide_system.base_url}/v1/webhooks/inbound/{TENANT}"
    return Endpoint(created["endpoint_url"], created["secret"])


def guide_sale(transaction_id: str, code: str) -> bytes:
    """The guide's example sale with its own transaction id and code."""
    document = json.loads(EXAMPLE.read_bytes())
    document["transaction_data"]["transaction_id"] = transaction_id
    document["transaction_data"]["line_items"][0]["autentikapp_code"] = code
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


def outcome(sut: System, event_id: str) -> dict:
    return sut.outcome(event_id)


def run_example(example: Example, body: Path, workdir: Path, endpoint: Endpoint) -> subprocess.CompletedProcess:
    """Write the example's code where its runtime expects it and run it as the guide says: the endpoint
    and the secret in the environment, the body's path as the first argument."""
    runtime = RUNTIMES[example.language]
    env = {**os.environ, "AUTENTIKAPP_WEBHOOK_URL": endpoint.url, "AUTENTIKAPP_WEBHOOK_SECRET": endpoint.secret,
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    if runtime.setup:
        subprocess.run(runtime.setup, cwd=workdir, env=env, check=True, capture_output=True, timeout=300)
    code_path = workdir / runtime.file_name
    code_path.parent.mkdir(parents=True, exist_ok=True)
    code_path.write_text(example.code + "\n", encoding="utf-8")
    command = [part.replace("{file}", str(code_path)) for part in runtime.command]
    return subprocess.run([*command, str(body)], check=False, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("example", LIVE, ids=[example.name for example in LIVE])
def test_example_sends_a_sale_that_is_accepted_and_linked(example, guide_system, endpoint, tmp_path):
    code = f"GUIDE-{example.name.upper()}"
    guide_system.cli("identifiers", "register", "--tenant", TENANT, code)
    body = tmp_path / "sale.json"
    body.write_bytes(guide_sale(f"GUIDE-{example.name}-{uuid.uuid4().hex[:8]}", code))

    result = run_example(example, body, tmp_path, endpoint)
    printed = f"{example.name} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    status, _, answer = result.stdout.strip().partition("\n")
    assert (result.returncode, status.strip()) == (0, "202"), printed
    accepted = json.loads(answer)
    assert (accepted["status"], accepted["duplicate"]) == ("accepted", False), printed

    recorded = outcome(guide_system, accepted["event_id"])
    assert [(item["code"], item["outcome"]) for item in recorded["line_items"]] == [(code, "assigned")], (
        f"{example.name}: {recorded}")


@pytest.mark.parametrize("example", VECTOR_ONLY, ids=[f"{example.name}[vector-only]" for example in VECTOR_ONLY])
def test_example_without_its_runtime_does_what_the_test_vector_checks(example):
    """This machine cannot run it: its text must hold every piece of the algorithm the vector pins down,
    and the signature stated under it must be the one Python computes."""
    assert example.scheme == "standard", f"{example.name}: only Standard Webhooks examples may go unrun"
    missing = [piece for piece in (*COMMON_PIECES, *PIECES[example.language]) if not re.search(piece, example.code)]
    assert missing == [], f"{example.name} lacks {missing}"
    assert example.stated == VECTORS["standard"] == SPEC_SIGNATURE


def test_the_error_shown_in_the_guide_is_what_the_gateway_answers(guide_system, endpoint):
    shown = [json.loads(match["json"]) for match in _BLOCK.finditer(GUIDE_TEXT) if match["kind"] == "problem"]
    assert len(shown) == 2, "one in each part"
    document = json.loads(guide_sale(f"GUIDE-BAD-{uuid.uuid4().hex[:8]}", "GUIDE-BAD"))
    document["customer_data"]["email"] = "cliente@"
    document["transaction_data"]["line_items"][0]["quantity"] = 0
    raw = json.dumps(document).encode()
    status, headers, answer = guide_system.post(TENANT, raw, {
        "Content-Type": "application/json", "X-Autentikapp-Signature": hex_signature(endpoint.secret, raw)})
    assert status == 422 and headers["content-type"].startswith("application/problem+json"), answer
    assert shown == [answer, answer]


def test_the_refund_and_void_shown_in_the_guide_release_their_sales_codes(guide_system, endpoint):
    blocks = {match["name"]: json.loads(match["json"]) for match in _BLOCK.finditer(SPANISH)
              if match["kind"] == "payload"}
    code = blocks["transaction.refunded"]["transaction_data"]["line_items"][0]["autentikapp_code"]
    guide_system.cli("identifiers", "register", "--tenant", TENANT, code)

    def send(document: dict) -> dict:
        raw = json.dumps(document).encode()
        status, _, answer = guide_system.send(TENANT, endpoint.secret, raw)
        assert status == 202, answer
        return outcome(guide_system, answer["event_id"])

    for release in ("transaction.refunded", "transaction.voided"):
        transaction_id = f"GUIDE-{release}-{uuid.uuid4().hex[:8]}"
        sold = send(json.loads(guide_sale(transaction_id, code)))
        assert [item["outcome"] for item in sold["line_items"]] == ["assigned"], sold
        document = json.loads(json.dumps(blocks[release]))
        document["transaction_data"]["transaction_id"] = transaction_id
        released = send(document)
        assert [(item["code"], item["outcome"]) for item in released["line_items"]] == [(code, "released")], release


def test_the_standard_webhooks_rules_the_guide_states(guide_system, endpoint):
    """Section 3.1 and 4: a timestamp 300+ seconds off either way is refused saying the clock is off;
    several space-separated signatures pass when one is right; a retry keeps its webhook-id with a fresh
    timestamp and signature, and is answered as a duplicate."""
    code = "GUIDE-RULES"
    guide_system.cli("identifiers", "register", "--tenant", TENANT, code)
    raw = guide_sale(f"GUIDE-RULES-{uuid.uuid4().hex[:8]}", code)
    msg_id = "msg_" + uuid.uuid4().hex

    def post(timestamp: int, *secrets: str):
        signatures = " ".join(standard_signature(secret, msg_id, timestamp, raw) for secret in secrets)
        return guide_system.post(TENANT, raw, {"Content-Type": "application/json", "webhook-id": msg_id,
                                               "webhook-timestamp": str(timestamp), "webhook-signature": signatures})

    for skew in (-400, 400):
        status, _, problem = post(int(time.time()) + skew, endpoint.secret)
        assert (status, problem["code"]) == (401, "invalid-signature"), problem
        assert "clock" in problem["detail"], problem["detail"]
    status, _, first = post(int(time.time()), VECTOR_SECRET, endpoint.secret)
    assert (status, first["duplicate"]) == (202, False), first
    status, _, retry = post(int(time.time()) + 1, endpoint.secret)
    assert (status, retry) == (202, {**first, "duplicate": True}), retry


def test_a_brand_that_requires_timestamped_signatures_takes_only_the_standard_examples(guide_system, tmp_path):
    """Section 3.1: after `autentikapp tenants signing ID --require-timestamped`, the guide's header alone
    is refused with a 401 that says so, and a Standard Webhooks example still gets its 202."""
    created = guide_system.cli("tenants", "create", "--name", "Strict brand", "--id", "guide-strict")
    guide_system.cli("tenants", "signing", "guide-strict", "--require-timestamped")
    strict = Endpoint(created["endpoint_url"], created["secret"])
    code = "GUIDE-STRICT"
    guide_system.cli("identifiers", "register", "--tenant", "guide-strict", code)
    answers = {}
    for name in ("python-hex", "python-standard"):
        workdir = tmp_path / name
        workdir.mkdir()
        body = workdir / "sale.json"
        body.write_bytes(guide_sale(f"GUIDE-STRICT-{name}", code))
        result = run_example(EXAMPLES[name], body, workdir, strict)
        status, _, answer = result.stdout.strip().partition("\n")
        answers[name] = (result.returncode, status, json.loads(answer))
    returncode, status, problem = answers["python-hex"]
    assert (returncode, status, problem["code"]) == (1, "401", "invalid-signature"), problem
    assert "timestamped" in problem["detail"], problem["detail"]
    returncode, status, accepted = answers["python-standard"]
    assert (returncode, status, accepted["status"]) == (0, "202", "accepted"), accepted
