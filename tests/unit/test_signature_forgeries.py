"""Forged signatures (003 §5 (三)): every one is refused by ``runtime.parties.authenticate``, the one
check that Kafka records, signed queries, the registry's changes and the clock all go through; and
nothing a sender puts in the header or the bytes makes it raise anything but ``Unauthenticated``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.parties import ChangeAction, ChangeParty, PublicKey
from runtime.clock import ClockCommands, ControlledClock, clock_command_set, clock_headers
from runtime.control import RegistryChanges
from runtime.envelopes import encode, envelope_for
from runtime.parties import (
    ParticipantRegistry,
    Unauthenticated,
    authenticate,
    generate_keys,
    init_keys,
    signed_envelope,
    signer_for,
)

NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
VALUE = b'{"event_id": "x", "sender": "H42010200001", "payload": {"total": "20.00"}}'
OTHER = b'{"event_id": "y", "sender": "H42010200001", "payload": {"total": "99999.00"}}'


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header: dict, value: bytes = b"", sign=None) -> str:
    """A compact JWS with ``header``; the payload segment is ``value``'s (empty: detached)."""
    head = b64(json.dumps(header).encode())
    body = b64(value) if value else ""
    signature = sign(f"{head}.{b64(value) if sign else body}".encode()) if sign else b"\0" * 64
    return f"{head}.{body}.{b64(signature)}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, ["H42010200001", "H42010200002", "A000000", "A340200", "ops"])
    return root


@pytest.fixture
def registry(keys):
    return ParticipantRegistry.load(keys)


@pytest.fixture(scope="module")
def fixed_registry(keys):  # the fuzzing tests only read it
    return ParticipantRegistry.load(keys)


def refused(registry, value, signature, at=NOW) -> str:
    with pytest.raises(Unauthenticated) as caught:
        authenticate(registry, value, signature, at)
    return caught.value.reason


def test_a_detached_signature_repacked_with_its_signed_bytes_does_not_travel_to_another_record(keys, registry):
    """The captured ``h..s`` re-packed as ``h.<b64 of the signed bytes>.s`` verifies over the embedded
    bytes in a library that takes the payload from the token; here it is refused outright."""
    signature = signer_for(keys, "H42010200001").sign(VALUE)
    head, _, sig = signature.split(".")
    assert authenticate(registry, VALUE, signature, NOW).code == "H42010200001"
    assert refused(registry, OTHER, f"{head}.{b64(VALUE)}.{sig}") == "attached_payload"
    assert refused(registry, VALUE, f"{head}.{b64(VALUE)}.{sig}") == "attached_payload"


def test_alg_none_and_hs256_keyed_with_the_public_key_are_refused(keys, registry):
    kid = f"H42010200001/{signer_for(keys, 'H42010200001').keys.sign_kid}"
    head = b64(json.dumps({"alg": "none", "kid": kid}).encode())
    assert refused(registry, VALUE, f"{head}..") == "malformed_signature"
    assert refused(registry, VALUE, token({"alg": "none", "kid": kid})) == "alg_not_allowed"
    public = next(k for k in registry.get("H42010200001").keys if k.use.value == "sig").jwk["x"]
    for secret in (public.encode(), base64.urlsafe_b64decode(public + "=")):
        forged = token(
            {"alg": "HS256", "kid": kid}, VALUE, lambda msg, s=secret: hmac.new(s, msg, hashlib.sha256).digest() * 2
        )
        head, _, sig = forged.split(".")
        assert refused(registry, VALUE, f"{head}..{sig}") == "alg_not_allowed"


@pytest.mark.parametrize(
    "kid, reason",
    [
        ("H42010200001/no-such-key", "unknown_key"),
        ("H42010200001", "malformed_kid"),
        ("H42010200001/", "malformed_kid"),
        ("/k", "malformed_kid"),
        ("H42010200001/a/b", "malformed_kid"),
        ("H42010200001/../../etc", "malformed_kid"),
        ("H42010200001/" + "k" * 65, "malformed_kid"),
        (42, "malformed_kid"),
        ("H99999999999/dev-1", "unknown_sender"),
    ],
)
def test_a_kid_must_name_a_registry_party_and_one_of_its_keys(registry, kid, reason):
    assert refused(registry, VALUE, token({"alg": "Ed25519", "kid": kid})) == reason


