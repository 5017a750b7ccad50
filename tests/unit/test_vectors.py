"""The committed test vectors (contracts/vectors, 003 §5 (三)) are what the runtime signs, accepts and
opens: an adapter written in another language that checks itself against them talks to the platform."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from runtime.parties import Signer, Unauthenticated, authenticate, private_keys
from runtime.query import QueryRefused, read_signed
from runtime.suites import SUITES, suite_named
from runtime.vectors import VECTORS, check, read, registry_with

SUITE_NAMES = sorted(SUITES)


def _vectors(name: str) -> tuple[dict, dict, dict]:
    files = read(suite_named(name))
    return files["record.json"], files["sealed-result.json"], files["query.json"]


def _registry(name: str):
    record, sealed, _ = _vectors(name)
    return registry_with(
        suite_named(name),
        {record["signer"]: [record["registry_entry"]], sealed["recipient"]: [sealed["registry_entry"]]},
    )


def _flip(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another base64url character."""
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_the_record_signature_is_accepted_for_exactly_those_bytes(name):
    record, _, _ = _vectors(name)
    registry, at = _registry(name), datetime.fromisoformat(record["at"])
    value, signature = record["value"].encode(), record["signature"]
    assert authenticate(registry, value, signature, at).code == record["signer"]
    assert signature.startswith(record["protected"] + "..")
    for changed_value, changed_signature in [
        (value[:-2] + b" }", signature),  # one byte of the value
        (value, _flip(signature, len(signature) - 10)),
    ]:  # of the signature
        with pytest.raises(Unauthenticated) as refused:
            authenticate(registry, changed_value, changed_signature, at)
        assert refused.value.reason == "bad_signature"


def test_an_ed25519_record_signature_is_reproduced_from_the_private_key():
    """Ed25519 is deterministic: the committed value is what the signer computes."""
    record, _, _ = _vectors("ed25519")
    signer = Signer(private_keys(record["signer"], record["signing_key"]["private_jwk"], None))
    assert signer.sign(record["value"].encode()) == record["signature"]


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_the_sealed_result_opens_with_the_recipients_key(name):
    record, sealed, _ = _vectors(name)
    recipient = Signer(
        private_keys(sealed["recipient"], record["signing_key"]["private_jwk"], sealed["recipient_key"]["private_jwk"])
    )
    assert recipient.open_sealed(sealed["jwe"]) == sealed["plaintext"].encode()
    assert json.loads(sealed["plaintext"])["institution_code"] == sealed["recipient"]


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_the_signed_query_is_accepted_at_its_time_and_not_an_hour_later(name):
    _, _, query = _vectors(name)
    registry, at = _registry(name), datetime.fromtimestamp(query["at"], UTC)
    signed = read_signed(registry, query["path"], query["query"], query["signature"], at, 300)
    assert signed.party.code == query["signer"] and signed.params["region"] == "340200"
    assert query["signed_bytes"] == f"{query['path']}?{query['query']}"
    with pytest.raises(QueryRefused) as stale:
        read_signed(
            registry,
            query["path"],
            query["query"],
            query["signature"],
            datetime.fromtimestamp(query["at"] + 3600, UTC),
            300,
        )
    assert stale.value.status == 401 and "CLOCK_SKEW" in str(stale.value)


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_the_committed_files_are_what_the_generator_writes(name):
    assert check(suite_named(name)) == []


def test_every_vector_says_its_keys_are_samples():
    files = [p for p in VECTORS.rglob("*.json")]
    assert files and all("SAMPLE TEST KEYS" in json.loads(p.read_text())["note"] for p in files)
    assert (VECTORS / "README.md").is_file()
