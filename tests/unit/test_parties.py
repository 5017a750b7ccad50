"""Parties (003 §5 (三)): the registry, signatures over the exact bytes, key validity, and results
sealed to one institution."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from contracts.parties import Agency, AgencyLevel, ChangeAction, ChangeParty, PublicKey
from runtime.parties import (
    ParticipantRegistry,
    PrivateKeys,
    Signer,
    Unauthenticated,
    authenticate,
    generate_keys,
    init_keys,
    seal_for,
    signer_for,
)

NOW = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
VALUE = b'{"event_id": "x", "sender": "H42010200001", "payload": {"total": "20.00"}}'


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, ["H42010200001", "H42010200002", "A000000", "A340200", "settlement"])
    return root


@pytest.fixture
def registry(keys):
    return ParticipantRegistry.load(keys)


def test_a_signature_ties_the_exact_bytes_to_the_party(keys, registry):
    signature = signer_for(keys, "H42010200001").sign(VALUE)
    assert signature.count(".") == 2 and ".." in signature  # detached: the payload is the record value
    assert authenticate(registry, VALUE, signature, NOW).code == "H42010200001"
    with pytest.raises(Unauthenticated) as tampered:  # 20.00 → 1,000,000,000,000.00
        authenticate(registry, VALUE.replace(b"20.00", b"1000000000000.00"), signature, NOW)
    assert tampered.value.reason == "bad_signature"


@pytest.mark.parametrize(
    "signature, reason", [(None, "missing_signature"), ("", "missing_signature"), ("not a jws", "malformed_signature")]
)
def test_missing_or_malformed_signatures_are_unauthenticated(registry, signature, reason):
    with pytest.raises(Unauthenticated) as refused:
        authenticate(registry, VALUE, signature, NOW)
    assert refused.value.reason == reason


def test_a_key_not_in_the_registry_is_refused(registry):
    """Someone signs as H42010200001 with a key of their own making."""
    private, _ = generate_keys("H42010200001", "forged")
    forger = Signer(PrivateKeys("H42010200001", "forged", OKPKey.import_key(private["sign"])))
    with pytest.raises(Unauthenticated) as refused:
        authenticate(registry, VALUE, forger.sign(VALUE), NOW)
    assert refused.value.reason == "unknown_key"


def test_an_unknown_sender_is_refused(registry):
    private, _ = generate_keys("H99999999999", "k")
    stranger = Signer(PrivateKeys("H99999999999", "k", OKPKey.import_key(private["sign"])))
    with pytest.raises(Unauthenticated) as refused:
        authenticate(registry, VALUE, stranger.sign(VALUE), NOW)
    assert refused.value.reason == "unknown_sender"


def test_a_key_is_valid_only_in_its_window(keys, registry):
    """Rotation: a retired key (valid_until passed) and a key not yet valid both refuse."""
    party = registry.get("H42010200002")
    signer = signer_for(keys, "H42010200002")
    sig_key = next(k for k in party.keys if k.use.value == "sig")
    retired = sig_key.model_copy(update={"valid_until": NOW - timedelta(days=1)})
    future = sig_key.model_copy(update={"valid_from": NOW + timedelta(days=1)})
    for version, key in enumerate((retired, future), start=1):
        registry.apply(
            ChangeParty(
                change_id=f"c{version}",
                action=ChangeAction.UPSERT,
                version=version,
                party=party.model_copy(update={"keys": (key,)}),
            )
        )
        with pytest.raises(Unauthenticated) as refused:
            authenticate(registry, VALUE, signer.sign(VALUE), NOW)
        assert refused.value.reason == "key_not_valid"


def test_the_registry_changes_at_run_time(keys, registry):
    private, public = generate_keys("A340300", "k1")
    new = Agency(
        code="A340300",
        name="蚌埠市医疗保障事业管理中心",
        region="340300",
        level=AgencyLevel.CITY,
        parent="A340000",
        keys=tuple(PublicKey.model_validate(k) for k in public),
    )
    signer = Signer(PrivateKeys("A340300", "k1", OKPKey.import_key(private["sign"])))
    with pytest.raises(Unauthenticated):
        authenticate(registry, VALUE, signer.sign(VALUE), NOW)
    registry.apply(ChangeParty(change_id="add", action=ChangeAction.UPSERT, version=1, party=new))
    assert authenticate(registry, VALUE, signer.sign(VALUE), NOW).code == "A340300"
    assert registry.speaks_for("A340000", "340300") and not registry.speaks_for("A340200", "340300")
    registry.apply(ChangeParty(change_id="rm", action=ChangeAction.REMOVE, version=2, code="A340300"))
    with pytest.raises(Unauthenticated) as removed:
        authenticate(registry, VALUE, signer.sign(VALUE), NOW)
    assert removed.value.reason == "unknown_sender"
    # the captured 'add' sent again, or re-issued with its old version: removal is final
    assert (
        registry.apply(ChangeParty(change_id="add", action=ChangeAction.UPSERT, version=1, party=new))
        == "repeated_change"
    )
    assert (
        registry.apply(ChangeParty(change_id="add-again", action=ChangeAction.UPSERT, version=2, party=new))
        == "stale_version"
    )
    assert registry.get("A340300") is None and registry.versions["A340300"] == 2
    assert registry.apply(ChangeParty(change_id="re-add", action=ChangeAction.UPSERT, version=3, party=new)) is None
    assert authenticate(registry, VALUE, signer.sign(VALUE), NOW).code == "A340300"  # a newer version re-adds


def test_agency_levels_and_parents_come_from_the_registry(registry):
    assert registry.parent_of("A340200").code == "A340000"
    assert registry.parent_of("A340000").code == "A000000"
    assert registry.agency_of("420100").code == "A420100" and registry.agency_of(None).code == "A000000"
    assert registry.speaks_for("A000000", "420100")  # national level
    assert registry.speaks_for("A420000", "420100")  # its province
    assert not registry.speaks_for("A340000", "420100")  # another province
    assert not registry.speaks_for("A420100", "420900")  # a neighbouring city
    assert not registry.speaks_for("H42010200001", "420100")  # not an agency
    assert registry.level_above("340200").code == "A340000"  # Wuhu's province
    assert registry.level_above("340300").code == "A340000"  # Bengbu has no agency registered: still Anhui
    assert registry.level_above("340000").code == "A000000"


def test_a_result_sealed_to_one_hospital_opens_only_there(keys, registry):
    token = seal_for(registry, "H42010200001", b'{"person_id": "secret"}')
    assert b"secret" not in token.encode()
    assert signer_for(keys, "H42010200001").open_sealed(token) == b'{"person_id": "secret"}'
    with pytest.raises((JoseError, ValueError)):
        signer_for(keys, "H42010200002").open_sealed(token)


def test_private_keys_are_only_readable_by_their_owner(keys):
    for name in os.listdir(keys):
        if name.endswith(".private.json"):
            assert stat.S_IMODE(os.stat(keys / name).st_mode) == 0o600, name
    public = json.loads((keys / "public-keys.json").read_text())
    assert all("d" not in key["jwk"] for entries in public.values() for key in entries)  # never a private part


def test_the_registry_file_is_valid_and_parents_exist():
    registry = ParticipantRegistry.load()
    assert {"filing", "settlement", "clearing", "prepayment", "collab", "supervision"} <= set(registry.parties)
    for agency in registry.agencies():
        assert agency.level is AgencyLevel.NATIONAL or registry.parent_of(agency.code) is not None, agency.code
