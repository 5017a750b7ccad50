"""The supervision handler on the in-memory store: completed settlements in, the indicator cells, the flags
with their evidence and the histories out; the signed reads over what was stored (000 第七十八条, R-04)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from supervision_support import HOSPITAL, PERSON, settlement

from contracts.values import make_person_id
from runtime.privacy import pseudonym
from runtime.query import QueryRefused, SignedQuery

from .supervision_support import PARTIES, Supervision

DAY = date(2026, 10, 12)


async def test_a_settlement_is_counted_once_into_its_cell() -> None:
    sv = Supervision()
    s = settlement("S-1", total="123.45", fund="86.42", self_paid="10.00")
    assert await sv.send(s) == "applied"
    assert await sv.send(s) == "duplicate"
    [cell] = await sv.store.states("cells")
    assert (cell["month"], cell["visits"], cell["total"], cell["fund_paid"]) == ("2026-10", 1, "123.45", "86.42")
    assert sv.metrics.settlements._value.get() == 1


async def test_a_third_visit_in_three_days_is_flagged_with_evidence_and_the_person_only_pseudonymous() -> None:
    sv = Supervision()
    for i in range(3):
        await sv.send(settlement(f"S-{i}", total="80.00", fund="56.00", settled_on=DAY + timedelta(days=i)))
    [(key, flag)] = sv.flags().items()
    assert key == "S-2:SV-01"
    assert (flag["status"], flag["rule_id"], flag["evidence"]["就诊次数"]) == ("open", "SV-01", "3")
    assert flag["person_ref"] == pseudonym(PERSON)
    assert PERSON not in json.dumps(sv.flags()) and PERSON not in json.dumps(await sv.store.states("histories"))
    assert {"flags", "histories"} <= sv.store.personal


async def test_a_stay_hugging_the_threshold_is_flagged_once_however_often_it_comes() -> None:
    sv = Supervision()
    s = settlement("S-9", total="29990.00", fund="20993.00", stay=(DAY - timedelta(days=8), DAY))
    await sv.send(s)
    await sv.send(s)
    assert list(sv.flags()) == ["S-9:SV-03"]
    assert sv.metrics.flags.labels("SV-03")._value.get() == 1


async def test_an_outlier_stay_is_flagged_against_the_hospitals_and_the_regions_own_history() -> None:
    sv = Supervision()
    for i in range(8):
        person = make_person_id(f"42010219800101{i:03d}")
        await sv.send(
            settlement(
                f"S-p{i}",
                total=f"{10000 + 100 * i}.00",
                fund="7000.00",
                stay=(DAY - timedelta(days=6), DAY),
                person_id=person,
            )
        )
    assert sv.flags() == {}
    await sv.send(settlement("S-big", total="60000.00", fund="42000.00", stay=(DAY - timedelta(days=6), DAY)))
    assert list(sv.flags()) == ["S-big:SV-02"]


def query(path: str, party: str, **params: str) -> SignedQuery:
    return SignedQuery(PARTIES.get(party), path, params)  # type: ignore[arg-type]


async def test_the_indicators_are_read_by_the_agencies_of_either_place_and_downloaded() -> None:
    sv = Supervision()
    await sv.send(settlement("S-1", total="123.45", fund="86.42", self_paid="10.00"))
    await sv.send(settlement("S-2", total="76.56", fund="53.59"))
    body, kind, name = await sv.queries.indicators(
        query("/supervision/indicators", "A420100", month="2026-10", by="institution_code,medical_type")
    )
    [row] = json.loads(body)["rows"]
    assert (row["institution_code"], row["medical_type_words"], row["visits"], row["total"], row["cost_per_visit"]) == (
        HOSPITAL,
        "普通门诊",
        2,
        "200.01",
        "100.01",
    )
    body, kind, name = await sv.queries.indicators(
        query("/supervision/indicators", "A340200", month="2026-10", format="csv")
    )
    assert body.startswith("\ufeff月份,".encode()) and name == "supervision-indicators-2026-10.csv"
    assert "200.01" in body.decode("utf-8-sig")
    body, *_ = await sv.queries.indicators(query("/supervision/indicators", "A430100", month="2026-10"))
    assert json.loads(body)["rows"] == []  # Changsha is neither place


@pytest.mark.parametrize(
    "params, words",
    [
        ({"month": "2026-13"}, "month"),
        ({"month": "2026-10", "by": "person"}, "by"),
        ({"month": "2026-10", "treating_region": "x"}, "6 digits"),
    ],
)
async def test_a_bad_indicator_query_is_refused_with_what_is_wrong(params, words) -> None:
    with pytest.raises(QueryRefused, match=words) as refused:
        await Supervision().queries.indicators(query("/supervision/indicators", "A420100", **params))
    assert refused.value.status == 400


async def test_flags_and_rule_measures_are_seen_by_the_agencies_and_the_institution_only() -> None:
    sv = Supervision()
    await sv.send(settlement("S-9", total="29990.00", fund="20993.00", stay=(DAY - timedelta(days=8), DAY)))
    body, *_ = await sv.queries.flag_list(query("/supervision/flags", HOSPITAL))
    [flag] = json.loads(body)["flags"]
    assert (flag["rule_name"], flag["status_words"]) == ("单次住院费用贴近协查起点", "待审核")
    body, *_ = await sv.queries.flag_list(query("/supervision/flags", "H34010400002"))
    assert json.loads(body)["flags"] == []
    body, *_ = await sv.queries.rule_list(query("/supervision/rules", "A420100"))
    measures = {r["id"]: (r["hits"], r["open"]) for r in json.loads(body)["rules"]}
    assert measures == {"SV-01": (0, 0), "SV-02": (0, 0), "SV-03": (1, 1)} | {f"SV-0{i}": (0, 0) for i in (4, 5, 6)}
