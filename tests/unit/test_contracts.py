"""The public contracts: registry, value types at the boundary, schema compatibility (M-01)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from contracts import schemas
from contracts.envelope import Envelope
from contracts.registry import ALL_TOPICS
from contracts.topics import SERVICES
from contracts.values import Money, PersonId, RegionCode, make_person_id, mask_person_id

ROOT = Path(__file__).resolve().parents[2]


def test_every_topic_name_carries_its_major_version_and_a_known_producer_and_consumers():
    parties = set(SERVICES) | {"his", "agency"}
    for name, spec in ALL_TOPICS.items():
        assert name == f"{spec.type}.v{spec.version}"
        assert spec.producer in parties | {"any"}, name  # any: every service answers refusals on it
        assert set(spec.consumers) <= parties, name
        assert spec.partitions >= 1 and spec.key_doc


def test_committed_schemas_are_read_by_old_consumers():
    """Fails when a contract changes in a way old consumers cannot read without a new major."""
    assert schemas.breaking_changes() == []


def _schema(**props) -> dict:
    return {"type": "object", "properties": props, "required": sorted(props)}


@pytest.mark.parametrize(
    "new, problem",
    [
        (_schema(a={"type": "string"}), "b: removed"),
        (_schema(a={"type": "integer"}, b={"type": "string"}), "type changed"),
        ({**_schema(a={"type": "string"}, b={"type": "string"}, c={"type": "string"})}, "new required field"),
    ],
)
def test_the_compatibility_check_catches_breaking_changes(new, problem):
    old = _schema(a={"type": "string"}, b={"type": "string"})
    assert any(problem in p for p in schemas.compare(old, new, {}, {}))


def test_adding_an_optional_field_is_compatible():
    old = _schema(a={"type": "string"})
    new = copy.deepcopy(old)
    new["properties"]["b"] = {"type": "string"}
    assert schemas.compare(old, new, {}, {}) == []


def test_a_topic_goes_only_when_its_next_major_version_replaces_it():
    """settlement.result.v1 was replaced by the sealed v2 (003 §5 (三)): its snapshot stays, as the record
    of what its consumers read, and is no breaking change; a topic removed without a successor is."""
    now = schemas.current()
    assert "settlement.result.v1" not in now and (schemas.SNAPSHOTS / "settlement.result.v1.json").exists()
    assert schemas.successor("settlement.result.v1", now) == "settlement.result.v2"
    assert schemas.successor("settlement.completed.v1", now) is None
    assert schemas.successor("settlement.result.v2", now) is None


def test_what_a_sealed_field_decrypts_to_is_checked_too():
    """The sealed result of settlement.result.v2 is a contract (its JSON Schema is the field's contentSchema)."""
    old = _schema(sealed={"type": "string", "contentSchema": _schema(a={"type": "string"}, b={"type": "string"})})
    new = _schema(sealed={"type": "string", "contentSchema": _schema(a={"type": "string"})})
    assert any("sealed<sealed>.b: removed" in p for p in schemas.compare(old, new, {}, {}))
    sealed = ALL_TOPICS["settlement.result.v2"]
    content = schemas.current()["settlement.result.v2"]["$defs"]["SealedSettlementResult"]["properties"]["sealed"]
    assert content["contentMediaType"] == "application/jose" and content["contentSchema"]["title"] == "SettlementResult"
    assert sealed.key_doc.startswith("institution_code")


class _Slip(BaseModel):
    amount: Money
    region: RegionCode
    person: PersonId


def test_money_is_decimal_yuan_serialised_as_a_string_and_never_a_float():
    slip = _Slip(amount="12.3", region="340200", person=make_person_id("34020219600101001"))
    assert slip.amount == Decimal("12.30")
    assert json.loads(slip.model_dump_json())["amount"] == "12.30"
    with pytest.raises(ValidationError, match="not a float"):
        _Slip(amount=12.3, region="340200", person=slip.person)
    with pytest.raises(ValidationError, match="more than two decimals"):
        _Slip(amount="1.234", region="340200", person=slip.person)


@pytest.mark.parametrize("code, message", [("34020", "6 digits"), ("990100", "no province"), ("340221", "county")])
def test_region_codes_are_refused_with_a_clear_message(code, message):
    with pytest.raises(ValidationError, match=message):
        _Slip(amount="1", region=code, person=make_person_id("34020219600101001"))


def test_region_code_knows_its_province_and_cross_province():
    wuhu = RegionCode("340200")
    assert wuhu.province == "340000"
    assert wuhu.is_cross_province("420100") and not wuhu.is_cross_province("340100")


def test_id_numbers_are_checked_and_masked():
    good = make_person_id("11010519491231002")
    assert good.endswith("X")
    with pytest.raises(ValidationError, match="check digit"):
        _Slip(amount="1", region="110000", person=good[:-1] + "1")
    assert mask_person_id(good) == "1101*************X"


def test_envelope_refuses_a_naive_timestamp():
    spec = ALL_TOPICS["collab.open-request.v1"]
    with pytest.raises(ValidationError):
        Envelope[spec.message].model_validate(
            {
                "event_id": "0b6f3b1e-9a55-4c8e-a3c2-6b2f0e7f4d10",
                "type": spec.type,
                "schema_version": 1,
                "occurred_at": "2026-11-02T09:00:00",
                "correlation_id": "0b6f3b1e-9a55-4c8e-a3c2-6b2f0e7f4d10",
                "producer": "t",
                "payload": {},
            }
        )


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_handles_exactly_the_topics_the_registry_says_it_consumes(name):
    """One registry answers "who handles X": contracts say who consumes, handlers.py says how."""
    import importlib

    from runtime.config import Settings

    service = importlib.import_module(f"services.{name}.app").build(Settings(service=name))
    assert set(service.handlers) == {n for n, spec in ALL_TOPICS.items() if name in spec.consumers}


# every collection whose documents carry an outbox, as each service declares it before any message
DECLARED = {
    "filing": {"people", "sanctions"},
    "settlement": {"visits", "insured", "filing_view", "manual_claims", "sanctions"},
    "clearing": {"ledgers", "notices"},
    "prepayment": {"accounts"},
    "collab": {"requests", "coinvestigations", "candidates"},
    "supervision": {"cells", "flags", "histories", "peers"},
}


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_declares_its_collections_before_the_first_message(name):
    """The start-up sweep and the outbox index cover every collection a service owns, declared when
    the service is built, not discovered when traffic first touches it: a restarted instance that
    receives no message still publishes what a crash left in an outbox."""
    import importlib

    from runtime.config import Settings

    service = importlib.import_module(f"services.{name}.app").build(Settings(service=name))
    assert DECLARED[name] <= service.store.collections


def test_logs_never_show_an_id_number(caplog):
    """Personal ID numbers are replaced by their pseudonym wherever they appear in a log line (by the formatter)."""
    import logging

    from runtime.logs import _ContextFilter, formatter, redact
    from runtime.privacy import pseudonym

    person = make_person_id("34020219600101001")
    assert person not in redact(f"settling {person} at H42010200001")
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "refused %s: %s", (person, "NOT_FILED"), None)
    _ContextFilter("settlement", "test").filter(record)
    line = formatter().format(record)
    assert person not in line and pseudonym(person) in line


def _imported_packages(package: str) -> dict[str, set[str]]:
    """Each module of ``package`` → the top-level packages it imports (at any depth in the file)."""
    import ast

    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
        found[path.name] = names
    return found


def test_contracts_import_nothing_from_the_kernel_the_runtime_or_the_services():
    """The public contracts are messages and their field validation; the rules live in the shared
    kernel and the services, which import the contracts, never the other way round."""
    for module, names in _imported_packages("contracts").items():
        assert not names & {"kernel", "runtime", "services", "simulator", "chaos", "bench"}, module


def test_the_shared_kernel_is_pure_and_imports_only_the_contracts():
    """kernel/: domain code several services import (共享内核); no I/O, no runtime, no service."""
    for module, names in _imported_packages("kernel").items():
        assert names <= {
            "__future__",
            "contracts",
            "kernel",
            "pydantic",
            "collections",
            "datetime",
            "decimal",
            "enum",
            "typing",
            "uuid",
        }, (module, names)
