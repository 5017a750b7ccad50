"""Signed queries on a service's HTTP port: how an agency (or the console acting for it) reads what
it may see (003 §5 (三)). No business rules here: each service says which parameters a path takes and
who may see what (``services/<name>/query.py``).

Authentication: the header ``yidi-signature`` carries a detached JWS in compact form
(``<protected>..<signature>``: protected header ``{"alg": "Ed25519", "kid": "<party>/<key>"}``, where
a verifier takes ``"EdDSA"`` as Ed25519 too; the same format as every Kafka record,
``contracts.parties``) over the request target exactly as sent — the path, ``?`` and the raw query
string, percent-encoding included (``signed_target``) — signed by a registry party; the signed query
holds ``at`` (Unix seconds), which must lie within the clock-skew limit of the service's business
time, so a captured request cannot be replayed later. ``contracts/vectors/<suite>/query.json`` is a
sample. Answers: 200 with the body, 400 a bad
query, 401 not signed by a registry party (or a stale ``at``), 403 not allowed, 404 nothing to show.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

from faststream.asgi import AsgiResponse, get

from contracts.parties import Agency, Channel, Institution, PersonAuthentication
from runtime.parties import (
    SIGNATURE_HEADER,
    AnyParty,
    ParticipantRegistry,
    Signer,
    Unauthenticated,
    authenticate,
    seal_for,
)

FORMATS = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class QueryRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SignedQuery:
    """Who asks (an authenticated registry party), on which path, with which parameters."""

    party: AnyParty
    path: str
    params: dict[str, str]

    def agency(self) -> Agency:
        """The asking agency, or 403 for any other kind of party."""
        if not isinstance(self.party, Agency):
            raise QueryRefused(403, f"UNAUTHORIZED: {self.party.code} is not an agency")
        return self.party

    def channel(self) -> Channel:
        """The asking channel, or 403 for any other kind of party."""
        if not isinstance(self.party, Channel):
            raise QueryRefused(403, f"UNAUTHORIZED: {self.party.code} is not a channel")
        return self.party

    def institution(self) -> Institution:
        """The asking institution, or 403 for any other kind of party."""
        if not isinstance(self.party, Institution):
            raise QueryRefused(403, f"UNAUTHORIZED: {self.party.code} is not an institution")
        return self.party


@dataclass(frozen=True)
class QuerySpec:
    """What a signed GET takes and answers, for the service's OpenAPI document."""

    path: str
    summary: str
    params: dict[str, str]
    required: tuple[str, ...]
    formats: tuple[str, ...]


Answer = Callable[[SignedQuery], Awaitable[tuple[bytes, str, str]]]  # body, content type, file name

SEALED = "application/jose"


def sealed_answer(parties: ParticipantRegistry, code: str, body: bytes) -> tuple[bytes, str]:
    """An answer only the party ``code`` can read: the compact JWE (ECDH-ES, A256GCM) of ``body`` sealed to its
    newest encryption key (``runtime.parties.seal_for``), served as ``application/jose``."""
    return seal_for(parties, code, body).encode(), SEALED


def seal_person(parties: ParticipantRegistry, service: str, person_id: str) -> str:
    """An ID number as a query parameter: a JWE (ECDH-ES, A256GCM) sealed to the answering service's
    encryption key, so the number never appears in clear in a URL, a proxy's or server's access log,
    or the metrics; each sealing uses a fresh ephemeral key, so the parameter is no stable identifier
    either. The service opens it with ``open_person``. Raises ValueError for a malformed number."""
    from pydantic import TypeAdapter, ValidationError

    from contracts.values import PersonId  # validated (check digit, birth date) before it leaves

    try:
        number = str(TypeAdapter(PersonId).validate_python(person_id.strip()))
    except ValidationError:
        raise ValueError("身份证号码无效（校验位或出生日期不符）") from None
    return seal_for(parties, service, number.encode())


def open_person(signer: Signer, q: SignedQuery, name: str = "person") -> str:
    """The ID number a query carries sealed to this service (``seal_person``), or 400."""
    token = q.params.get(name, "")
    if not token:
        raise QueryRefused(400, f"{name} (the ID number sealed to this service, runtime.query.seal_person) is required")
    try:
        return signer.open_sealed(token).decode()
    except Exception:  # not a JWE, not to our key: say so without echoing it
        raise QueryRefused(400, f"{name} is not an ID number sealed to this service") from None


def seal_authentication(parties: ParticipantRegistry, service: str, authentication: PersonAuthentication) -> str:
    """A channel's authentication of the person it asks for (``contracts.parties.PersonAuthentication``), as a
    query parameter sealed to the answering service like ``seal_person``: the ID number inside never in clear."""
    return seal_for(parties, service, authentication.model_dump_json().encode())


