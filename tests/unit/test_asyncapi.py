"""The AsyncAPI 3.0 documents (contracts/asyncapi/): one per service and one for a hospital's HIS,
generated from the topic registry, accepted by the official parser, and saying what really
travels: the signature header, and payloads sealed as JWE (003 §5 (三))."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from support import completed_settlement
from support import test_keys as keys_dir

from contracts.envelope import Envelope
from contracts.his_result import JWE_COMPACT, SettlementRefused, SettlementResult
from contracts.registry import ALL_TOPICS
from contracts.settlement_values import RefusalCode
from contracts.topics import SERVICES
from contracts.values import make_person_id
from runtime.asyncapi import (
    DOCUMENTS,
    OUT_DIR,
    SEALED_PAYLOAD,
    asyncapi_schema,
    document,
    his_document,
    render,
    service_document,
)
from runtime.client import PartyClient
from runtime.envelopes import encode
from runtime.parties import ParticipantRegistry
from runtime.wire import SEALED
from services.settlement.adapters import seal_result

ROOT = Path(__file__).resolve().parents[2]
DIR = ROOT / OUT_DIR
CHECK = DIR / "check"
NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)


def _resolve(doc: dict, ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _inline(doc: dict, schema: object) -> object:
    """The schema with every local $ref replaced by what it points to."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(doc, _resolve(doc, schema["$ref"]))
        return {k: _inline(doc, v) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(doc, v) for v in schema]
    return schema


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _payload_validator(doc: dict, topic: str) -> jsonschema.Draft7Validator:
    """The message's payload schema as a draft-07 validator (AsyncAPI 3.0's schema dialect)."""
    message = doc["components"]["messages"][topic]
    return jsonschema.Draft7Validator({"$ref": message["payload"]["$ref"], "components": doc["components"]})


