"""The OpenAPI 3.1 document of a service's signed queries, served at ``/openapi.json`` on its port.

Built from what each query declares when it is registered (``Service.add_query`` records a
``runtime.query.QuerySpec``): its path, summary, parameters, the required ones and the formats it
answers in. Every query also takes ``at`` (Unix seconds, within the clock-skew limit) and is
authenticated by the ``yidi-signature`` header (``runtime.query``), described here as an API key in a
header, the nearest security scheme OpenAPI has for a request signature. No business rules here.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime.parties import SIGNATURE_HEADER
from runtime.query import FORMATS, SEALED, QuerySpec

VERSION = "3.1.0"
ERROR = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {"status": {"type": "integer"}, "message": {"type": "string"}},
}
REFUSALS = {
    "400": "a bad query (a parameter missing or malformed)",
    "401": "not signed by a registry party, or `at` too far from the service's business time",
    "403": "the signing party may not see this",
    "404": "nothing to show (or not addressed to the asking party)",
}
# answers sealed to the asking party (``runtime.query.sealed_answer``): a compact JWE, opened with its key
CONTENT_TYPES = {**FORMATS, "jose": SEALED}
AT = {
    "name": "at",
    "in": "query",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Unix seconds of the request, within the clock-skew limit (the request cannot be replayed later)",
}


def _operation(service: str, spec: QuerySpec) -> dict:
    params = [
        {
            "name": name,
            "in": "query",
            "required": name in spec.required,
            "schema": {"type": "string"},
            "description": text or name,
        }
        for name, text in spec.params.items()
        if name != "at"
    ]
    ok = {
        "description": "the answer",
        "content": {
            CONTENT_TYPES[f].split(";")[0]: {
                "schema": ({"type": "string", "contentMediaType": CONTENT_TYPES[f]} if f != "json" else {})
            }
            for f in spec.formats
        },
    }
    responses = {
        "200": ok,
        **{
            code: {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
            }
            for code, text in REFUSALS.items()
        },
    }
    op_id = service + "".join(part.capitalize() for part in spec.path.strip("/").replace("-", "/").split("/"))
    return {
        "operationId": op_id,
        "summary": spec.summary or spec.path,
        "tags": [service],
        "parameters": [*params, AT],
        "responses": responses,
    }


def document(service: str, specs: Iterable[QuerySpec], server: str | None = None) -> dict:
    """The service's OpenAPI 3.1 document: one signed GET per registered query."""
    paths = {spec.path: {"get": _operation(service, spec)} for spec in specs}
    doc: dict = {
        "openapi": VERSION,
        "info": {
            "title": f"yidi {service} queries",
            "version": "1",
            "description": f"Signed queries of the {service} service (runtime/query.py): each GET carries a "
            f"detached JWS over the request target in the `{SIGNATURE_HEADER}` header, signed "
            f"by a registry party; an agency sees only what concerns the regions it speaks for.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Refusal": ERROR},
            "securitySchemes": {
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": SIGNATURE_HEADER,
                    "description": "compact JWS, alg Ed25519, kid "
                    "<party>/<key id>, detached payload: the "
                    "path, '?' and the raw query string",
                }
            },
        },
        "security": [{"signature": []}],
    }
    if server:
        doc["servers"] = [{"url": server}]
    return doc
