"""Each service's OpenAPI 3.1 document of its signed queries (runtime/openapi.py) validates, names
every registered query with its parameters, `at` and the signature header, and is what
/openapi.json serves (the wire tests exercise each documented path: tests/integration/test_queries_wire.py)."""

from __future__ import annotations

from importlib import import_module

import pytest
from openapi_spec_validator import validate

from runtime.cli import SERVICE_PORTS
from runtime.openapi import document

EXPECTED = {
    "filing": {"/filing/status", "/filing/filings", "/filing/institutions"},
    "settlement": {"/settlement/slip", "/settlement/accumulations"},
    "clearing": {"/clearing/report"},
    "prepayment": {"/prepayment/account", "/prepayment/usage", "/prepayment/movements"},
    "collab": {
        "/collab/notices",
        "/collab/request",
        "/collab/statistics",
        "/collab/requests",
        "/collab/leads",
        "/collab/coinvestigations",
    },
    "supervision": {"/supervision/indicators", "/supervision/flags", "/supervision/rules", "/supervision/report"},
}

PERSONLESS = {"/filing/institutions"}  # the directory of networked institutions: nothing personal


def built(name: str):
    return import_module(f"services.{name}.app").build()


@pytest.mark.parametrize("name", sorted(SERVICE_PORTS))
def test_every_service_document_validates(name: str) -> None:
    service = built(name)
    doc = document(name, service.query_specs)
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    assert doc["openapi"] == "3.1.0"
    assert EXPECTED[name] <= set(doc["paths"])
    assert doc["components"]["securitySchemes"]["signature"]["name"] == "yidi-signature"
    for path, item in doc["paths"].items():
        op = item["get"]
        names = {p["name"]: p for p in op["parameters"]}
        assert names["at"]["required"] is True, path
        assert {"200", "400", "401", "403", "404"} <= set(op["responses"]), path
        spec = next(s for s in service.query_specs if s.path == path)
        assert all(names[r]["required"] for r in spec.required), path


def test_operation_ids_are_unique_across_services() -> None:
    ids = [
        op["get"]["operationId"]
        for name in SERVICE_PORTS
        for op in document(name, built(name).query_specs)["paths"].values()
    ]
    assert len(ids) == len(set(ids))


def test_the_person_is_never_a_clear_parameter() -> None:
    """The ID number travels sealed (runtime.query.seal_person): the documents say so. The directory of
    institutions names no person at all."""
    for name in ("filing", "settlement"):
        for path, item in document(name, built(name).query_specs)["paths"].items():
            params = {p["name"]: p for p in item["get"]["parameters"]}
            if path in PERSONLESS:
                assert "person" not in params
                continue
            if "authentication" in params:  # a channel's query: the person inside its sealed authentication
                assert "person" not in params and "sealed" in params["authentication"]["description"]
                continue
            assert "sealed" in params["person"]["description"]
