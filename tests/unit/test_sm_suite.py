"""The national algorithms as a deployment's suite (YIDI_CRYPTO_SUITE=sm, 003 §5 (三)): SM2 with SM3
signs records and queries, SM2 and SM4-GCM seal results; a deployment takes only its own suite's
algorithms and keys."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidSignature

from runtime import sm
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
from runtime.query import read_signed, sign_request

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
VALUE = b'{"event_id":"x","sender":"H42010200001","payload":{"total":"20.00"}}'
CODES = ["H42010200001", "H42010200002", "A000000", "A340200", "settlement"]


@pytest.fixture(scope="module")
def sm_keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("sm-keys")
    init_keys(root, CODES, suite="sm")
    return root


@pytest.fixture(scope="module")
def ed_keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("ed-keys")
    init_keys(root, CODES, suite="ed25519")
    return root


@pytest.fixture(scope="module")
def registry(sm_keys):
    return ParticipantRegistry.load(sm_keys, suite="sm")


def _segments(token: str) -> list[str]:
    return token.split(".")


def test_dev_keys_of_the_sm_suite_are_ec_sm2_jwks(sm_keys):
    public = json.loads((sm_keys / "public-keys.json").read_text())["H42010200001"]
    assert [(k["use"], k["jwk"]["kty"], k["jwk"]["crv"], sorted(k["jwk"])) for k in public] == [
        ("sig", "EC", "SM2", ["crv", "kty", "x", "y"]),
        ("enc", "EC", "SM2", ["crv", "kty", "x", "y"]),
    ]
    private = json.loads((sm_keys / "H42010200001.private.json").read_text())
    assert private["sign"]["d"] != private["enc"]["d"]  # one key pair signs, another decrypts


def test_an_sm2_signature_ties_the_exact_bytes_to_the_party(sm_keys, registry):
    signature = signer_for(sm_keys, "H42010200001").sign(VALUE)
    header, payload, sig = _segments(signature)
    assert payload == "" and json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "SM2SM3",
        "kid": "H42010200001/dev-1",
    }
    assert len(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))) == 64  # r ‖ s, not DER
    assert authenticate(registry, VALUE, signature, NOW).code == "H42010200001"
    with pytest.raises(Unauthenticated) as tampered:
        authenticate(registry, VALUE.replace(b"20.00", b"2000.00"), signature, NOW)
    assert tampered.value.reason == "bad_signature"


def test_the_sm2_signature_uses_the_default_user_id():
    """Z is computed over the GM/T 0009 default id 1234567812345678: a verifier with another id refuses."""
    import gmalg

    key = sm.SM2PrivateKey.generate()
    signature = key.sign(b"message")
    key.public.verify(signature, b"message")
    assert gmalg.SM2(pk=key.public.point, uid=b"1234567812345678").verify(b"message", signature[:32], signature[32:])
    assert not gmalg.SM2(pk=key.public.point, uid=b"ALICE123@YAHOO.COM").verify(
        b"message", signature[:32], signature[32:]
    )
    with pytest.raises(InvalidSignature):
        key.public.verify(signature[:63], b"message")


def test_a_deployment_refuses_the_other_suites_signatures(sm_keys, ed_keys, registry):
    """An Ed25519 signature in an SM deployment, an SM2 one in an Ed25519 deployment: alg_not_allowed,
    whatever the keys registered."""
    with pytest.raises(Unauthenticated) as ed_in_sm:
        authenticate(registry, VALUE, signer_for(ed_keys, "H42010200001").sign(VALUE), NOW)
    assert ed_in_sm.value.reason == "alg_not_allowed" and "SM2SM3" in str(ed_in_sm.value)
    ed_registry = ParticipantRegistry.load(ed_keys, suite="ed25519")
    with pytest.raises(Unauthenticated) as sm_in_ed:
        authenticate(ed_registry, VALUE, signer_for(sm_keys, "H42010200001").sign(VALUE), NOW)
    assert sm_in_ed.value.reason == "alg_not_allowed"


def test_a_registry_key_of_another_kind_or_off_the_curve_is_refused(sm_keys):
    ed_public = generate_keys("H42010200001", "k", suite="ed25519")[1][0]
    off_curve = {
        "kid": "k",
        "use": "sig",
        "jwk": {
            **generate_keys("H42010200001", "k", suite="sm")[1][0]["jwk"],
            "y": base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode(),
        },
    }
    private = json.loads((sm_keys / "H42010200001.private.json").read_text())
    signer = Signer(PrivateKeys("H42010200001", "k", sm.SM2PrivateKey.from_jwk(private["sign"])))
    for entry in (ed_public, off_curve):
        base = ParticipantRegistry.load(sm_keys, suite="sm")
        party = base.parties["H42010200001"]
        base.parties["H42010200001"] = party.model_copy(update={"keys": (type(party.keys[0]).model_validate(entry),)})
        with pytest.raises(Unauthenticated) as refused:
            authenticate(base, VALUE, signer.sign(VALUE), NOW)
        assert refused.value.reason == "bad_key_type"


def test_a_result_sealed_with_sm2_and_sm4_opens_only_for_its_institution(sm_keys, registry):
    token = seal_for(registry, "H42010200001", b'{"outcome": "refused"}')
    header = json.loads(base64.urlsafe_b64decode(_segments(token)[0] + "=="))
    assert header == {"alg": "SM2ENC", "enc": "SM4-GCM", "kid": "H42010200001/dev-1"}
    assert len(_segments(token)) == 5
    assert signer_for(sm_keys, "H42010200001").open_sealed(token) == b'{"outcome": "refused"}'
    with pytest.raises(ValueError):  # another institution's key
        signer_for(sm_keys, "H42010200002").open_sealed(token)
    parts = _segments(token)
    altered = ".".join([*parts[:3], ("A" if parts[3][0] != "A" else "B") + parts[3][1:], parts[4]])
    with pytest.raises(ValueError, match="altered"):
        signer_for(sm_keys, "H42010200001").open_sealed(altered)
    other_header = base64.urlsafe_b64encode(json.dumps({**header, "enc": "A256GCM"}).encode()).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="SM4-GCM"):
        signer_for(sm_keys, "H42010200001").open_sealed(".".join([other_header, *parts[1:]]))


def test_a_signed_query_in_the_sm_suite(sm_keys, registry):
    target, headers = sign_request(signer_for(sm_keys, "A340200"), "/clearing/periods", at=NOW, region="340200")
    path, _, query = target.partition("?")
    assert read_signed(registry, path, query, headers["yidi-signature"], NOW, 300).party.code == "A340200"


def test_a_personal_payload_travels_sealed_with_sm2_and_sm4_to_its_readers_only(sm_keys, registry):
    """runtime.wire in the sm suite: the same General JSON shape, SM4-GCM and SM2ENC per reader."""
    from support import completed_settlement

    from runtime.client import PartyClient
    from runtime.parties import load_private_keys
    from runtime.wire import SEALED, SealingError, WireOpener

    init_keys(sm_keys, ["clearing", "prepayment", "collab", "filing"], suite="sm")
    client = PartyClient(None, sm_keys, registry=ParticipantRegistry.load(sm_keys, suite="sm"))  # type: ignore[arg-type]
    payload = completed_settlement(
        "S-SM-1", insured_region="340200", treating_region="420100", settled_on=NOW.date(), funds={"pooling": "120.00"}
    )
    env = client.envelope("settlement.completed.v1", payload, sender="settlement", now=NOW)
    value = client.wire_value("settlement.completed.v1", env)
    sealed = json.loads(value)[SEALED]
    assert (
        json.loads(base64.urlsafe_b64decode(sealed["protected"] + "==="[: (-len(sealed["protected"]) % 4)]))["enc"]
        == "SM4-GCM"
    )
    assert {r["header"]["alg"] for r in sealed["recipients"]} == {"SM2ENC"}
    assert b"11010519491231002X" not in value
    opened = json.loads(WireOpener.of(load_private_keys(sm_keys, "prepayment")).open("settlement.completed.v1", value))
    assert opened["payload"]["person_id"] == "11010519491231002X"
    with pytest.raises(SealingError):
        WireOpener.of(load_private_keys(sm_keys, "filing")).open("settlement.completed.v1", value)
    with pytest.raises(SealingError):  # moved to another topic
        WireOpener.of(load_private_keys(sm_keys, "clearing")).open("settlement.reversed.v1", value)


def _der_int(raw: bytes) -> bytes:
    raw = raw.lstrip(b"\x00") or b"\x00"
    raw = b"\x00" + raw if raw[0] & 0x80 else raw
    return b"\x02" + bytes([len(raw)]) + raw


def _der_seq(body: bytes) -> bytes:
    return b"\x30" + (bytes([len(body)]) if len(body) < 128 else b"\x81" + bytes([len(body)])) + body


OPENSSL = __import__("shutil").which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="no openssl command to check against")
def test_sm2_interoperates_with_openssl(tmp_path):
    """Another implementation (OpenSSL 3) verifies our SM2 signature with the default user id, refuses it
    with another id, and opens our SM2 ciphertext (C1 ‖ C3 ‖ C2, in GM/T 0009's DER for OpenSSL)."""
    import subprocess

    key = sm.SM2PrivateKey.generate()
    spki = _der_seq(
        _der_seq(bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06082a811ccf5501822d"))
        + b"\x03"
        + bytes([len(key.public.point) + 1])
        + b"\x00"
        + key.public.point
    )
    (tmp_path / "pub.pem").write_text(
        "-----BEGIN PUBLIC KEY-----\n" + base64.encodebytes(spki).decode() + "-----END PUBLIC KEY-----\n"
    )
    (tmp_path / "msg").write_bytes(VALUE)
    signature = key.sign(VALUE)
    (tmp_path / "sig").write_bytes(_der_seq(_der_int(signature[:32]) + _der_int(signature[32:])))

    def openssl_verifies(user_id: str) -> bool:
        return (
            subprocess.run(
                [
                    str(OPENSSL),
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    str(tmp_path / "pub.pem"),
                    "-rawin",
                    "-in",
                    str(tmp_path / "msg"),
                    "-sigfile",
                    str(tmp_path / "sig"),
                    "-digest",
                    "sm3",
                    "-pkeyopt",
                    f"distid:{user_id}",
                ],
                capture_output=True,
            ).returncode
            == 0
        )

    if (
        not openssl_verifies("1234567812345678")
        and b"SM2" not in subprocess.run([str(OPENSSL), "list", "-public-key-algorithms"], capture_output=True).stdout
    ):
        pytest.skip("this openssl has no SM2")
    assert openssl_verifies("1234567812345678") and not openssl_verifies("ALICE123@YAHOO.COM")

    generated = subprocess.run([str(OPENSSL), "genpkey", "-algorithm", "SM2"], capture_output=True, check=True).stdout
    (tmp_path / "key.pem").write_bytes(generated)
    text = subprocess.run(
        [str(OPENSSL), "pkey", "-in", str(tmp_path / "key.pem"), "-text", "-noout"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    hexed = lambda part: bytes.fromhex("".join(c for c in part if c in "0123456789abcdef"))  # noqa: E731
    public = sm.SM2PublicKey.from_point(hexed(text.split("pub:")[1].split("ASN1")[0]))
    ciphertext = public.encrypt(b"0123456789abcdef")
    c1x, c1y, c3, c2 = ciphertext[1:33], ciphertext[33:65], ciphertext[65:97], ciphertext[97:]
    (tmp_path / "ct").write_bytes(
        _der_seq(_der_int(c1x) + _der_int(c1y) + b"\x04\x20" + c3 + b"\x04" + bytes([len(c2)]) + c2)
    )
    opened = subprocess.run(
        [str(OPENSSL), "pkeyutl", "-decrypt", "-inkey", str(tmp_path / "key.pem"), "-in", str(tmp_path / "ct")],
        capture_output=True,
        check=True,
    ).stdout
    assert opened == b"0123456789abcdef"