def _parse(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "Node.js is not installed: the AsyncAPI documents are checked by the official parser (npm)"
    assert (CHECK / "node_modules" / "@asyncapi" / "parser").is_dir(), (
        "the AsyncAPI parser is not installed: run `make asyncapi-parser` (make test does)"
    )
    return subprocess.run(
        [node, str(CHECK / "validate.mjs"), *map(str, files)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_committed_documents_are_what_the_registry_generates_now():
    stale = [
        f"{OUT_DIR}/{name}.json"
        for name in DOCUMENTS
        if not (DIR / f"{name}.json").is_file() or (DIR / f"{name}.json").read_text() != render(document(name))
    ]
    extra = sorted(p.name for p in DIR.glob("*.json") if p.stem not in DOCUMENTS)
    assert not stale and not extra, (
        f"{', '.join(stale + extra)} differ from what runtime/asyncapi.py generates "
        "from the contracts now: run `make asyncapi` and commit the documents"
    )


def test_the_official_asyncapi_parser_accepts_every_document():
    """@asyncapi/parser (pinned in contracts/asyncapi/check/package-lock.json): no error-level diagnostic."""
    files = [DIR / f"{name}.json" for name in DOCUMENTS]
    result = _parse(*files)
    assert result.returncode == 0, f"the AsyncAPI parser refused a document:\n{result.stdout}{result.stderr}"
    assert result.stdout.count(": parsed, 0 error(s)") == len(files), result.stdout


def test_the_parser_refuses_pydantics_openapi_discriminator(tmp_path):
    """What the generator translates: pydantic's discriminator object, which AsyncAPI 3 does not take."""
    doc = his_document()
    raw = Envelope[ALL_TOPICS["parties.change.v2"].message].model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    doc["components"]["schemas"].update(raw.pop("$defs"))
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(doc))
    result = _parse(path)
    assert result.returncode == 1 and '"discriminator" property type must be string' in result.stdout, result.stdout


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_reference_resolves_inside_its_document(name):
    """The parser does not follow a $ref inside an extension (x-sealed-content): checked here."""
    doc = document(name)
    for ref in _refs(doc):
        assert ref.startswith("#/"), ref
        _resolve(doc, ref)
    assert not [r for r in _refs(doc) if "$defs" in r]


@pytest.mark.parametrize("name", SERVICES)
def test_asyncapi_receives_what_a_service_consumes_and_sends_what_it_produces(name):
    """Every registry topic appears once per direction in the document of each service that consumes
    or produces it, as an AsyncAPI 3.0 receive or send operation whose message is Envelope[model] —
    sealed on a topic that names a person: ``sealed_payload`` instead of ``payload``, whose plaintext
    is the model."""
    doc = service_document(name)
    assert doc["asyncapi"] == "3.0.0"
    seen: dict[str, list[str]] = {"receive": [], "send": []}
    for operation in doc["operations"].values():
        channel = _resolve(doc, operation["channel"]["$ref"])
        [message_ref] = operation["messages"]
        assert message_ref["$ref"].startswith(operation["channel"]["$ref"] + "/messages/")
        message = _resolve(doc, _resolve(doc, message_ref["$ref"])["$ref"])
        topic = channel["address"]
        spec = ALL_TOPICS[topic]
        clear = asyncapi_schema(Envelope[spec.message].model_json_schema(mode="serialization"))
        wire = _inline(doc, message["payload"])
        assert isinstance(wire, dict)
        if spec.sealed:
            raw = _resolve(doc, message["payload"]["$ref"])["properties"][SEALED]
            plaintext = _inline(doc, raw["x-sealed-content"])
            assert plaintext == _inline(clear, clear["properties"]["payload"]), topic
            assert wire["properties"][SEALED] == _inline(doc, {"$ref": f"#/components/schemas/{SEALED_PAYLOAD}"})
            assert "payload" not in wire["properties"] and SEALED in wire["required"], topic
            assert {k: v for k, v in wire["properties"].items() if k != SEALED} == {
                k: v for k, v in clear["properties"].items() if k != "payload"
            }, topic
            assert {"$ref": "#/components/securitySchemes/sealedPayload"} in operation["security"], topic
        else:
            assert wire == _inline(clear, clear), topic
        assert message["headers"]["required"] == ["yidi-signature"]
        seen[operation["action"]].append(topic)
    receive = {n for n, spec in ALL_TOPICS.items() if name in spec.consumers} | {"parties.change.v2"}
    send = {n for n, spec in ALL_TOPICS.items() if spec.producer in (name, "any")}
    assert sorted(seen["receive"]) == sorted(receive)  # each once
    assert sorted(seen["send"]) == sorted(send)
    assert "party.refused.v1" in send
    assert doc["servers"]["kafka"]["security"] == [{"$ref": "#/components/securitySchemes/signature"}]
    if name == "settlement":
        assert "settlement.result.v2" in seen["send"] and "his.settlement-requested.v1" in seen["receive"]


def test_the_his_document_is_what_a_hospital_sends_and_hears():
    """A hospital publishes its his.* commands and reads its results and its refusals: the sets its
    Kafka ACLs grant (deploy.kafka_acls)."""
    from deploy.kafka_acls import reads, writes

    doc = his_document()
    sends = {op["channel"]["$ref"].rsplit("/", 1)[1] for op in doc["operations"].values() if op["action"] == "send"}
    receives = {
        op["channel"]["$ref"].rsplit("/", 1)[1] for op in doc["operations"].values() if op["action"] == "receive"
    }
    assert sends == writes("his") and receives == reads("his")
    assert {"settlement.result.v2", "party.refused.v1"} <= receives
    assert {"his.settlement-requested.v1", "his.admission.v1", "his.daily-reconciliation.v1"} <= sends
    result = doc["operations"]["receive:settlement.result.v2"]
    assert result["security"] == [{"$ref": "#/components/securitySchemes/sealedResult"}]
    scheme = doc["components"]["securitySchemes"]["sealedResult"]
    assert (
        scheme["type"] == "asymmetricEncryption"
        and "ECDH-ES" in scheme["description"]
        and "A256GCM" in scheme["description"]
    )
    sealed = doc["components"]["schemas"]["SealedSettlementResult"]["properties"]["sealed"]
    assert sealed["pattern"] == JWE_COMPACT and sealed["contentMediaType"] == "application/jose"
    assert "oneOf" in _inline(doc, sealed["contentSchema"])  # the five outcomes, told apart by outcome


@pytest.fixture(scope="module")
def client() -> PartyClient:
    return PartyClient(None, keys_dir())  # type: ignore[arg-type]   # sealing and signing only


def test_a_sealed_result_as_settlement_sends_it_fits_the_his_document(client):
    """The value and header of a real settlement.result.v2 record validate against the document; the
    answer inside is a compact JWE the addressed institution opens."""
    doc = his_document()
    refused = SettlementResult(
        SettlementRefused(
            request_id="H42010200001-20261009-000001",
            person_id=make_person_id("42010219800101001"),
            institution_code="H42010200001",
            code=RefusalCode.NOT_FILED,
            title_zh="未办理异地就医备案",
            message="no valid filing for 420100 on 2026-10-09",
        )
    )
    payload = seal_result(ParticipantRegistry.load(keys_dir()), refused)
    env = client.envelope("settlement.result.v2", payload, sender="settlement", now=NOW)
    value = client.wire_value("settlement.result.v2", env)
    _payload_validator(doc, "settlement.result.v2").validate(json.loads(value))
    headers = client.signer("settlement").headers(value)
    jsonschema.Draft7Validator(doc["components"]["messages"]["settlement.result.v2"]["headers"]).validate(headers)
    assert client.open_result(json.loads(value)["payload"])["code"] == "NOT_FILED"


def test_a_sealed_payload_fits_the_document_and_one_in_clear_does_not(client):
    doc = service_document("clearing")
    payload = completed_settlement(
        "S-ASYNCAPI-1",
        insured_region="340200",
        treating_region="420100",
        settled_on=NOW.date(),
        funds={"pooling": "120.00"},
    )
    env = client.envelope("settlement.completed.v1", payload, sender="settlement", now=NOW)
    validator = _payload_validator(doc, "settlement.completed.v1")
    validator.validate(json.loads(client.wire_value("settlement.completed.v1", env)))
    errors = [e.message for e in validator.iter_errors(json.loads(encode(env)))]
    assert errors == [f"'{SEALED}' is a required property"]


def test_the_signature_header_schema_takes_a_detached_jws_only(client):
    doc = service_document("settlement")
    header = jsonschema.Draft7Validator(doc["components"]["messages"]["party.refused.v1"]["headers"])
    signature = client.signer("H42010200001").sign(b'{"event_id": "x"}')
    header.validate({"yidi-signature": signature})
    protected, _, tail = signature.split(".")
    assert not header.is_valid({"yidi-signature": f"{protected}.e30.{tail}"})  # a payload of its own
    assert not header.is_valid({})


def test_each_service_serves_its_asyncapi_document_on_its_port():
    import asyncio

    from runtime.config import Settings
    from services.settlement.app import build

    service = build(Settings(service="settlement", topic_prefix="t1-"))
    app = service.asgi()
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/asyncapi",
        "raw_path": b"/asyncapi",
        "query_string": b"",
        "headers": [],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("t", 1),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 200
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body == json.loads(json.dumps(service_document("settlement", prefix="t1-")))
    assert body["channels"]["settlement.result.v2"]["address"] == "t1-settlement.result.v2"