@pytest.mark.parametrize(
    "extra",
    [
        {"crit": ["exp"]},
        {"jwk": {"kty": "OKP"}},
        {"jku": "https://x"},
        {"x5u": "https://x"},
        {"x5c": ["AA"]},
        {"b64": False},
    ],
)
def test_header_members_that_change_what_is_verified_are_refused(keys, registry, extra):
    kid = f"H42010200001/{signer_for(keys, 'H42010200001').keys.sign_kid}"
    assert refused(registry, VALUE, token({"alg": "Ed25519", "kid": kid, **extra})) == "header_not_allowed"


def test_eddsa_is_accepted_for_an_ed25519_key(keys, registry):
    """RFC 8037's name, as adapters in the wild send it: verified as Ed25519 with the registry's key."""
    signer = signer_for(keys, "H42010200001")
    kid = f"H42010200001/{signer.keys.sign_kid}"
    good = token({"alg": "EdDSA", "kid": kid}, VALUE, signer.keys.sign.get_op_key("sign").sign)
    head, _, sig = good.split(".")
    assert authenticate(registry, VALUE, f"{head}..{sig}", NOW).code == "H42010200001"
    assert refused(registry, OTHER, f"{head}..{sig}") == "bad_signature"


def test_a_key_past_its_valid_until_or_of_another_party_is_refused(keys, registry):
    signer = signer_for(keys, "H42010200002")
    party = registry.get("H42010200002")
    key = next(k for k in party.keys if k.use.value == "sig")
    registry.apply(
        ChangeParty(
            change_id="retire",
            action=ChangeAction.UPSERT,
            version=1,
            party=party.model_copy(
                update={"keys": (key.model_copy(update={"valid_until": NOW - timedelta(seconds=1)}),)}
            ),
        )
    )
    assert refused(registry, VALUE, signer.sign(VALUE)) == "key_not_valid"
    # H42010200001's key id under H42010200002's name: it is H42010200002's key that must verify
    other = signer_for(keys, "H42010200001")
    head, _, sig = other.sign(VALUE).split(".")
    swapped = b64(json.dumps({"alg": "Ed25519", "kid": f"A340200/{other.keys.sign_kid}"}).encode())
    assert refused(registry, VALUE, f"{swapped}..{sig}") == "bad_signature"


def test_an_x25519_key_registered_as_a_signing_key_is_refused(keys, registry):
    _, public = generate_keys("H42010200002", "mixed")
    x25519 = next(k for k in public if k["use"] == "enc")
    party = registry.get("H42010200002")
    registry.apply(
        ChangeParty(
            change_id="mixed",
            action=ChangeAction.UPSERT,
            version=1,
            party=party.model_copy(update={"keys": (PublicKey.model_validate({**x25519, "use": "sig"}),)}),
        )
    )
    assert refused(registry, VALUE, token({"alg": "Ed25519", "kid": "H42010200002/mixed"})) == "bad_key_type"


def test_the_sender_an_envelope_names_must_be_its_signer(keys, registry):
    change = ChangeParty(change_id="c", action=ChangeAction.REMOVE, version=1, code="H42010200002")
    value = encode(envelope_for("parties.change.v2", change, producer="t", now=NOW, sender="A000000"))
    record = SimpleNamespace(value=value, headers=list(_headers(signer_for(keys, "A340200"), value)), offset=0)
    with pytest.raises(Unauthenticated) as caught:
        signed_envelope(registry, record, ChangeParty, NOW)
    assert caught.value.reason == "sender_mismatch"


def _headers(signer, value):
    return [(k, v.encode()) for k, v in signer.headers(value).items()]