def open_authenticated_person(signer: Signer, q: SignedQuery, now: datetime, name: str = "authentication") -> str:
    """For a channel's query: the ID number of the person it authenticated (``seal_authentication``), checked
    as a command's is (``runtime.authority.authentication_flaw``); 400 unreadable, 403 not a channel or not a
    live authentication of its own."""
    from runtime.authority import authentication_flaw

    channel = q.channel()
    token = q.params.get(name, "")
    try:
        auth = PersonAuthentication.model_validate_json(signer.open_sealed(token))
    except Exception:  # not a JWE to our key, or not an authentication: say so without echoing it
        raise QueryRefused(400, f"{name} is not an authentication sealed to this service") from None
    why = authentication_flaw(channel, auth, str(auth.person_id), now)
    if why:
        raise QueryRefused(403, f"NOT_AUTHENTICATED_PERSON: channel {channel.code}: {why}")
    return str(auth.person_id)


def signed_target(path: str, query: str) -> bytes:
    return f"{path}?{query}".encode()


def sign_request(signer: Signer, path: str, *, at: datetime, **params: str | None) -> tuple[str, dict[str, str]]:
    """The request target and header a client sends (the console, tests, adapters)."""
    query = "&".join(
        [*(f"{k}={quote(str(v))}" for k, v in params.items() if v is not None), f"at={int(at.timestamp())}"]
    )
    return f"{path}?{query}", signer.headers(signed_target(path, query))


def read_signed(
    parties: ParticipantRegistry, path: str, query: str, signature: str | None, now: datetime, max_skew_seconds: float
) -> SignedQuery:
    """The authenticated query, or ``QueryRefused`` (401 unsigned or stale, 400 without ``at``)."""
    try:
        party = authenticate(parties, signed_target(path, query), signature, now)
    except Unauthenticated as exc:
        raise QueryRefused(401, f"UNAUTHENTICATED: {exc}") from None
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    try:
        at = datetime.fromtimestamp(int(params.get("at", "")), UTC)
    except ValueError:
        raise QueryRefused(400, "at (unix seconds of the request) is required") from None
    if abs((now - at).total_seconds()) > max_skew_seconds:
        raise QueryRefused(
            401, f"CLOCK_SKEW: at {at.isoformat()} is more than {max_skew_seconds:.0f} s from {now.isoformat()}"
        )
    return SignedQuery(party, path, params)


def header(scope: dict, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"status": status, "message": message}, ensure_ascii=False).encode()


def attachment(name: str) -> str:
    """Content-Disposition for a file name that may hold Chinese (RFC 6266 / 5987: an ASCII fallback)."""
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


def route(
    answer: Answer,
    *,
    parties: ParticipantRegistry,
    now: Callable[[], datetime],
    max_skew_seconds: float,
    count: Callable[[str, str], None],
) -> Any:
    """An ASGI GET handler: authenticate the signed query, let ``answer`` decide, count the status."""

    @get
    async def handle(scope: Any) -> AsgiResponse:
        path = scope["path"]
        try:
            q = read_signed(
                parties,
                path,
                scope.get("query_string", b"").decode("latin-1"),
                header(scope, SIGNATURE_HEADER),
                now(),
                max_skew_seconds,
            )
            body, content_type, name = await answer(q)
        except QueryRefused as exc:
            count(path, str(exc.status))
            return AsgiResponse(
                error_body(exc.status, str(exc)), status_code=exc.status, headers={"content-type": "application/json"}
            )
        count(path, "200")
        return AsgiResponse(
            body, status_code=200, headers={"content-type": content_type, "content-disposition": attachment(name)}
        )

    return handle


def table_answer(
    q: SignedQuery, rows: list[dict], columns: Any, stem: str, key: str = "items", extra: dict | None = None
) -> tuple[bytes, str, str]:
    """A list as asked: ``format=json`` (default) one page of it with its totals (``page``, ``size``:
    ``runtime.tables.paging``), ``csv`` (UTF-8 with a BOM) or ``xlsx`` (money ``#,##0.00``, dates as dates)
    every row of it; ``extra`` is added to the JSON answer."""
    from runtime import tables

    fmt = q.params.get("format") or "json"
    if fmt not in FORMATS:
        raise QueryRefused(400, f"format is one of {sorted(FORMATS)}")
    if fmt == "csv":
        return tables.to_csv(rows, columns), FORMATS["csv"], f"{stem}.csv"
    if fmt == "xlsx":
        return tables.to_xlsx(rows, columns), FORMATS["xlsx"], f"{stem}.xlsx"
    try:
        page, size = tables.paging(q.params)
    except tables.PagingError as exc:
        raise QueryRefused(400, str(exc)) from None
    body = {**(extra or {}), **tables.paged(rows, page, size, key)}
    return json.dumps(body, ensure_ascii=False).encode(), FORMATS["json"], f"{stem}.json"
