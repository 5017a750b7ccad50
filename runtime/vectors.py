"""Test vectors of the signature and sealing formats (``contracts/vectors/``): what an adapter
written in another language checks its own code against. ``yidi vectors write`` rebuilds them from
fixed sample keys (derived from a fixed text, published here: test keys, never a party's real ones)
and fixed content; ``yidi vectors check`` says whether the committed files are what it would write.

Per suite (``contracts/vectors/<suite>/``):

* ``record.json``: an envelope's exact bytes, the signing key pair, the protected header and the
  ``yidi-signature`` value (Ed25519 is deterministic: the same key and bytes give the same value);
* ``sealed-result.json``: a compact JWE sealed to an institution, the private key that opens it and
  the plaintext it opens to (sealing is randomised: a rebuild keeps the committed JWE while it
  still opens to that plaintext);
* ``query.json``: a signed query: path, raw query string (with ``at``), the header value, the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.clearing import ClearingSide, ConfirmClearingPeriod
from contracts.his_result import SettlementRefused
from contracts.parties import PublicKey
from contracts.settlement_values import RefusalCode
from contracts.values import make_person_id
from runtime.envelopes import encode, envelope_for
from runtime.parties import ParticipantRegistry, PrivateKeys, Signer, authenticate, private_keys, seal_for
from runtime.query import read_signed, sign_request, signed_target
from runtime.suites import SUITES, Suite, b64url, suite_named

VECTORS = Path(__file__).resolve().parents[1] / "contracts" / "vectors"
SIGNER_CODE, SIGNER_KID = "A340200", "sample-1"  # a city agency of the sample registry
RECIPIENT_CODE, RECIPIENT_KID = "H42010200001", "sample-1"  # a hospital of the sample registry
AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # when the vectors are signed and checked
QUERY_PATH = "/clearing/periods"
SAMPLE_NOTE = (
    "SAMPLE TEST KEYS, derived from a published text (runtime/vectors.py): never use them for a "
    "real party; they exist so that an implementation can be checked against these bytes."
)
FILES = ("record.json", "sealed-result.json", "query.json")


def seed(what: str) -> bytes:
    """32 bytes fixed by ``what``: the sample keys are reproducible and plainly not secret."""
    return hashlib.sha256(f"yidi sample test-vector key, not for production: {what}".encode()).digest()


def sample_keys(suite: Suite) -> tuple[PrivateKeys, PrivateKeys, dict[str, Any], dict[str, Any]]:
    """The signer's and the recipient's private keys, and their private JWKs (signing, encryption)."""
    sign_jwk = suite.signing_jwk_from_seed(seed(f"{suite.name} {SIGNER_CODE}/{SIGNER_KID} sig"))
    enc_jwk = suite.encryption_jwk_from_seed(seed(f"{suite.name} {RECIPIENT_CODE}/{RECIPIENT_KID} enc"))
    signer = private_keys(SIGNER_CODE, {"kid": SIGNER_KID, **sign_jwk}, None)
    recipient = private_keys(RECIPIENT_CODE, {"kid": SIGNER_KID, **sign_jwk}, {"kid": RECIPIENT_KID, **enc_jwk})
    return signer, recipient, sign_jwk, enc_jwk


def registry_with(suite: Suite, keys: dict[str, list[dict]]) -> ParticipantRegistry:
    """The sample registry whose parties named in ``keys`` hold exactly those public key entries."""
    base = ParticipantRegistry.load()
    parties = [
        p.model_copy(update={"keys": tuple(PublicKey.model_validate(k) for k in keys[p.code])}) if p.code in keys else p
        for p in base.parties.values()
    ]
    return ParticipantRegistry(parties, suite=suite.name)


def _record_value() -> bytes:
    confirm = ConfirmClearingPeriod(
        clearing_month="2026-11",
        insured_region="340200",
        treating_region="420100",
        side=ClearingSide.INSURED,
        confirmed_at=AT,
    )
    envelope = envelope_for(
        "clearing.confirm-period.v1",
        confirm,
        producer=SIGNER_CODE,
        now=AT,
        event_id=uuid.UUID("6a4c1d7e-2b1f-4e0a-9c3d-5f6e7a8b9c0d"),
        sender=SIGNER_CODE,
    )
    return encode(envelope)


def _result_plaintext() -> bytes:
    refused = SettlementRefused(
        request_id="H42010200001-20261201-000001",
        person_id=make_person_id("42010119800101001"),
        institution_code=RECIPIENT_CODE,
        code=RefusalCode.NOT_FILED,
        title_zh="未办理异地就医备案",
        message="sample: no valid filing for 420100 on 2026-12-01",
    )
    return refused.model_dump_json().encode()


def build(suite: Suite, committed: dict[str, dict] | None = None) -> dict[str, dict]:
    """The three vectors of ``suite`` (``committed``: the files as they are, whose sealed value is
    kept while it still opens to the plaintext)."""
    signer_keys, recipient_keys, sign_jwk, enc_jwk = sample_keys(suite)
    sign_public, enc_public = suite.public_jwk(sign_jwk), suite.public_jwk(enc_jwk)
    signer = Signer(signer_keys)
    value = _record_value()
    sign_entry = {"kid": SIGNER_KID, "use": "sig", "jwk": sign_public}
    registry = registry_with(
        suite, {SIGNER_CODE: [sign_entry], RECIPIENT_CODE: [{"kid": RECIPIENT_KID, "use": "enc", "jwk": enc_public}]}
    )
    # a randomised signature (SM2) is kept while it verifies, so that a rebuild changes nothing
    signature = _kept(
        (committed or {}).get("record.json", {}).get("signature"), lambda kept: authenticate(registry, value, kept, AT)
    ) or signer.sign(value)
    protected = signature.split(".")[0]
    record = {
        "note": SAMPLE_NOTE,
        "suite": suite.name,
        "topic": "clearing.confirm-period.v1",
        "value": value.decode(),
        "signer": SIGNER_CODE,
        "signing_key": {"private_jwk": {"kid": SIGNER_KID, **sign_jwk}, "public_jwk": sign_public},
        "registry_entry": sign_entry,
        "protected_header": _header(protected),
        "protected": protected,
        "signing_input": f"{protected}.{b64url(value)}",
        "header": "yidi-signature",
        "signature": signature,
        "at": AT.isoformat(),
        "deterministic": suite.deterministic_signatures,
    }
    plaintext = _result_plaintext()
    token = (committed or {}).get("sealed-result.json", {}).get("jwe")
    if not (isinstance(token, str) and _opens(Signer(recipient_keys), token, plaintext)):
        token = seal_for(registry, RECIPIENT_CODE, plaintext)
    sealed = {
        "note": SAMPLE_NOTE,
        "suite": suite.name,
        "recipient": RECIPIENT_CODE,
        "recipient_key": {"private_jwk": {"kid": RECIPIENT_KID, **enc_jwk}, "public_jwk": enc_public},
        "registry_entry": {"kid": RECIPIENT_KID, "use": "enc", "jwk": enc_public},
        "protected_header": _header(token.split(".")[0]),
        "jwe": token,
        "plaintext": plaintext.decode(),
    }
    target, headers = sign_request(signer, QUERY_PATH, at=AT, region="340200")
    query_string = target.partition("?")[2]
    headers["yidi-signature"] = (
        _kept(
            (committed or {}).get("query.json", {}).get("signature"),
            lambda kept: read_signed(registry, QUERY_PATH, query_string, kept, AT, 300),
        )
        or headers["yidi-signature"]
    )
    query = {
        "note": SAMPLE_NOTE,
        "suite": suite.name,
        "signer": SIGNER_CODE,
        "path": QUERY_PATH,
        "query": query_string,
        "signed_bytes": signed_target(QUERY_PATH, query_string).decode(),
        "at": int(AT.timestamp()),
        "header": "yidi-signature",
        "signature": headers["yidi-signature"],
        "public_jwk": sign_public,
        "registry_entry": sign_entry,
    }
    return {"record.json": record, "sealed-result.json": sealed, "query.json": query}


def _kept(committed: Any, check: Callable[[str], object]) -> str | None:
    """A committed signature that still checks (a randomised one is kept), else None."""
    if not isinstance(committed, str):
        return None
    try:
        check(committed)
    except Exception:  # no longer valid: sign anew
        return None
    return committed


def _header(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _opens(signer: Signer, token: str, plaintext: bytes) -> bool:
    try:
        return signer.open_sealed(token) == plaintext
    except Exception:  # any failure to open means: seal anew
        return False


def read(suite: Suite, root: Path = VECTORS) -> dict[str, dict]:
    folder = root / suite.name
    return {
        name: json.loads((folder / name).read_text(encoding="utf-8")) for name in FILES if (folder / name).is_file()
    }


def write(suite: Suite, root: Path = VECTORS) -> list[Path]:
    folder = root / suite.name
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in build(suite, read(suite, root)).items():
        path = folder / name
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def verify(suite: Suite, vectors: dict[str, dict]) -> list[str]:
    """What of ``vectors`` the runtime does not accept as it stands (empty: all of it checks)."""
    problems: list[str] = []
    record, sealed, query = vectors["record.json"], vectors["sealed-result.json"], vectors["query.json"]
    registry = registry_with(
        suite, {record["signer"]: [record["registry_entry"]], sealed["recipient"]: [sealed["registry_entry"]]}
    )
    at = datetime.fromisoformat(record["at"])
    checks: list[tuple[str, Callable[[], object]]] = [
        ("record signature", lambda: authenticate(registry, record["value"].encode(), record["signature"], at)),
        (
            "sealed result",
            lambda: _expect(
                Signer(
                    private_keys(
                        sealed["recipient"],
                        record["signing_key"]["private_jwk"],
                        sealed["recipient_key"]["private_jwk"],
                    )
                ).open_sealed(sealed["jwe"]),
                sealed["plaintext"].encode(),
            ),
        ),
        (
            "signed query",
            lambda: read_signed(
                registry,
                query["path"],
                query["query"],
                query["signature"],
                datetime.fromtimestamp(query["at"], UTC),
                300,
            ),
        ),
    ]
    if record["deterministic"]:
        checks.append(
            (
                "record signature recomputed",
                lambda: _expect(
                    Signer(private_keys(record["signer"], record["signing_key"]["private_jwk"], None)).sign(
                        record["value"].encode()
                    ),
                    record["signature"],
                ),
            )
        )
    for name, check in checks:
        try:
            check()
        except Exception as exc:  # each check says what failed, the others still run
            problems.append(f"{suite.name} {name}: {type(exc).__name__}: {exc}")
    return problems


def _expect(got: object, wanted: object) -> None:
    if got != wanted:
        raise ValueError(f"got {got!r}, expected {wanted!r}"[:300])


def check(suite: Suite, root: Path = VECTORS) -> list[str]:
    """The committed vectors verify, and a rebuild gives the same files (the JWE kept while it opens)."""
    committed = read(suite, root)
    missing = [f"{suite.name}/{name} is missing" for name in FILES if name not in committed]
    if missing:
        return missing
    problems = verify(suite, committed)
    rebuilt = build(suite, committed)
    for name in FILES:
        for field, value in rebuilt[name].items():
            if committed[name].get(field) != value:
                problems.append(f"{suite.name}/{name}: {field} differs from a rebuild (run `yidi vectors write`)")
    return problems


def main(action: str, suites: list[str] | None = None) -> int:
    chosen = [suite_named(name) for name in (suites or list(SUITES))]
    if action == "write":
        for suite in chosen:
            for path in write(suite):
                print(path)
        return 0
    problems = [p for suite in chosen for p in check(suite)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0
