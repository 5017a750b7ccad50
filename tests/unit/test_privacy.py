"""Personal data protected (003 §5 (三)): pseudonyms, sealing at rest, log redaction, region
allow-list and ID-number check digits."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import stat

import pytest
from pydantic import BaseModel, ValidationError

from contracts.registry import ALL_TOPICS
from contracts.values import PersonId, RegionCode, make_person_id
from runtime import privacy, sealing
from runtime.logs import _ContextFilter, formatter, redact
from runtime.sealing import DataKeyring, SealError

PERSON = make_person_id("34020219600101001")


@pytest.fixture
def secret():
    privacy.configure("test secret one")
    yield
    privacy.configure(None)


# ---------------------------------------------------------------- pseudonyms
def test_pseudonym_is_stable_keyed_and_hides_the_number(secret):
    first = privacy.pseudonym(PERSON)
    assert first == privacy.pseudonym(f" {PERSON.lower()} ")  # normalised: blanks, x/X
    assert first.startswith("p") and len(first) == 33 and privacy.is_pseudonym(first)
    assert PERSON not in first and PERSON[:6] not in first
    assert privacy.pseudonym(make_person_id("34020219600101002")) != first
    privacy.configure("test secret two")
    assert privacy.pseudonym(PERSON) != first  # keyed: another secret, another pseudonym


def test_dev_secrets_are_created_once_and_private(tmp_path):
    created = privacy.ensure_dev_secrets(tmp_path / "keys")
    assert {p.name for p in created} == {"pseudonym.secret", "data-keys.json"}
    for path in created:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = (tmp_path / "keys" / "pseudonym.secret").read_text()
    assert privacy.ensure_dev_secrets(tmp_path / "keys") == []  # never overwritten
    assert (tmp_path / "keys" / "pseudonym.secret").read_text() == before
    ring = DataKeyring.from_json((tmp_path / "keys" / "data-keys.json").read_text())
    assert ring.open(ring.seal("x", "340200")) == "x"


def test_the_secret_is_read_from_the_keys_directory(tmp_path, monkeypatch):
    privacy.ensure_dev_secrets(tmp_path)
    monkeypatch.delenv("YIDI_PSEUDONYM_SECRET", raising=False)
    monkeypatch.setenv("YIDI_KEYS_DIR", str(tmp_path))
    privacy.configure(None)
    try:
        from_file = privacy.pseudonym(PERSON)
        privacy.configure((tmp_path / "pseudonym.secret").read_text().strip())
        assert privacy.pseudonym(PERSON) == from_file
    finally:
        privacy.configure(None)


def test_topics_keyed_by_a_person_say_so():
    personal = {name for name, spec in ALL_TOPICS.items() if spec.personal_key}
    assert {
        "filing.changed.v1",
        "settlement.completed.v1",
        "settlement.treating-assessed.v1",
        "settlement.deadline-due.v1",
    } <= personal
    assert not {"clearing.entry.v1", "prepayment.usage.v1", "collab.request-opened.v1"} & personal


# ---------------------------------------------------------------- sealing
def test_sealing_round_trip_hides_the_data_and_names_its_key():
    ring = DataKeyring.generate()
    state = {"person_id": PERSON, "name": "张三", "diagnoses": [{"code": "I63.9", "name": "脑梗死"}]}
    sealed = ring.seal(state, "340200")
    assert set(sealed) == {"kid", "nonce", "ct"} and sealed["kid"] == "340200:v1"
    assert PERSON not in json.dumps(sealed) and "张三" not in json.dumps(sealed, ensure_ascii=False)
    assert ring.open(sealed) == state
    assert ring.open(ring.seal("a message", "420100")) == "a message"
    assert ring.seal(state, "340200")["ct"] != sealed["ct"]  # a fresh nonce every time


def test_a_sealed_value_under_another_kid_or_key_does_not_open():
    ring = DataKeyring.generate()
    sealed = ring.seal({"x": 1}, "340200")
    with pytest.raises(SealError):
        ring.open({**sealed, "kid": "420100:v1"})  # another region's key (and AAD)
    with pytest.raises(SealError):
        ring.open({**sealed, "kid": "340200:v9"})  # a version the keyring lacks
    with pytest.raises(SealError):
        DataKeyring.generate().open(sealed)  # another master secret
    tampered = base64.b64decode(sealed["ct"])
    with pytest.raises(SealError):
        ring.open({**sealed, "ct": base64.b64encode(bytes([tampered[0] ^ 1]) + tampered[1:]).decode()})


def test_regions_have_their_own_data_keys():
    ring = DataKeyring.generate()
    a, b = ring.data_key("340200", "v1"), ring.data_key("420100", "v1")
    nonce = b"\0" * 12
    assert a.encrypt(nonce, b"same", None) != b.encrypt(nonce, b"same", None)


def test_rotation_keeps_old_versions_readable_and_seals_with_the_new_one(tmp_path):
    v1 = DataKeyring.generate()
    old = v1.seal({"n": 1}, "340200")
    v2 = v1.with_version("v2", os.urandom(32))
    assert v2.open(old) == {"n": 1}  # written before the rotation
    resealed = v2.seal(v2.open(old), "340200")  # its next write
    assert resealed["kid"] == "340200:v2" and v2.open(resealed) == {"n": 1}
    with pytest.raises(SealError):
        v1.open(resealed)
    sealing.write_keyring_file(tmp_path / "data-keys.json", v2)
    loaded = DataKeyring.from_json((tmp_path / "data-keys.json").read_text())
    assert loaded.current == "v2" and loaded.open(old) == {"n": 1}


def test_a_plain_value_written_before_sealing_still_loads():
    ring = DataKeyring.generate()
    assert ring.unseal({"person_id": PERSON}) == {"person_id": PERSON}
    assert ring.unseal("a message") == "a message"


def test_store_seals_a_personal_state_and_opens_it_again(secret):
    from runtime.store import SEALED_BY, AggregateStore, open_document

    ring = DataKeyring.generate()
    sealing.configure(ring)
    try:
        store = AggregateStore(db={}, relay=None, producer="t", now=None)  # type: ignore[arg-type]
        store.protect("people", lambda s: s.get("insured_region"))
        assert store.document_id("people", PERSON) == privacy.pseudonym(PERSON)
        assert store.document_id("ledgers", "2026-12:340200:420100") == "2026-12:340200:420100"
        plain = {
            "_id": store.document_id("people", PERSON),
            "version": 1,
            "state": {"person_id": PERSON},
            SEALED_BY: "340200:v1",
        }
        stored = store._at_rest("people", plain)
        assert SEALED_BY not in stored and PERSON not in json.dumps(stored)
        assert stored["state"]["kid"] == "340200:v1"
        assert open_document(stored)["state"] == {"person_id": PERSON}
        old_shape = {"_id": PERSON, "state": {"person_id": PERSON}}
        assert open_document(old_shape) == old_shape
    finally:
        sealing.configure(None)


# ---------------------------------------------------------------- logs
def _line(record_args: tuple, exc: BaseException | None = None, **extra) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter())
    handler.addFilter(_ContextFilter("settlement", "test"))
    logger = logging.getLogger("test_privacy")
    logger.handlers[:] = [handler]
    logger.propagate = False
    try:
        if exc is not None:
            try:
                raise exc
            except type(exc):
                logger.exception(*record_args, extra=extra)
        else:
            logger.warning(*record_args, extra=extra)
    finally:
        logger.handlers.clear()
    return stream.getvalue()


def test_an_exception_naming_an_id_number_is_masked_in_message_and_traceback():
    line = _line(("settling %s failed", PERSON), ValueError(f"no filing for {PERSON} (张三, 13812345678)"))
    record = json.loads(line)
    assert PERSON not in line and "13812345678" not in line
    assert privacy.pseudonym(PERSON) in record["message"] and privacy.pseudonym(PERSON) in record["exc_info"]
    assert "Traceback" in record["exc_info"] and "138****5678" in record["exc_info"]


def test_names_phones_and_old_numbers_are_masked_in_fields_and_text():
    line = _line(
        ("payload %s", json.dumps({"name": "张三", "phone": "13912345678"}, ensure_ascii=False)),
        patient={"patient_name": "李四", "person_id": PERSON, "tel": "0551-62345678"},
    )
    assert "张三" not in line and "李四" not in line and PERSON not in line
    assert "13912345678" not in line and "62345678" not in line
    assert "姓名：王**" in redact("姓名：王小明") and "name=张**" in redact("name=张三丰")
    assert redact("StayDetails(name='李四')") == "StayDetails(name='李**')"
    assert redact("old number 340202600101001") == "old number 3402**********1"
    assert (
        redact("institution H42010200001, settlement S-6d1f0c2a") == "institution H42010200001, settlement S-6d1f0c2a"
    )


# ---------------------------------------------------------------- regions and ID numbers
class _Region(BaseModel):
    region: RegionCode


class _Person(BaseModel):
    person: PersonId


def test_an_unknown_region_is_refused_with_its_own_code():
    with pytest.raises(ValidationError) as caught:
        _Region(region="349900")
    [error] = caught.value.errors()
    assert error["type"] == "unknown_region"
    assert error["msg"] == "region code 349900 is not a pooling region of GB/T 2260 (UNKNOWN_REGION)"
    assert _Region(region="340200").region.name == "芜湖市"
    assert RegionCode("660000").is_provincial_pool and RegionCode("460200").province == "460000"
    with pytest.raises(ValidationError) as county:
        _Region(region="340202")
    assert county.value.errors()[0]["type"] == "region_code"  # a county keeps its own message


def test_id_numbers_need_their_check_digit_and_a_real_birth_date():
    assert _Person(person=PERSON.lower()).person == PERSON
    wrong = PERSON[:-1] + ("1" if PERSON[-1] != "1" else "2")
    with pytest.raises(ValidationError, match="check digit"):
        _Person(person=wrong)
    with pytest.raises(ValidationError, match="birth date"):
        _Person(person=make_person_id("34020219600231001"))  # 31 February
    with pytest.raises(ValidationError, match="18 characters"):
        _Person(person="3402021960010100")
    assert make_person_id("11010519491231002") == "11010519491231002X"  # GB 11643's example
