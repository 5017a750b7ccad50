"""Property-based fuzzing of what reads untrusted bytes first: the signature check
(``runtime.parties.authenticate``) and the envelope parser (``runtime.envelopes.parse``,
``peek_ids``). Whatever arrives, each raises only its documented, classified exception —
``Unauthenticated`` (with one of its reasons), ``ValueError`` (pydantic's ``ValidationError`` is
one) — and ``peek_ids`` never raises at all: it is called on exactly what failed to parse."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from contracts.registry import ALL_TOPICS
from runtime.envelopes import encode, envelope_for, parse, peek_ids
from runtime.failures import PoisonMessage
from runtime.parties import ParticipantRegistry, Unauthenticated, authenticate, signer_for

REASONS = {
    "missing_signature",
    "malformed_signature",
    "attached_payload",
    "header_not_allowed",
    "alg_not_allowed",
    "malformed_kid",
    "unknown_sender",
    "unknown_key",
    "key_not_valid",
    "bad_key_type",
    "bad_signature",
}
NOW = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000


@pytest.fixture(scope="module")
def registry() -> ParticipantRegistry:
    import os

    return ParticipantRegistry.load(os.environ["YIDI_KEYS_DIR"])


@pytest.fixture(scope="module")
def genuine() -> tuple[bytes, str]:
    """A genuine record value and its signature (H42010200001), the material of mutated tokens."""
    import os

    from contracts.his import FeeLine, OutpatientVisitRequested
    from contracts.values import make_person_id

    request = OutpatientVisitRequested(
        request_id="FUZZ-1",
        person_id=make_person_id("34020219600101123"),
        credential_type="e_voucher",
        insurance_type="310",
        insured_region="340200",
        treating_region="420100",
        institution_code="H42010200001",
        hospital_level="3",
        medical_type="general_outpatient",
        visit_id="V-FUZZ-1",
        diagnoses=[{"code": "I25.1", "name": "冠心病"}],
        visit_date=NOW.date(),
        fee_lines=[
            FeeLine(
                line_no=1, item_code="310701001", item_name="心电图", quantity="1", unit_price="2.00", amount="2.00"
            )
        ],
    )
    env = envelope_for("his.outpatient-requested.v1", request, producer="his", now=NOW, sender="H42010200001")
    value = encode(env)
    return value, signer_for(os.environ["YIDI_KEYS_DIR"], "H42010200001").sign(value)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["Ed25519", "EdDSA", "none", "HS256", "", 1]),
        "kid": st.one_of(st.text(max_size=30), st.just("H42010200001/dev-1"), st.just("H42010200001/"), st.integers()),
        "b64": st.booleans(),
        "crit": st.lists(st.text(max_size=5)),
        "jwk": json_values,
    },
)
tokens = st.one_of(
    st.none(),
    st.binary(max_size=200),
    st.text(max_size=200),
    st.builds(
        lambda h, p, s: f"{b64(json.dumps(h).encode())}.{p}.{s}",
        headers,
        st.text(max_size=30),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=90),
    ),
    st.builds(lambda h, s: f"{h}..{s}", st.text(max_size=40), st.text(max_size=40)),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(max_size=300), signature=tokens)
@example(value=b"{}", signature="..")
@example(value=b"{}", signature="e30..")
@example(value=b"{}", signature=b"\xff\xfe..")
@example(value=DEEP, signature="eyJhbGciOiJFZDI1NTE5In0..AAAA")
def test_authenticate_raises_only_unauthenticated(registry, value, signature):
    try:
        authenticate(registry, value, signature, NOW)
    except Unauthenticated as exc:
        assert exc.reason in REASONS, exc.reason
    else:
        pytest.fail("an arbitrary signature was taken for a party's")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_genuine_signatures_raise_only_unauthenticated(registry, genuine, data):
    """A genuine token with one part replaced, re-packed, or bytes flipped in the value."""
    value, token = genuine
    protected, _, signature = token.split(".")
    choice = data.draw(st.sampled_from(["protected", "signature", "value", "repacked", "payload_part"]))
    if choice == "protected":
        token = f"{data.draw(st.text(max_size=60))}..{signature}"
    elif choice == "signature":
        token = f"{protected}..{data.draw(st.text(max_size=90))}"
    elif choice == "value":
        i = data.draw(st.integers(0, len(value) - 1))
        value = value[:i] + bytes([value[i] ^ data.draw(st.integers(1, 255))]) + value[i + 1 :]
    elif choice == "repacked":  # the captured signature over its own bytes, on another value
        token = f"{protected}.{b64(value)}.{signature}"
        value = value.replace(b"FUZZ-1", b"FUZZ-2")
    else:
        token = f"{protected}.{data.draw(st.text(min_size=1, max_size=60))}.{signature}"  # an empty one is the genuine token
    with pytest.raises(Unauthenticated) as raised:
        authenticate(registry, value, token, NOW)
    assert raised.value.reason in REASONS


TOPICS = sorted(ALL_TOPICS)


@settings(max_examples=400, deadline=None)
@given(
    topic=st.sampled_from(TOPICS),
    raw=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
)
@example(topic="his.outpatient-requested.v1", raw=DEEP)
@example(topic="his.outpatient-requested.v1", raw=DEEP_OBJECT)
@example(topic="his.outpatient-requested.v1", raw=b'{"payload": ' + DEEP + b"}")
@example(topic="his.outpatient-requested.v1", raw=b"\x00")
@example(topic="his.outpatient-requested.v1", raw=b"1" + b"0" * 5000)
def test_parse_raises_only_value_errors_and_peek_ids_never_raises(topic, raw):
    try:
        parse(topic, raw)
    except (ValueError, PoisonMessage):  # PoisonMessage: invalid_message (a NUL character)
        pass
    ids = peek_ids(raw)
    assert isinstance(ids, dict)
    assert set(ids) <= {"event_id", "type", "correlation_id"}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_genuine_envelope_parses_or_raises_a_value_error(genuine, data):
    value, _ = genuine
    envelope = json.loads(value)
    path = data.draw(
        st.sampled_from(
            [
                ("event_id",),
                ("type",),
                ("schema_version",),
                ("occurred_at",),
                ("payload",),
                ("payload", "person_id"),
                ("payload", "fee_lines"),
                ("payload", "visit_date"),
                ("payload", "insured_region"),
            ]
        )
    )
    node = envelope
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = data.draw(json_values)
    raw = json.dumps(envelope).encode()
    try:
        parse("his.outpatient-requested.v1", raw)
    except (ValueError, PoisonMessage):
        pass
    assert isinstance(peek_ids(raw), dict)