def test_registry_changes_are_ordered_fresh_and_applied_once(keys, registry):
    counted: list[tuple[str, str]] = []
    changes = RegistryChanges(registry, lambda: NOW, 300, lambda kind, reason: counted.append((kind, reason)))
    changes.caught_up()
    national = signer_for(keys, "A000000")

    def record(change: ChangeParty, at: datetime = NOW):
        value = encode(envelope_for("parties.change.v2", change, producer="t", now=at, sender="A000000"))
        return SimpleNamespace(value=value, headers=_headers(national, value), offset=0)

    party = registry.get("A340200")
    add = record(ChangeParty(change_id="a1", action=ChangeAction.UPSERT, version=1, party=party))
    remove = record(ChangeParty(change_id="r2", action=ChangeAction.REMOVE, version=2, code="A340200"))
    assert [changes.apply(r) for r in (add, remove, add)] == ["applied", "applied", "repeated_change"]
    assert (
        changes.apply(record(ChangeParty(change_id="a1b", action=ChangeAction.UPSERT, version=2, party=party)))
        == "stale_version"
    )
    late = record(
        ChangeParty(change_id="a3", action=ChangeAction.UPSERT, version=3, party=party), at=NOW - timedelta(hours=1)
    )
    assert changes.apply(late) == "clock_skew" and registry.get("A340200") is None
    assert counted == [("ignored", "repeated_change"), ("ignored", "stale_version"), ("ignored", "clock_skew")]


def test_the_clock_moves_only_for_the_operator_in_issue_order(keys, registry):
    clock, counted = ControlledClock(), []
    commands = ClockCommands(clock, registry, counted.append)
    target = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)
    value = clock_command_set(target)
    unsigned = SimpleNamespace(value=value, headers=[], offset=0)
    by_agency = clock_command_set(target, sender="A000000")
    assert commands.apply(unsigned) == "unauthenticated:missing_signature"
    assert (
        commands.apply(
            SimpleNamespace(value=by_agency, offset=1, headers=clock_headers(signer_for(keys, "A000000"), by_agency))
        )
        == "not_operator"
    )
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)  # not moved
    signed = SimpleNamespace(value=value, headers=clock_headers(signer_for(keys, "ops"), value), offset=2)
    assert commands.apply(signed) == "applied"
    assert abs(clock.now() - target) < timedelta(seconds=5)
    assert commands.apply(signed) == "stale"  # a copy, or a replay later on
    assert counted == ["unauthenticated:missing_signature", "not_operator", "stale"]


# ---------------------------------------------------------------- fuzzing the parser
HEADERS = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ", "crit", "b64", "jwk", "zip", "x"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=40),
        st.sampled_from(["Ed25519", "EdDSA", "none", "HS256", "H42010200001/dev-1", "A000000/dev-1"]),
        st.lists(st.text(max_size=5), max_size=3),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(signature=st.one_of(st.text(max_size=300), st.binary(max_size=300)), value=st.binary(max_size=200))
def test_any_token_or_bytes_is_either_a_party_or_unauthenticated(fixed_registry, signature, value):
    try:
        authenticate(fixed_registry, value, signature, NOW)
    except Unauthenticated:
        pass


@settings(max_examples=300, deadline=None)
@given(header=HEADERS, payload=st.binary(max_size=40), sig=st.binary(max_size=80), value=st.binary(max_size=80))
def test_any_header_is_refused_without_another_exception(fixed_registry, header, payload, sig, value):
    for forged in (
        f"{b64(json.dumps(header).encode())}.{b64(payload)}.{b64(sig)}",
        f"{b64(json.dumps(header).encode())}..{b64(sig)}",
    ):
        with pytest.raises(Unauthenticated):
            authenticate(fixed_registry, value, forged, NOW)


def test_a_sealed_result_opens_only_as_ecdh_es_with_a256gcm_to_its_own_party(keys, registry):
    from joserfc import jwe

    from runtime.parties import seal_for

    h1 = signer_for(keys, "H42010200001")
    assert h1.open_sealed(seal_for(registry, "H42010200001", b"{}")) == b"{}"
    _, key = registry.encryption_key("H42010200001")
    for header in (
        {"alg": "ECDH-ES+A128KW", "enc": "A256GCM"},
        {"alg": "ECDH-ES", "enc": "A128GCM"},
        {"alg": "ECDH-ES", "enc": "A256GCM", "zip": "DEF"},
    ):
        other = jwe.encrypt_compact(
            {**header, "kid": f"H42010200001/{h1.keys.enc_kid}"},
            b"{}",
            key,
            algorithms=[header["alg"], header["enc"], *(["DEF"] if "zip" in header else [])],
        )
        with pytest.raises(ValueError):
            h1.open_sealed(other)
    with pytest.raises(ValueError):  # sealed to H42010200001, presented to H42010200002
        signer_for(keys, "H42010200002").open_sealed(seal_for(registry, "H42010200001", b"{}"))
