"""The directory of networked institutions 定点医疗机构查询 (002 第十二条; 000 第十八、二十一条):

* the registry entry: category, registered address and the settlements it is opened for, each from
  its date; an entry of before the directory (``opened_on`` alone) still validates and is opened for
  every kind it can settle; a pharmacy is never opened for inpatient;
* the filters and the paging (``services/filing/domain/directory.py``);
* the query ``GET /filing/institutions`` (``services/filing/directory_query.py``): every parameter
  checked with a 400 that names it, any registry party but the operator may ask, JSON and CSV (with
  a byte-order mark). Over the wire, signed: tests/integration/test_directory_wire.py.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
import yaml
from pydantic import ValidationError

from contracts.directory import InstitutionCategory, SettlementKind
from contracts.parties import PARTY_CHANGES, ChangeAction, ChangeParty, Institution, ParticipantFile
from contracts.registry import ALL_TOPICS
from contracts.values import HospitalLevel, MedicalType, RegionCode
from runtime.parties import PARTICIPANTS, ParticipantRegistry
from runtime.query import QueryRefused, SignedQuery
from services.filing.directory_query import INSTITUTIONS_PATH, DirectoryQuery
from services.filing.domain.directory import DirectoryFilter, directory

REGISTRY = ParticipantRegistry.load()
TODAY = date(2025, 3, 12)
NOW = datetime(2025, 3, 12, 2, 0, tzinfo=UTC)
EYE, TCM, PHARMACY, CLINIC = "H42010200003", "H42010200004", "P42010200001", "H42010200009"
WUHAN_OPENED = ["H42010200001", "H42010200002", EYE, TCM, PHARMACY]  # Wuhan, in code order; not the clinic


def hospital(code: str = "H42010200001", **fields) -> Institution:
    return Institution.model_validate(
        {"code": code, "name": "样例医院", "region": "420100", "hospital_level": "3", **fields}
    )


# ================================================================ the registry entry
def test_an_entry_of_before_the_directory_is_opened_for_every_kind_it_can_settle():
    old = hospital(opened_on="2020-01-01")
    assert old.opened == {kind: date(2020, 1, 1) for kind in SettlementKind}
    assert old.category is None and old.address is None
    shop = Institution.model_validate(
        {
            "code": "P42010200007",
            "name": "样例药房",
            "region": "420100",
            "hospital_level": "pharmacy",
            "opened_on": "2022-01-01",
        }
    )
    assert set(shop.opened) == {SettlementKind.OUTPATIENT, SettlementKind.CHRONIC}  # a pharmacy has no ward
    assert hospital().opened == {} and hospital().opened_on is None  # never opened


def test_opened_per_kind_gives_opened_on_the_earliest_date_and_round_trips_on_the_wire():
    entry = hospital(
        category="tcm_hospital",
        address="武汉市武昌区（样例地址）",
        opened={"chronic": "2023-01-01", "outpatient": "2022-06-01"},
    )
    assert entry.opened_on == date(2022, 6, 1)
    assert entry.open_on(date(2022, 12, 31)) == (SettlementKind.OUTPATIENT,)
    assert entry.open_on(date(2023, 1, 1)) == (SettlementKind.OUTPATIENT, SettlementKind.CHRONIC)
    assert not entry.opened_for(SettlementKind.INPATIENT, date(2030, 1, 1))
    change = ChangeParty(change_id="c-1", action=ChangeAction.UPSERT, version=1, party=entry)
    wire = json.loads(change.model_dump_json())
    assert wire["party"]["opened"] == {"chronic": "2023-01-01", "outpatient": "2022-06-01"}
    assert ALL_TOPICS[PARTY_CHANGES].message.model_validate(wire) == change


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"opened": {"outpatient": "2022-06-01"}, "opened_on": "2020-01-01"}, "earliest date of opened"),
        ({"opened": {"emergency": "2022-06-01"}}, "opened"),  # no such settlement
        ({"opened": {"outpatient": "2022-13-01"}}, "opened"),  # no such day
        ({"category": "hospital"}, "category"),  # no such category
        ({"category": "pharmacy", "opened": {"inpatient": "2022-01-01"}}, "pharmacy cannot be opened for inpatient"),
        ({"code": "P42010200007", "hospital_level": "pharmacy", "opened": {"inpatient": "2022-01-01"}}, "inpatient"),
        ({"address": "x" * 201}, "address"),
    ],
)
def test_an_inconsistent_entry_is_refused_naming_the_field(fields, says):
    with pytest.raises(ValidationError) as refused:
        hospital(**fields)
    assert says in str(refused.value)


def test_the_sample_registry_validates_says_sample_and_has_a_directory_record_for_every_institution():
    text = PARTICIPANTS.read_text(encoding="utf-8")
    institutions = ParticipantFile.model_validate(yaml.safe_load(text)).institutions
    assert "all sample" in text
    assert all(i.category is not None for i in institutions)
    assert REGISTRY.get(CLINIC).opened == {}  # never opened 异地联网
    assert REGISTRY.get(EYE).opened == {SettlementKind.OUTPATIENT: date(2023, 3, 1)}
    assert REGISTRY.get("H11010500003").opened_on == date(2019, 1, 1)  # opened_on alone, as before


@pytest.mark.parametrize(
    "medical_type, kind",
    [
        ("inpatient", "inpatient"),
        ("general_outpatient", "outpatient"),
        ("pharmacy", "outpatient"),
        ("chronic_outpatient", "chronic"),
    ],
)
def test_each_medical_type_needs_one_settlement_opened(medical_type, kind):
    assert SettlementKind.of(MedicalType(medical_type)) is SettlementKind(kind)


# ================================================================ filters and pages
def listed(**wanted) -> list[str]:
    institutions = [p for p in REGISTRY.parties.values() if isinstance(p, Institution)]
    page = directory(institutions, DirectoryFilter(on=wanted.pop("on", TODAY), **wanted), page=1, size=200)
    return [e.code for e in page.entries]


def test_the_directory_lists_what_is_opened_that_day_and_each_filter_narrows_it():
    assert listed(region=RegionCode("420100")) == WUHAN_OPENED  # the clinic never opened
    assert listed(region=RegionCode("420000")) == WUHAN_OPENED  # a province: all its regions
    assert listed(region=RegionCode("340000")) == ["H34010400002", "H34020200001"]
    assert listed(region=RegionCode("430100")) == []
    assert listed(level=HospitalLevel.LEVEL_2) == ["H42010200002", EYE]
    assert listed(category=InstitutionCategory.TCM_HOSPITAL) == [TCM]
    assert listed(category=InstitutionCategory.PHARMACY) == [PHARMACY]
    assert EYE not in listed(open=SettlementKind.INPATIENT)  # outpatient only
    assert PHARMACY in listed(open=SettlementKind.CHRONIC)
    assert PHARMACY not in listed(open=SettlementKind.CHRONIC, on=date(2023, 6, 30))  # chronic from 2023-07-01
    assert EYE not in listed(on=date(2023, 2, 28))  # not yet opened at all
    assert listed(region=RegionCode("420100"), level=HospitalLevel.LEVEL_3, open=SettlementKind.INPATIENT) == [
        "H42010200001",
        TCM,
    ]


def test_pages_are_stable_and_cover_every_match_once():
    institutions = [p for p in REGISTRY.parties.values() if isinstance(p, Institution)]
    wanted = DirectoryFilter(on=TODAY)
    pages = [directory(institutions, wanted, page=n, size=3) for n in (1, 2, 3)]
    assert [p.total for p in pages] == [9, 9, 9] and pages[0].pages == 3
    codes = [e.code for p in pages for e in p.entries]
    assert len(codes) == len(set(codes)) == 9 and codes[:2] == ["H11010500003", "H34010400002"]  # region, code
    with pytest.raises(ValueError):
        directory(institutions, wanted, page=1, size=201)


# ================================================================ the query
def ask(sender: str, **params: str) -> tuple[bytes, str, str]:
    import asyncio

    party = REGISTRY.get(sender)
    assert party is not None
    query = SignedQuery(party, INSTITUTIONS_PATH, {**params, "at": str(int(NOW.timestamp()))})
    return asyncio.run(DirectoryQuery(REGISTRY, lambda: NOW).institutions(query))


@pytest.mark.parametrize("sender", ["H42010200001", PHARMACY, "A340200", "A000000", "settlement"])
def test_any_registry_party_may_ask_it_holds_nothing_personal(sender):
    body, content_type, name = ask(sender, region="420100", open="inpatient")
    answer = json.loads(body)
    assert content_type == "application/json" and name == "institutions-2025-03-12-1.json"
    assert [e["code"] for e in answer["institutions"]] == ["H42010200001", "H42010200002", TCM]
    assert (answer["total"], answer["page"], answer["pages"], answer["on"]) == (3, 1, 1, "2025-03-12")
    tcm = answer["institutions"][2]
    assert tcm["category_zh"] == "中医医院" and tcm["region_name"] == "武汉市" and "keys" not in tcm
    assert tcm["opened"] == {"inpatient": "2021-01-01", "outpatient": "2022-06-01", "chronic": "2023-01-01"}
    assert tcm["open_on"] == ["inpatient", "outpatient", "chronic"]


def test_the_operator_may_not_ask():
    with pytest.raises(QueryRefused) as refused:
        ask("ops")
    assert refused.value.status == 403 and "operator" in str(refused.value)


@pytest.mark.parametrize(
    "params, says",
    [
        ({"region": "349900"}, "region 349900 is not a pooling region of GB/T 2260 (UNKNOWN_REGION)"),
        ({"region": "420102"}, "region 420102 is no pooling region code"),  # a county
        ({"region": "wuhan" * 40}, "region wuhanwuhanwuhanwuhanwuha… is no pooling region code"),
        ({"level": "4"}, "level '4' is not one of: 1, 2, 3, community, pharmacy"),
        ({"type": "hospital"}, "type 'hospital' is not one of: general_hospital"),
        ({"open": "emergency"}, "open 'emergency' is not one of: inpatient, outpatient, chronic"),
        ({"on": "2025-02-30"}, "on '2025-02-30' must be a date, YYYY-MM-DD"),
        ({"on": "2025-W11-3"}, "on '2025-W11-3' must be a date, YYYY-MM-DD"),  # ISO week dates are not days here
        ({"page": "0"}, "page '0' must be a whole number from 1 to 100000"),
        ({"page": "２"}, "page '２' must be a whole number"),  # a full-width digit
        ({"size": "500"}, "size '500' must be a whole number from 1 to 200"),
        ({"format": "xlsx"}, "format 'xlsx' is not one of: json, csv"),
        (
            {"regoin": "420100"},
            "unknown parameter regoin; allowed: at, format, level, on, open, page, region, size, type",
        ),
    ],
)
def test_every_parameter_is_checked_and_a_bad_one_named(params, says):
    with pytest.raises(QueryRefused) as refused:
        ask("A420100", **params)
    assert refused.value.status == 400 and says in str(refused.value), str(refused.value)


def test_a_page_past_the_last_is_not_found_and_no_match_is_an_empty_page():
    with pytest.raises(QueryRefused) as refused:
        ask("A420100", region="420100", size="2", page="4")
    assert refused.value.status == 404 and "page 4 of 3" in str(refused.value)
    assert json.loads(ask("A420100", region="430100")[0])["institutions"] == []


def test_csv_has_a_byte_order_mark_chinese_headers_and_one_row_per_institution():
    body, content_type, name = ask("H42010200001", region="420100", type="pharmacy", format="csv")
    assert body.startswith("\ufeff".encode()) and content_type.startswith("text/csv") and name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:7] == ["机构编码", "机构名称", "统筹区", "统筹区名称", "医院等级", "机构类别", "注册地址"]
    assert rows[0][7:] == ["住院开通日期", "普通门诊开通日期", "门诊慢特病开通日期"]
    assert rows[1] == [
        PHARMACY,
        "武汉市某大药房（样例）",
        "420100",
        "武汉市",
        "pharmacy",
        "定点零售药店",
        "武汉市洪山区（样例地址）",
        "",
        "2022-01-01",
        "2023-07-01",
    ]


def test_a_name_that_would_run_as_a_spreadsheet_formula_is_written_as_text():
    forged = hospital("H42010200077", name='=HYPERLINK("http://x")', opened_on="2020-01-01")
    registry = ParticipantRegistry([forged])
    query = SignedQuery(REGISTRY.get("A420100"), INSTITUTIONS_PATH, {"format": "csv"})  # type: ignore[arg-type]
    import asyncio

    body = asyncio.run(DirectoryQuery(registry, lambda: NOW).institutions(query))[0]
    assert list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))[1][1] == '\'=HYPERLINK("http://x")'
