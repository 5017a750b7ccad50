"""The workflow around a flag (R-04): review, deduction through clearing's command, appeal within its working
days (M-02), the decision on the appeal; every step recorded with who signed it; the per-rule measures."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from supervision_support import HOSPITAL, WUHAN, WUHU, settlement

from contracts.clearing import FundAmounts, RecordAuditDeduction
from contracts.supervision import AppealFlag, DecideAppeal, ReviewFlag, deduction_id_for, flag_of_deduction
from contracts.values import SHANGHAI
from runtime.failures import PoisonMessage
from runtime.query import SignedQuery

from .supervision_support import PARTIES, Supervision

DAY = date(2026, 10, 12)
FLAG = "S-9:SV-03"
A_WUHAN = "A420100"


async def flagged() -> Supervision:
    """A stay of 29 990.00 (just below Q-01's 30 000) flagged at Mon 2 Nov 2026 10:00."""
    sv = Supervision()
    await sv.send(settlement("S-9", total="29990.00", fund="20993.00", stay=(DAY - timedelta(days=8), DAY)))
    assert list(sv.flags()) == [FLAG]
    return sv


def review(decision: str, region: str = WUHAN) -> ReviewFlag:
    return ReviewFlag(flag_id=FLAG, treating_region=region, decision=decision, note="核实无误", reviewed_at=NOW)


def appeal(institution: str = HOSPITAL) -> AppealFlag:
    return AppealFlag(
        flag_id=FLAG, institution_code=institution, treating_region=WUHAN, reason="病情需要", appealed_at=NOW
    )


def decide(upheld: bool) -> DecideAppeal:
    return DecideAppeal(flag_id=FLAG, treating_region=WUHAN, upheld=upheld, note="经复核", decided_at=NOW)


def deduction(sid: str = "S-9") -> RecordAuditDeduction:
    return RecordAuditDeduction(
        deduction_id=deduction_id_for(FLAG),
        settlement_id=sid,
        insured_region=WUHU,
        treating_region=WUHAN,
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "1000.00"}),
        reason="SV-03 单次住院费用贴近协查起点",
        decided_at=NOW,
    )


NOW = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)


async def test_the_appeal_period_is_ten_working_days_from_the_raising():
    """Raised Mon 2 Nov 2026: ten working days later is Mon 16 Nov, to the end of that day (M-02)."""
    sv = await flagged()
    assert sv.flags()[FLAG]["appeal_by"] == datetime(2026, 11, 16, 23, 59, 59, 999999, tzinfo=SHANGHAI).isoformat()


async def test_a_dismissal_is_recorded_with_who_signed_it_and_cannot_be_repeated():
    sv = await flagged()
    assert await sv.command("supervision.review-flag.v1", review("dismiss"), A_WUHAN) == "applied"
    flag = sv.flags()[FLAG]
    assert flag["status"] == "dismissed"
    assert [(s["action"], s["by"], s["note"]) for s in flag["steps"]] == [
        ("raised", "supervision", ""),
        ("dismissed", A_WUHAN, "核实无误"),
    ]
    told = [(e.type, e.payload.action, e.payload.status, e.payload.by) for e in sv.store.published]
    assert told == [
        ("supervision.flag-changed", "raised", "open", "supervision"),
        ("supervision.flag-changed", "dismissed", "dismissed", A_WUHAN),
    ]
    with pytest.raises(PoisonMessage, match="is dismissed: only an open flag is reviewed"):
        await sv.command("supervision.review-flag.v1", review("lead"), A_WUHAN)


async def test_a_review_from_another_region_and_of_no_flag_are_refused_by_name():
    sv = await flagged()
    with pytest.raises(PoisonMessage, match="of treating region 420100, not 430100"):
        await sv.command("supervision.review-flag.v1", review("dismiss", "430100"), "A430100")
    missing = review("dismiss").model_copy(update={"flag_id": "S-0:SV-01"})
    with pytest.raises(PoisonMessage, match="no flag S-0:SV-01"):
        await sv.command("supervision.review-flag.v1", missing, A_WUHAN)


async def test_the_audit_deduction_made_from_a_flag_closes_it_and_a_manual_one_is_clearings_alone():
    sv = await flagged()
    assert flag_of_deduction(deduction_id_for(FLAG)) == FLAG
    assert await sv.command("clearing.record-audit-deduction.v1", deduction(), A_WUHAN) == "applied"
    flag = sv.flags()[FLAG]
    assert (flag["status"], flag["deduction_id"]) == ("deducted", "supervision:S-9:SV-03")
    assert flag["steps"][-1]["note"] == "SV-03 单次住院费用贴近协查起点"
    manual = deduction().model_copy(update={"deduction_id": "D-2026-11-1"})
    assert await sv.command("clearing.record-audit-deduction.v1", manual, A_WUHAN) == "ignored"
    with pytest.raises(PoisonMessage, match="appeal the deduction"):
        await sv.command("his.flag-appealed.v1", appeal())


async def test_a_deduction_naming_the_flag_but_another_settlement_leaves_the_flag_open():
    sv = await flagged()
    await sv.command("clearing.record-audit-deduction.v1", deduction("S-8"), A_WUHAN)
    assert sv.flags()[FLAG]["status"] == "open"


async def test_an_appeal_upheld_and_one_rejected_back_to_where_it_was():
    sv = await flagged()
    await sv.command("supervision.review-flag.v1", review("lead"), A_WUHAN)
    assert await sv.command("his.flag-appealed.v1", appeal()) == "applied"
    assert sv.flags()[FLAG]["status"] == "appealed"
    await sv.command("supervision.decide-appeal.v1", decide(False), A_WUHAN)
    assert sv.flags()[FLAG]["status"] == "lead"
    await sv.command("his.flag-appealed.v1", appeal())
    await sv.command("supervision.decide-appeal.v1", decide(True), A_WUHAN)
    flag = sv.flags()[FLAG]
    assert flag["status"] == "upheld"
    assert [s["action"] for s in flag["steps"]] == ["raised", "lead", "appealed", "rejected", "appealed", "upheld"]
    body, *_ = await sv.queries.rule_list(SignedQuery(PARTIES.get(A_WUHAN), "/supervision/rules", {}))  # type: ignore[arg-type]
    sv03 = next(r for r in json.loads(body)["rules"] if r["id"] == "SV-03")
    assert {k: sv03[k] for k in ("hits", "open", "dismissed", "deducted", "lead", "appealed", "upheld")} == {
        "hits": 1,
        "open": 0,
        "dismissed": 0,
        "deducted": 0,
        "lead": 1,
        "appealed": 2,
        "upheld": 1,
    }


async def test_an_appeal_after_the_period_or_by_another_institution_is_refused():
    sv = await flagged()
    with pytest.raises(PoisonMessage, match="not on a settlement of H34010400002"):
        await sv.command("his.flag-appealed.v1", appeal("H34010400002"), "H34010400002")
    sv.clock = datetime(2026, 11, 17, 0, 0, tzinfo=SHANGHAI)  # Tue 17 Nov: the period ended on the 16th
    with pytest.raises(PoisonMessage, match="appeal period of flag S-9:SV-03 ended"):
        await sv.command("his.flag-appealed.v1", appeal())
    with pytest.raises(PoisonMessage, match="no appeal to decide"):
        await sv.command("supervision.decide-appeal.v1", decide(True), A_WUHAN)
