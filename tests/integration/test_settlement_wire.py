"""The worked settlement examples over the real wire: a running settlement service (its own OS
process) fed by ``filing.changed.v1`` snapshots built here, HIS requests published on the
``his.*`` topics signed by the hospital (contracts.parties), answers read from ``settlement.result.v2``
(opened with the hospital's key, 003 §5 (三)) / ``settlement.completed.v1`` / ``settlement.reversed.v1``,
amounts checked to the fen (M-01). Times the agencies state (``recorded_at``) are the business clock's,
as the platform refuses a claimed time too far from receipt.

Every bill is the one of the hand-computed unit examples in ``tests/unit/settlement`` unless the
comment computes it by hand. Differences from the unit examples: the service starts each person
with empty year-to-date accumulations and no personal-account balance (the insured place's
aggregate knows of none), so no personal-account line appears on a slip unless the test first
records the person's balance and groups on ``settlement.insured-person.v1`` (S-06).

Each test uses its own persons, so the tests do not depend on one another's accumulations. The
business clock is 2025-03-12 until the last test, which moves it past the clearing of March.
The main service answers "not settled directly" after 20 s (not the 3 s default) so a busy
2-core machine never turns a money example into a timeout; the timeout itself is tested on a
second service with a 1 ms deadline.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pytest
from privacy_support import document_id, find_aggregate
from support import Bus, ServiceProcess, eventually, new_prefix

from contracts.filing import ChangeKind, FilingChanged, FilingChannel, FilingSnapshot, FilingStatus, ProofKind
from contracts.his import (
    AdmissionRegistered,
    DischargeSettlementRequested,
    FeeLine,
    OutpatientVisitRequested,
    RefundRequested,
    SettlementCancelRequested,
)
from contracts.prepayment import PrepaymentSanction, SanctionAction, SanctionKind
from contracts.settlement import ChronicQualificationRecorded, InsuredPersonRecorded
from contracts.values import SHANGHAI, FilingCategory, make_person_id, round_fen
from runtime.envelopes import encode, envelope_for

pytestmark = pytest.mark.integration

MARCH = datetime(2025, 3, 12, 9, 0, tzinfo=SHANGHAI)  # business time of the examples
AFTER_APRIL_CLEARING = datetime(2025, 4, 22, 10, 0, tzinfo=SHANGHAI)  # March cleared on 2025-04-21 (C-02)
HOSPITAL = "H42010200001"  # level-3 hospital in Wuhan (420100)
LEVEL_2 = "H42010200002"  # level-2 hospital in Wuhan (registry)
NS = uuid.UUID("0f0c4a52-6a1e-4f57-9d0e-5b2a7c9e1d33")

RESULT, COMPLETED, REVERSED = "settlement.result.v2", "settlement.completed.v1", "settlement.reversed.v1"
ASSESSED, DEAD = "settlement.treating-assessed.v1", "ops.dead-letter.v1"
FEE_DETAIL = "settlement.fee-detail.v1"
DISCHARGE, OUTPATIENT, ADMISSION = "his.settlement-requested.v1", "his.outpatient-requested.v1", "his.admission.v1"
REFUND, CANCEL = "his.refund-requested.v1", "his.cancel-requested.v1"


def m(text: str) -> Decimal:
    return Decimal(text)


# ---------------------------------------------------------------- the running service
@dataclass
class Wire:
    bus: Bus
    proc: ServiceProcess


@pytest.fixture(scope="module")
async def wire(stack):
    prefix = new_prefix(stack, "settle-wire")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000").start()
        try:
            yield Wire(bus, proc)
        finally:
            proc.stop()


# ---------------------------------------------------------------- persons and bills
_seq = iter(range(100, 999))


def person(region: str = "340202") -> str:
    """A fresh ID number of an insured of ``region`` (county code of the insured city)."""
    return make_person_id(f"{region}19600101{next(_seq):03d}")


def line(no: int, code: str, qty: str, price: str, his_class: str | None = None, **extra) -> FeeLine:
    """A fee line whose amount is quantity × price to the fen, as a correct HIS sends it."""
    return FeeLine(
        line_no=no,
        item_code=code,
        item_name=code,
        his_class=his_class,
        quantity=qty,
        unit_price=price,
        amount=str(round_fen(Decimal(qty) * Decimal(price))),
        **extra,
    )


def header(
    person_id: str,
    request_id: str,
    medical_type: str,
    *,
    insured: str = "340200",
    visit_id: str | None = None,
    **overrides,
) -> dict:
    base = dict(
        request_id=request_id,
        person_id=person_id,
        credential_type="e_voucher",
        insurance_type="310",
        insured_region=insured,
        treating_region="420100",
        institution_code=HOSPITAL,
        hospital_level="3",
        medical_type=medical_type,
        visit_id=visit_id or f"V-{request_id}",
        diagnoses=[{"code": "I25.1", "name": "冠状动脉粥样硬化性心脏病"}],
    )
    return {**base, **overrides}


def stay_bill(dated: tuple[date, date] | None = None) -> list[FeeLine]:
    """The inpatient bill of test_inpatient_examples.py, in the Hubei catalogue (420000, S-02):
     1 120100001 10×45.00=450.00 A limit 45        in 450.00
     2 120100002 10×80.00=800.00 A limit 45        over 350.00, in 450.00
     3 210300001 1×200.00        B 10% limit 180   over 20.00, B 18.00, in 162.00
     4 330801001 1×3000.00       A                 in 3000.00
     5 C0208010101 1×780.00      B 30% limit 800   B 234.00, in 546.00
     6 XJ01DDA001B002 6×25.50=153.00 B 10%         B 15.30, in 137.70
     7 480000002 5×100.00=500.00 C                 self 500.00
     8 T009900001 0.5×120.00=60.00 C               self 60.00
     9 250101001 3×20.00=60.00   A                 in 60.00
    10 120200001 10×30.00=300.00 A                 in 300.00
    total 6303.00 = in-scope 5105.70 + B 267.30 + over-limit 370.00 + self-paid 560.00 (S-04).
    ``dated``: lines 1-5 on the first day given, 6-10 on the second (cross-year stays, S-14)."""
    lines = [
        line(1, "120100001", "10", "45.00"),
        line(2, "120100002", "10", "80.00"),
        line(3, "210300001", "1", "200.00"),
        line(4, "330801001", "1", "3000.00"),
        line(5, "C0208010101", "1", "780.00"),
        line(6, "XJ01DDA001B002", "6", "25.50"),
        line(7, "480000002", "5", "100.00"),
        line(8, "T009900001", "0.5", "120.00"),
        line(9, "250101001", "3", "20.00"),
        line(10, "120200001", "10", "30.00"),
    ]
    if dated:
        lines = [fl.model_copy(update={"occurred_on": dated[0] if fl.line_no <= 5 else dated[1]}) for fl in lines]
    return lines


def discharge(
    person_id: str, request_id: str, lines: list[FeeLine], admitted: date, discharged: date, **overrides
) -> DischargeSettlementRequested:
    return DischargeSettlementRequested(
        **header(person_id, request_id, "inpatient", **overrides),
        admission_date=admitted,
        discharge_date=discharged,
        fee_lines=lines,
    )


def outpatient(
    person_id: str,
    request_id: str,
    lines: list[FeeLine],
    visit: date = date(2025, 3, 12),
    medical_type: str = "general_outpatient",
    **overrides,
) -> OutpatientVisitRequested:
    return OutpatientVisitRequested(
        **header(person_id, request_id, medical_type, **overrides), visit_date=visit, fee_lines=lines
    )


def mixed_bill() -> list[FeeLine]:
    """The general-outpatient bill of test_outpatient_examples.py (A, B, C, over-limit, unknown):
     1 110200001 1×12.00          A limit 10.00    over 2.00; in 10.00
     2 XC10AAA001A001 28×1.50=42.00 B 10% limit 1.20  over 0.30×28=8.40; B 33.60×10%=3.36; in 30.24
     3 XA11GAA001A001 2×15.00=30.00 C               self 30.00
     4 250302001 1×8.00           A                 in 8.00
     5 ZZ9999 1×50.00             not in catalogue  self 50.00
    total 142.00 = in 48.24 + B 3.36 + over 10.40 + self 80.00 (S-04)."""
    return [
        line(1, "110200001", "1", "12.00"),
        line(2, "XC10AAA001A001", "28", "1.50", his_class="B"),
        line(3, "XA11GAA001A001", "2", "15.00"),
        line(4, "250302001", "1", "8.00"),
        line(5, "ZZ9999", "1", "50.00"),
    ]


def ecg_bill(price: str) -> list[FeeLine]:
    """常规心电图检查 310701001, class A without price limit: 10 × price, all in scope."""
    return [line(1, "310701001", "10", price)]


# ---------------------------------------------------------------- filings (F-15 read model)
def filing(
    person_id: str,
    category: FilingCategory,
    valid_from: date,
    valid_until: date | None = None,
    *,
    insured: str = "340200",
    version: int = 1,
    status: FilingStatus = FilingStatus.ACTIVE,
    ended_at: datetime | None = None,
    change_kind: ChangeKind = ChangeKind.REGISTERED,
) -> FilingChanged:
    """The event the filing service publishes for a filing decided at the window (F-01, F-07)."""
    filing_id = uuid.uuid5(NS, f"{person_id}:{category}")
    recorded = datetime.combine(valid_from, datetime.min.time(), tzinfo=SHANGHAI)
    snapshot = FilingSnapshot(
        filing_id=filing_id,
        version=version,
        person_id=person_id,
        name="测试参保人",
        insurance_type="310",
        insured_region=insured,
        treating_region="420100",
        category=category,
        channel=FilingChannel.WINDOW,
        status=status,
        valid_from=valid_from,
        valid_until=valid_until,
        place_since=valid_from,
        proofs_delivered=(ProofKind.CREDENTIAL, ProofKind.FILING_FORM, ProofKind.RESIDENCE_PROOF),
        submitted_at=recorded,
        decided_at=recorded,
        ended_at=ended_at,
        policy_region=insured,
        change_kind=change_kind,
        rule="F-01",
        recorded_at=ended_at or recorded,
        cause=f"win-{person_id}-{version}",
    )
    return FilingChanged(
        change_id=uuid.uuid5(filing_id, str(version)),
        person_id=person_id,
        filing_id=filing_id,
        version=version,
        change_kind=change_kind,
        rule="F-01",
        snapshot=snapshot,
        occurred_at=ended_at or recorded,
    )


async def feed(w: Wire, *events: FilingChanged) -> None:
    """Publish filing events and wait until the service's own read model holds every version."""
    for event in events:
        await w.bus.publish("filing.changed.v1", event, producer="filing")

    async def held() -> bool:
        doc = await find(w.proc, "filing_view", events[0].person_id)
        versions = {
            (fid, v["version"]) for fid, vs in (doc or {}).get("state", {}).get("filings", {}).items() for v in vs
        }
        return all((str(e.filing_id), e.version) in versions for e in events)

    await eventually(held)


# ---------------------------------------------------------------- reading the wire and the store
async def find(proc: ServiceProcess, collection: str, aggregate_id: str) -> dict | None:
    """One stored aggregate, state opened (a person's lives under their pseudonym, 003 §5 (三))."""
    client, db = await proc.db()
    try:
        return await find_aggregate(db, collection, aggregate_id)
    finally:
        await client.close()


async def answers(w: Wire, request_id: str, n: int = 1, timeout: float = 45) -> list[dict]:
    """The results the HIS heard on settlement.result.v2 for ``request_id`` (at least ``n``), opened."""
    mine = lambda msgs: [x["payload"] for x in msgs if x["payload"]["request_id"] == request_id]  # noqa: E731
    return [w.bus.open_result(p) for p in mine(await w.bus.read(RESULT, lambda msgs: len(mine(msgs)) >= n, timeout))]


async def ask(w: Wire, topic: str, request) -> dict:
    """Publish one HIS command and return the one answer to it, found by the flow's correlation id
    (a completed cancel or refund carries the *settlement's* request_id, not the command's)."""
    sent = await w.bus.publish(topic, request, producer=f"his:{HOSPITAL}")
    flow = str(sent.correlation_id)
    mine = lambda msgs: [x["payload"] for x in msgs if x["correlation_id"] == flow]  # noqa: E731
    return w.bus.open_result(mine(await w.bus.read(RESULT, lambda msgs: len(mine(msgs)) >= 1, timeout=45))[0])


async def everything(bus: Bus, topic: str, seconds: float = 2.0) -> list[dict]:
    """All messages on ``topic`` after letting it settle for ``seconds``."""
    seen: list[dict] = []

    def keep(msgs: list[dict]) -> bool:
        seen[:] = msgs
        return False

    with pytest.raises(AssertionError):
        await bus.read(topic, keep, timeout=seconds)
    return seen


async def counters(w: Wire, person_id: str) -> dict[str, dict[str, Decimal]]:
    """The person's year-to-date accumulations in the insured place's aggregate (collection ``insured``)."""
    doc = await find(w.proc, "insured", person_id)
    raw = (doc or {}).get("state", {}).get("counters", {})
    return {str(year): {k: Decimal(v) for k, v in values.items()} for year, values in raw.items()}


def funds(slip: dict) -> list[tuple[str, Decimal]]:
    return [(f["code"], Decimal(f["amount"])) for f in slip["funds"]]


def split(slip: dict) -> tuple[Decimal, ...]:
    return tuple(
        Decimal(slip[k]) for k in ("total", "in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid")
    )


STAY_SPLIT = (m("6303.00"), m("5105.70"), m("267.30"), m("370.00"), m("560.00"))


def assert_completed(
    answer: dict,
    *,
    pooling: str,
    cash: str,
    deductible: str,
    ratio: str,
    rate_basis: str,
    basis: str,
    large_amount: str | None = "0.00",
) -> dict:
    """S-04..S-07 on a completed inpatient answer; returns its slip."""
    assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
    slip = answer["slip"]
    assert split(slip) == STAY_SPLIT
    expected = [("pooling", m(pooling))] + ([("large_amount", m(large_amount))] if large_amount else [])
    assert funds(slip) == expected
    assert Decimal(slip["deductible_applied"]) == m(deductible)
    assert Decimal(slip["fund_total"]) == m(pooling) + m(large_amount or "0")
    assert Decimal(slip["personal_cash"]) == m(cash)
    assert Decimal(slip["personal_account"]) == m("0.00")
    assert Decimal(slip["fund_total"]) + Decimal(slip["personal_cash"]) == Decimal(slip["total"])  # S-07
    assert (Decimal(answer["ratio_applied"]), answer["rate_basis"], answer["eligibility_basis"]) == (
        m(ratio),
        rate_basis,
        basis,
    )
    assert all(isinstance(v, str) for v in (slip["total"], slip["fund_total"], slip["personal_cash"]))  # M-01
    return slip


# ================================================================ inpatient examples (S-08..S-11)
async def test_wuhu_employee_long_term_then_the_same_person_as_unreferred_temporary(wire):
    """S-08, then S-09 for the same Wuhu (340200) employee in Wuhan (420100), level 3.
    Long-term: deductible 800.00, 85%: pooling (5105.70 − 800.00) × 0.85 = 3659.845 → 3659.85,
    cash 6303.00 − 3659.85 = 2643.15.
    The long-term filing is then cancelled (2025-03-01) and the person files 其他临时外出:
    cross-province −20 points → 65%: pooling 4305.70 × 0.65 = 2798.705 → 2798.71, cash 3504.29."""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1)))
    request = discharge(pid, "LT-STAY-1", stay_bill(), date(2025, 2, 1), date(2025, 2, 10))
    sent = await wire.bus.publish(DISCHARGE, request, producer=f"his:{HOSPITAL}")
    msgs = await wire.bus.read(RESULT, lambda ms: any(x["payload"]["request_id"] == "LT-STAY-1" for x in ms))
    envelope = next(x for x in msgs if x["payload"]["request_id"] == "LT-STAY-1")
    assert envelope["correlation_id"] == str(sent.correlation_id)  # S-01: one flow, one correlation id
    answer = wire.bus.open_result(envelope["payload"])
    assert_completed(
        answer,
        pooling="3659.85",
        cash="2643.15",
        deductible="800.00",
        ratio="0.85",
        rate_basis="local",
        basis="long_term",
    )
    assert answer["filing_category"] == "long_term_resident" and answer["settlement_year"] == 2025
    assert answer["clearing_month"] == "2025-04" and answer["settled_on"] == "2025-03-12"  # C-02
    assert (answer["admission_date"], answer["discharge_date"]) == ("2025-02-01", "2025-02-10")

    # the same fact goes to clearing and prepayment, the inpatient bill in national major categories (S-04)
    done = await wire.bus.read(COMPLETED, lambda ms: any(x["payload"]["request_id"] == "LT-STAY-1" for x in ms))
    assert next(x for x in done if x["payload"]["request_id"] == "LT-STAY-1")["payload"] == answer
    assessed = await wire.bus.read(ASSESSED, lambda ms: any(x["payload"]["request_id"] == "LT-STAY-1" for x in ms))
    categories = {
        c["category"]: c
        for c in next(x for x in assessed if x["payload"]["request_id"] == "LT-STAY-1")["payload"]["categories"]
    }
    assert (m(categories["bed"]["total"]), m(categories["bed"]["over_limit_self_pay"])) == (m("1250.00"), m("350.00"))
    assert m(categories["medical_material"]["b_class_self_pay"]) == m("234.00")
    assert m(categories["herbal_pieces"]["self_paid"]) == m("60.00")
    # S-18: the cross-province stay's full detail goes up with it, due 3 days after settlement
    details = await wire.bus.read(
        FEE_DETAIL, lambda ms: any(x["payload"]["settlement_id"] == answer["settlement_id"] for x in ms)
    )
    detail = next(x["payload"] for x in details if x["payload"]["settlement_id"] == answer["settlement_id"])
    assert (detail["settled_on"], detail["upload_due"], len(detail["lines"])) == ("2025-03-12", "2025-03-15", 10)
    assert m(detail["totals"]["in_scope"]) == m("5105.70") and m(detail["lines"][1]["over_limit_self_pay"]) == m(
        "350.00"
    )

    ended = datetime(2025, 3, 1, tzinfo=SHANGHAI)
    long_term_cancelled = filing(
        pid,
        FilingCategory.LONG_TERM_RESIDENT,
        date(2024, 1, 1),
        version=2,
        status=FilingStatus.CANCELLED,
        ended_at=ended,
        change_kind=ChangeKind.CANCELLED,
    )
    temporary = filing(pid, FilingCategory.OTHER_TEMPORARY, date(2025, 3, 1), date(2025, 8, 31))
    await feed(wire, long_term_cancelled, temporary)
    answer = await ask(
        wire,
        DISCHARGE,
        discharge(pid, "TMP-STAY-1", stay_bill(), date(2025, 3, 2), date(2025, 3, 11), visit_id="ZY-TMP-1"),
    )
    assert_completed(
        answer,
        pooling="2798.71",
        cash="3504.29",
        deductible="800.00",
        ratio="0.65",
        rate_basis="other_temporary",
        basis="temporary",
    )
    assert answer["filing_category"] == "other_temporary"
    # both stays counted once on the 2025 pooling cap: 3659.85 + 2798.71 = 6458.56
    assert (await counters(wire, pid))["2025"] == {"fund/pooling/annual": m("6458.56")}


async def test_emergency_without_filing_is_deemed_filed(wire):
    """F-04, S-11: no filing + emergency flag → deemed filed at emergency rates, 85% − 10 = 75%.
    pooling 4305.70 × 0.75 = 3229.275 → 3229.28; cash 6303.00 − 3229.28 = 3073.72."""
    pid = person()
    answer = await ask(
        wire, DISCHARGE, discharge(pid, "EMG-STAY-1", stay_bill(), date(2025, 3, 1), date(2025, 3, 10), emergency=True)
    )
    assert_completed(
        answer,
        pooling="3229.28",
        cash="3073.72",
        deductible="800.00",
        ratio="0.75",
        rate_basis="referral_emergency",
        basis="deemed_emergency",
    )
    assert answer["filing_category"] is None


async def test_an_outside_pharmacy_purchase_joins_the_stay_it_was_bought_during(wire):
    """S-16 (000 第五十条): a drug bought at a pharmacy during the stay, with the hospital's form
    住院期间外院检查治疗或药店购药单, is a line of that stay's settlement, not a visit of its own.
    The emergency stay of the example above plus line 11, XJ01DDA001B002 4×25.50 = 102.00 bought
    outside on 2025-03-05 (B 10%: B 10.20, in scope 91.80):
    total 6303.00 + 102.00 = 6405.00; in scope 5105.70 + 91.80 = 5197.50; B 267.30 + 10.20 = 277.50;
    pooling (5197.50 − 800.00) × 0.75 = 3298.125 → 3298.13; cash 6405.00 − 3298.13 = 3106.87.
    The same form on an outpatient visit, or dated after discharge, is refused naming the line."""
    pid = person()
    bought = line(11, "XJ01DDA001B002", "4", "25.50", outside_form_no="WY-20250305-017", occurred_on=date(2025, 3, 5))
    answer = await ask(
        wire,
        DISCHARGE,
        discharge(pid, "OUT-STAY-1", [*stay_bill(), bought], date(2025, 3, 1), date(2025, 3, 10), emergency=True),
    )
    assert answer["outcome"] == "completed", answer
    slip = answer["slip"]
    assert split(slip) == (m("6405.00"), m("5197.50"), m("277.50"), m("370.00"), m("560.00"))
    assert funds(slip) == [("pooling", m("3298.13")), ("large_amount", m("0.00"))]
    assert Decimal(slip["personal_cash"]) == m("3106.87")
    assert Decimal(slip["fund_total"]) + Decimal(slip["personal_cash"]) == Decimal(slip["total"])  # S-07
    one_stay = [x for x in await everything(wire.bus, RESULT, 1.0) if x["payload"]["request_id"] == "OUT-STAY-1"]
    assert len(one_stay) == 1, "the purchase settled with the stay, not as a visit of its own"

    refused = await ask(
        wire,
        OUTPATIENT,
        outpatient(pid, "OUT-OPD-1", [line(1, "250302001", "1", "8.00"), bought.model_copy(update={"line_no": 2})]),
    )
    assert (refused["outcome"], refused["code"], refused["line_no"]) == ("refused", "INVALID_FEE_LINE", 2), refused
    assert "S-16" in refused["message"]
    late = bought.model_copy(update={"occurred_on": date(2025, 3, 11)})
    refused = await ask(
        wire,
        DISCHARGE,
        discharge(person(), "OUT-STAY-2", [*stay_bill(), late], date(2025, 3, 1), date(2025, 3, 10), emergency=True),
    )
    assert (refused["outcome"], refused["code"], refused["line_no"]) == ("refused", "INVALID_FEE_LINE", 11), refused
    assert "2025-03-11" in refused["message"]


async def test_no_filing_and_no_emergency_is_refused_with_manual_claim(wire):
    """S-12, S-17, S-19: refused NOT_FILED, classified, with the manual-claim hint; nothing settles."""
    pid = person()
    answer = await ask(wire, DISCHARGE, discharge(pid, "NOF-STAY-1", stay_bill(), date(2025, 3, 1), date(2025, 3, 10)))
    assert answer["outcome"] == "refused" and answer["code"] == "NOT_FILED", answer
    assert answer["manual_claim_possible"] is True and answer["title_zh"] == "未办理异地就医备案"
    assert answer["line_no"] is None and "420100" in answer["message"]
    assert await counters(wire, pid) == {}


async def test_trauma_without_third_party_and_its_refusals(wire):
    """S-10; 001 三(三): employee trauma −20 points. Level 2 (H42010200002, registered level 2, S-05):
    deductible 500.00, 88% → 68%.
    pooling (5105.70 − 500.00) × 0.68 = 4605.70 × 0.68 = 3131.876 → 3131.88; cash 6303.00 − 3131.88 = 3171.12.
    Without the signed commitment: TRAUMA_COMMITMENT_MISSING; with a liable third party: THIRD_PARTY_LIABILITY."""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.OTHER_TEMPORARY, date(2025, 1, 1), date(2025, 6, 30)))
    flags = dict(institution_code=LEVEL_2, hospital_level="2", trauma=True)
    no_commitment = await ask(
        wire,
        DISCHARGE,
        discharge(pid, "TRA-STAY-0", stay_bill(), date(2025, 3, 1), date(2025, 3, 10), visit_id="ZY-TRA-0", **flags),
    )
    assert (no_commitment["outcome"], no_commitment["code"]) == ("refused", "TRAUMA_COMMITMENT_MISSING")
    assert no_commitment["title_zh"] == "外伤未签署无第三方责任承诺书" and not no_commitment["manual_claim_possible"]
    liable = await ask(
        wire,
        DISCHARGE,
        discharge(
            pid,
            "TRA-STAY-2",
            stay_bill(),
            date(2025, 3, 1),
            date(2025, 3, 10),
            visit_id="ZY-TRA-2",
            trauma_commitment_signed=True,
            third_party_liability=True,
            **flags,
        ),
    )
    assert (liable["outcome"], liable["code"]) == ("refused", "THIRD_PARTY_LIABILITY")
    assert await counters(wire, pid) == {}

    answer = await ask(
        wire,
        DISCHARGE,
        discharge(
            pid,
            "TRA-STAY-1",
            stay_bill(),
            date(2025, 3, 1),
            date(2025, 3, 10),
            visit_id="ZY-TRA-1",
            trauma_commitment_signed=True,
            **flags,
        ),
    )
    assert_completed(
        answer,
        pooling="3131.88",
        cash="3171.12",
        deductible="500.00",
        ratio="0.68",
        rate_basis="trauma",
        basis="temporary",
    )
    assert answer["trauma_check"] is True  # marked for treating-place checks (S-10)


async def test_stay_across_new_year_settles_in_the_discharge_year(wire):
    """S-14: one settlement at discharge, with the discharge year's policy and accumulations.
    A 2024 stay first (October: within the months a discharge may still settle directly, F-11/S-12):
    330801001 31 × 3000.00 = 93000.00 all in scope (A, no limit);
    pooling (93000.00 − 800.00) × 0.85 = 78370.00 (2024 cap 80000.00 not reached), cash 14630.00.
    Then a stay admitted 2024-12-28, discharged 2025-01-05: settled in 2025 on fresh 2025 counters,
    pooling 3659.85, cash 2643.15. Had 2024's counters applied, only 80000.00 − 78370.00 = 1630.00 was left.
    (Wuhu's policy file has one version, in force since 2023; the switch of policy version at New Year is
    covered by the unit example test_stay_across_new_year_uses_discharge_years_policy_and_accumulations.)"""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.RESETTLED_RETIREE, date(2024, 1, 1)))
    big = await ask(
        wire,
        DISCHARGE,
        discharge(
            pid,
            "NY-STAY-2024",
            [line(1, "330801001", "31", "3000.00")],
            date(2024, 10, 1),
            date(2024, 10, 10),
            visit_id="ZY-NY-2024",
        ),
    )
    assert big["outcome"] == "completed" and big["settlement_year"] == 2024, big
    assert funds(big["slip"]) == [("pooling", m("78370.00")), ("large_amount", m("0.00"))]
    assert m(big["slip"]["personal_cash"]) == m("14630.00")

    across = discharge(
        pid,
        "NY-STAY-X",
        stay_bill((date(2024, 12, 30), date(2025, 1, 3))),
        date(2024, 12, 28),
        date(2025, 1, 5),
        visit_id="ZY-NY-X",
    )
    answer = await ask(wire, DISCHARGE, across)
    assert_completed(
        answer,
        pooling="3659.85",
        cash="2643.15",
        deductible="800.00",
        ratio="0.85",
        rate_basis="local",
        basis="long_term",
    )
    assert answer["settlement_year"] == 2025 and answer["filing_category"] == "resettled_retiree"
    assert await counters(wire, pid) == {
        "2024": {"fund/pooling/annual": m("78370.00")},
        "2025": {"fund/pooling/annual": m("3659.85")},
    }


# ================================================================ outpatient examples (S-04, S-13)
async def test_general_outpatient_with_mixed_catalogue_classes(wire):
    """F-05: no filing needed; unfiled outpatient takes Wuhu's other-temporary rate: 50% − 20 = 30%.
    Visit 1: 310701001 10 × 58.00 = 580.00 in scope; annual deductible 600.00 → 580.00 applied,
    pooling 0.00, cash 580.00.
    Visit 2, the mixed bill: deductible left 600.00 − 580.00 = 20.00;
    pooling (48.24 − 20.00) × 0.30 = 8.472 → 8.47; no personal-account balance → cash 142.00 − 8.47 = 133.53."""
    pid = person()
    first = await ask(wire, OUTPATIENT, outpatient(pid, "OP-1", ecg_bill("58.00"), date(2025, 3, 5)))
    assert first["outcome"] == "completed", first
    assert (m(first["slip"]["deductible_applied"]), funds(first["slip"]), m(first["slip"]["personal_cash"])) == (
        m("580.00"),
        [("pooling", m("0.00"))],
        m("580.00"),
    )

    answer = await ask(wire, OUTPATIENT, outpatient(pid, "OP-2", mixed_bill()))
    assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
    slip = answer["slip"]
    assert split(slip) == (m("142.00"), m("48.24"), m("3.36"), m("10.40"), m("80.00"))
    assert (Decimal(answer["ratio_applied"]), answer["rate_basis"], answer["eligibility_basis"]) == (
        m("0.30"),
        "other_temporary",
        "no_filing_needed",
    )
    assert m(slip["deductible_applied"]) == m("20.00")
    assert funds(slip) == [("pooling", m("8.47"))]
    assert (m(slip["fund_total"]), m(slip["personal_account"]), m(slip["personal_cash"])) == (
        m("8.47"),
        m("0.00"),
        m("133.53"),
    )

    # every line split by the treating-place catalogue (S-04), as the insured place received it
    assessed = await wire.bus.read(ASSESSED, lambda ms: any(x["payload"]["request_id"] == "OP-2" for x in ms))
    lines = next(x for x in assessed if x["payload"]["request_id"] == "OP-2")["payload"]["lines"]
    got = {
        ln["line_no"]: (
            ln["catalogue_class"],
            m(ln["in_scope"]),
            m(ln["b_class_self_pay"]),
            m(ln["over_limit_self_pay"]),
            m(ln["self_paid"]),
        )
        for ln in lines
    }
    assert got == {
        1: ("A", m("10.00"), m("0.00"), m("2.00"), m("0.00")),
        2: ("B", m("30.24"), m("3.36"), m("8.40"), m("0.00")),
        3: ("C", m("0.00"), m("0.00"), m("0.00"), m("30.00")),
        4: ("A", m("8.00"), m("0.00"), m("0.00"), m("0.00")),
        5: (None, m("0.00"), m("0.00"), m("0.00"), m("50.00")),
    }
    assert await counters(wire, pid) == {
        "2025": {"deductible/general_outpatient": m("600.00"), "fund/pooling/general_outpatient": m("8.47")}
    }


async def test_chronic_outpatient_needs_the_qualification(wire):
    """S-13, F-05: hypertension M03900, 卡托普利片 XC09AAC001A001 30 × 0.50 = 15.00 (A).
    Without the insured place's qualification: CHRONIC_NOT_QUALIFIED (manual claim possible).
    With it: long-term filer, local 85%, deductible 0.00: pooling 15.00 × 0.85 = 12.75 (own cap 3000.00),
    large-amount 0.00 (the disease cap is not the pooling cap), cash 15.00 − 12.75 = 2.25."""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1)))
    prescription = [line(1, "XC09AAC001A001", "30", "0.50")]
    refused = await ask(
        wire,
        OUTPATIENT,
        outpatient(pid, "CH-1", prescription, medical_type="chronic_outpatient", chronic_disease_code="M03900"),
    )
    assert (refused["outcome"], refused["code"]) == ("refused", "CHRONIC_NOT_QUALIFIED"), refused
    assert refused["manual_claim_possible"] is True and refused["title_zh"] == "未取得该门诊慢特病待遇资格"

    await wire.bus.publish(
        "settlement.chronic-qualification.v1",
        ChronicQualificationRecorded(
            person_id=pid, insured_region="340200", disease_code="M03900", recorded_at=wire.bus.business_now()
        ),
        producer="agency:340200",
    )

    async def qualified() -> bool:
        doc = await find(wire.proc, "insured", pid)
        return "M03900" in (doc or {}).get("state", {}).get("chronic_qualifications", [])

    await eventually(qualified)
    answer = await ask(
        wire,
        OUTPATIENT,
        outpatient(pid, "CH-2", prescription, medical_type="chronic_outpatient", chronic_disease_code="M03900"),
    )
    assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
    slip = answer["slip"]
    assert split(slip) == (m("15.00"), m("15.00"), m("0.00"), m("0.00"), m("0.00"))
    assert funds(slip) == [("pooling", m("12.75")), ("large_amount", m("0.00"))]
    assert (m(slip["deductible_applied"]), m(slip["fund_total"]), m(slip["personal_cash"])) == (
        m("0.00"),
        m("12.75"),
        m("2.25"),
    )
    assert (answer["chronic_disease_code"], answer["rate_basis"], Decimal(answer["ratio_applied"])) == (
        "M03900",
        "local",
        m("0.85"),
    )
    assert (await counters(wire, pid))["2025"] == {"fund/pooling/chronic_M03900": m("12.75")}


# ================================================================ idempotency and concurrency (S-05)
async def test_duplicate_request_same_answer_paid_once_and_conflict_refused(wire):
    """A repeated HIS request (same request_id, same content) gets the same answer and pays once;
    the same request_id with different content is refused DUPLICATE_CONFLICT (S-19)."""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1)))
    request = discharge(pid, "DUP-STAY-1", stay_bill(), date(2025, 3, 1), date(2025, 3, 10))
    first = await ask(wire, DISCHARGE, request)
    assert_completed(
        first,
        pooling="3659.85",
        cash="2643.15",
        deductible="800.00",
        ratio="0.85",
        rate_basis="local",
        basis="long_term",
    )
    await wire.bus.publish(DISCHARGE, request, producer=f"his:{HOSPITAL}")  # the HIS retries
    both = await answers(wire, "DUP-STAY-1", n=2)
    assert both[1] == both[0]

    changed = request.model_copy(update={"fee_lines": stay_bill()[:9]})  # line 10 dropped
    await wire.bus.publish(DISCHARGE, changed, producer=f"his:{HOSPITAL}")
    third = (await answers(wire, "DUP-STAY-1", n=3))[2]
    assert (third["outcome"], third["code"]) == ("refused", "DUPLICATE_CONFLICT"), third
    assert third["settlement_id"] == first["settlement_id"] and third["title_zh"] == "交易流水号重复且内容不一致"

    completed = [
        x for x in await everything(wire.bus, COMPLETED) if x["payload"]["settlement_id"] == first["settlement_id"]
    ]
    assert len({x["event_id"] for x in completed}) == 1  # paid once
    assert await counters(wire, pid) == {"2025": {"fund/pooling/annual": m("3659.85")}}


async def test_two_settlements_at_once_share_the_deductible_once(wire):
    """S-05: two general-outpatient visits of one person published at once, each 310701001
    10 × 70.00 = 700.00 in scope. The annual deductible 600.00 is consumed once:
    one visit: deductible 600.00, pooling (700.00 − 600.00) × 0.30 = 30.00, cash 670.00;
    the other: deductible 0.00, pooling 700.00 × 0.30 = 210.00, cash 490.00."""
    pid = person()
    a, b = (outpatient(pid, f"PAR-{n}", ecg_bill("70.00"), visit_id=f"MZ-PAR-{n}") for n in (1, 2))
    await asyncio.gather(
        wire.bus.publish(OUTPATIENT, a, producer="his:1"), wire.bus.publish(OUTPATIENT, b, producer="his:2")
    )
    slips = [(await answers(wire, r.request_id))[0]["slip"] for r in (a, b)]
    got = sorted((m(s["deductible_applied"]), funds(s), m(s["personal_cash"])) for s in slips)
    assert got == [
        (m("0.00"), [("pooling", m("210.00"))], m("490.00")),
        (m("600.00"), [("pooling", m("30.00"))], m("670.00")),
    ]
    assert sum(m(s["deductible_applied"]) for s in slips) == m("600.00")
    assert await counters(wire, pid) == {
        "2025": {"deductible/general_outpatient": m("600.00"), "fund/pooling/general_outpatient": m("240.00")}
    }


async def test_a_person_treated_many_times_keeps_a_small_aggregate_and_nothing_of_it_is_lost(wire):
    """A person's aggregate stays small however often they are treated: settled items leave it for
    a sealed archive (one document each, under the person's pseudonym), and a message naming one
    finds it as if it had never left. Seven visits of 10 × 70.00 (S-05): the first consumes the
    600.00 deductible (pooling 30.00), each later one pays pooling 210.00. The first request
    repeated gets its first answer and pays nothing twice; the oldest settlement is no longer the
    latest (S-15) and is refused; the newest cancels and gives its 210.00 back."""
    pid = person()
    visits = [outpatient(pid, f"MANY-{n}", ecg_bill("70.00"), visit_id=f"MZ-MANY-{n}") for n in range(7)]
    settled = [await ask(wire, OUTPATIENT, v) for v in visits]
    assert [a["outcome"] for a in settled] == ["completed"] * 7
    before = await counters(wire, pid)
    assert before == {
        "2025": {"deductible/general_outpatient": m("600.00"), "fund/pooling/general_outpatient": m("1290.00")}
    }

    stored = await find(wire.proc, "visits", pid)
    assert stored is not None and len(stored["state"]["requests"]) < 7 and stored["state"]["archived"]
    client, db = await wire.proc.db()
    try:
        archived = [
            doc async for doc in db["visits_archive"].find({"_id": {"$regex": f"^{document_id('visits', pid)}:"}})
        ]
    finally:
        await client.close()
    assert archived and pid not in json.dumps(archived, default=str)  # sealed at rest, keyed by pseudonym
    assert {d["_id"].split(":", 1)[1] for d in archived} | set(stored["state"]["requests"]) == {
        a["settlement_id"] for a in settled
    }

    await wire.bus.publish(OUTPATIENT, visits[0], producer=f"his:{HOSPITAL}")  # the HIS retries the oldest
    assert (await answers(wire, "MANY-0", n=2))[1] == settled[0]
    old = await ask(
        wire,
        CANCEL,
        SettlementCancelRequested(
            request_id="MANY-CX-0", person_id=pid, settlement_id=settled[0]["settlement_id"], institution_code=HOSPITAL
        ),
    )
    assert old["outcome"] == "refused", old
    assert await counters(wire, pid) == before
    new = await ask(
        wire,
        CANCEL,
        SettlementCancelRequested(
            request_id="MANY-CX-6", person_id=pid, settlement_id=settled[6]["settlement_id"], institution_code=HOSPITAL
        ),
    )
    assert new["outcome"] == "cancelled", new
    assert await counters(wire, pid) == {
        "2025": {"deductible/general_outpatient": m("600.00"), "fund/pooling/general_outpatient": m("1080.00")}
    }


# ================================================================ sanctions (S-20)
async def test_admission_refused_while_insured_region_is_suspended(wire):
    """S-20, P-09: after prepayment suspends admissions of Changsha (430100) insureds, a new admission
    and a stay never registered are refused ADMISSION_SUSPENDED; a stay registered before settles.
    Changsha employee, level 3: deductible 1000.00, 80%: pooling (5105.70 − 1000.00) × 0.80 = 3284.56,
    cash 6303.00 − 3284.56 = 3018.44."""
    before, after = person("430102"), person("430102")
    await feed(wire, filing(before, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1), insured="430100"))
    await feed(wire, filing(after, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1), insured="430100"))
    admitted = await ask(
        wire,
        ADMISSION,
        AdmissionRegistered(
            **header(before, "ADM-CS-1", "inpatient", insured="430100", visit_id="ZY-CS-1"),
            admission_date=date(2025, 3, 3),
        ),
    )
    assert (admitted["outcome"], admitted["eligibility_basis"]) == ("admission_accepted", "long_term"), admitted

    sanction = PrepaymentSanction(
        sanction_id=uuid.uuid4(),
        insured_region="430100",
        kind=SanctionKind.ADMISSION_SUSPENSION,
        action=SanctionAction.IMPOSED,
        effective_at=datetime(2025, 3, 10, tzinfo=SHANGHAI),
        notice_ids=[uuid.uuid4()],
        reason="clearing notice unpaid 20 working days after issue (P-09)",
    )
    await wire.bus.publish("prepayment.sanction.v1", sanction, producer="prepayment")

    async def in_force() -> bool:
        doc = await find(wire.proc, "sanctions", "region-sanctions")
        periods = (doc or {}).get("state", {}).get("sanctions", {}).get("periods", [])
        return any(p["sanction_id"] == str(sanction.sanction_id) for p in periods)

    await eventually(in_force)

    refused = await ask(
        wire,
        ADMISSION,
        AdmissionRegistered(
            **header(after, "ADM-CS-2", "inpatient", insured="430100", visit_id="ZY-CS-2"),
            admission_date=date(2025, 3, 11),
        ),
    )
    assert (refused["outcome"], refused["code"]) == ("refused", "ADMISSION_SUSPENDED"), refused
    assert refused["title_zh"] == "参保地暂停异地就医新入院结算"
    unregistered = await ask(
        wire,
        DISCHARGE,
        discharge(
            after, "CS-STAY-2", stay_bill(), date(2025, 3, 11), date(2025, 3, 12), insured="430100", visit_id="ZY-CS-3"
        ),
    )
    assert (unregistered["outcome"], unregistered["code"]) == ("refused", "ADMISSION_SUSPENDED")

    answer = await ask(
        wire,
        DISCHARGE,
        discharge(
            before, "CS-STAY-1", stay_bill(), date(2025, 3, 3), date(2025, 3, 11), insured="430100", visit_id="ZY-CS-1"
        ),
    )
    assert_completed(
        answer,
        pooling="3284.56",
        cash="3018.44",
        deductible="1000.00",
        ratio="0.80",
        rate_basis="local",
        basis="long_term",
    )


# ================================================================ malformed HIS messages (S-19)
async def test_malformed_fee_lines_are_dead_lettered_or_refused_naming_the_line(wire):
    """A JSON float amount fails validation at the boundary (M-01): dead-lettered, classified, no answer.
    quantity × price ≠ amount passes the schema and is refused INVALID_FEE_LINE naming line 2."""
    pid = person()
    request = outpatient(
        pid, "BAD-FLOAT-1", [line(1, "250302001", "1", "8.00"), line(2, "XJ01CAA001A001", "2", "12.50")]
    )
    env = envelope_for(OUTPATIENT, request, producer=f"his:{HOSPITAL}", now=wire.bus.business_now(), sender=HOSPITAL)
    raw = json.loads(encode(env))
    raw["payload"]["fee_lines"][1]["amount"] = 25.0
    await wire.bus.send_raw(OUTPATIENT, json.dumps(raw).encode(), pid)
    dead = await wire.bus.read(DEAD, lambda ms: any(d.get("event_id") == str(env.event_id) for d in ms))
    letter = next(d for d in dead if d.get("event_id") == str(env.event_id))
    assert (letter["reason"], letter["topic"], letter["service"]) == ("invalid_message", OUTPATIENT, "settlement")
    assert "fee_lines.1.amount" in letter["detail"] and "not a float" in letter["detail"], letter["detail"]
    assert json.loads(letter["original"])["payload"]["request_id"] == "BAD-FLOAT-1"
    assert wire.proc.metric("yidi_dead_letters_total", topic=OUTPATIENT, reason="invalid_message") == 1

    wrong = line(2, "XJ01CAA001A001", "2", "12.50").model_copy(update={"amount": m("26.00")})
    answer = await ask(wire, OUTPATIENT, outpatient(pid, "BAD-SUM-1", [line(1, "250302001", "1", "8.00"), wrong]))
    assert (answer["outcome"], answer["code"], answer["line_no"]) == ("refused", "INVALID_FEE_LINE", 2), answer
    assert answer["title_zh"] == "费用明细金额有误" and "26.00" in answer["message"] and "25.00" in answer["message"]
    assert not [x for x in await everything(wire.bus, RESULT, 1.0) if x["payload"]["request_id"] == "BAD-FLOAT-1"]
    assert await counters(wire, pid) == {}


# ================================================================ insured-place timeout (S-01, S-17)
async def test_insured_timeout_never_settles_behind_the_hospitals_back(stack):
    """S-01: a second settlement service answers "not settled directly" after 1 ms, before its insured
    step runs: the HIS hears INSURED_TIMEOUT_NOT_SETTLED (manual claim possible, S-17), no
    settlement.completed.v1 is ever published and the insured accumulations are unchanged."""
    prefix = new_prefix(stack, "settle-timeout")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="1").start()
        try:
            w = Wire(bus, proc)
            pid = person()
            answer = await ask(w, OUTPATIENT, outpatient(pid, "TO-1", ecg_bill("70.00")))
            assert (answer["outcome"], answer["code"]) == ("refused", "INSURED_TIMEOUT_NOT_SETTLED"), answer
            assert answer["manual_claim_possible"] is True and answer["title_zh"] == "参保地响应超时，未结算"
            await asyncio.sleep(2)
            heard = await answers(w, "TO-1")
            assert len(heard) == 1, [(x["code"], x["message"]) for x in heard]  # one answer, never a second one
            assert not [x for x in await everything(bus, COMPLETED) if x["payload"]["person_id"] == pid]
            insured = await find(proc, "insured", pid)
            assert insured is not None, "the insured step ran (after the deadline) and refused"
            assert insured["state"]["counters"] == {}
            decided = insured["state"]["applied"]
            assert [a["decided"]["refusal_code"] for a in decided.values()] == ["INSURED_TIMEOUT_NOT_SETTLED"]
        finally:
            proc.stop()


async def test_a_settlement_interrupted_after_its_first_write_completes_once_after_restart(stack):
    """S-01 across a crash: the service dies right after storing the request, its assessment and
    its answer deadline still in the outbox. Restarted, it publishes them, the insured place
    answers in time, and the HIS hears one completed answer. The answer deadline, settled before
    it was due, never reached the deadline store (short deadlines are held, runtime/store.py)."""
    prefix = new_prefix(stack, "settle-crash")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        # 90 s: a restart on a loaded machine takes a while, and business time flows meanwhile
        proc = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="90000")
        try:
            proc.start(YIDI_FAULT="crash_after_store")
            w, pid = Wire(bus, proc), person()
            await bus.publish(OUTPATIENT, outpatient(pid, "CRASH-1", ecg_bill("70.00")), producer=f"his:{HOSPITAL}")
            assert await asyncio.to_thread(proc.wait_exit, 60) == 17, proc.tail()
            visits = await find(proc, "visits", pid)
            assert visits and visits["has_outbox"] and len(visits["outbox"]) == 2  # assessment + deadline
            proc.start()
            [answer] = await answers(w, "CRASH-1")
            assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
            await asyncio.sleep(2)
            assert len(await answers(w, "CRASH-1")) == 1
            assert len([x for x in await everything(bus, COMPLETED) if x["payload"]["person_id"] == pid]) == 1
            client, db = await proc.db()
            try:
                assert await db["deadlines"].count_documents({}) == 0
                await eventually(
                    lambda: db["visits"].count_documents({"_id": document_id("visits", pid), "has_outbox": False}),
                    timeout=10,
                )
            finally:
                await client.close()
        finally:
            proc.stop()


# ================================================================ insured person and partial refunds (S-06, S-15)
async def record_person(w: Wire, person_id: str, balance: str, groups: tuple[str, ...] = ()) -> None:
    """The insured place records the person's groups and personal-account balance (S-06)."""
    await w.bus.publish(
        "settlement.insured-person.v1",
        InsuredPersonRecorded(
            person_id=person_id,
            insured_region="340200",
            groups=list(groups),
            personal_account_balance=balance,
            recorded_at=w.bus.business_now(),
        ),
        producer="agency:340200",
    )

    async def held() -> bool:
        state = (await find(w.proc, "insured", person_id) or {}).get("state", {})
        return state.get("person_recorded_at") is not None

    await eventually(held)


async def balance(w: Wire, person_id: str) -> Decimal:
    return Decimal((await find(w.proc, "insured", person_id))["state"]["personal_account_balance"])


async def test_civil_servant_with_a_personal_account_and_the_balance_debited(wire):
    """S-06, S-13, 004 第十四条. A Wuhu employee civil servant with 2.00 in the personal account, chronic
    M03900, 卡托普利片 30 × 0.50 = 15.00 (A): pooling 15.00 × 0.85 = 12.75, large-amount 0.00, civil-servant
    subsidy 50% of the residual 2.25 = 1.125 → 1.13, personal account 15.00 − 13.88 = 1.12 (covers no
    self-paid), cash 0.00; balance 2.00 − 1.12 = 0.88. The same prescription again: the account pays
    only the 0.88 left, cash 1.12 − 0.88 = 0.24; balance 0.00. S-07 on both slips."""
    pid = person()
    await feed(wire, filing(pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1)))
    await wire.bus.publish(
        "settlement.chronic-qualification.v1",
        ChronicQualificationRecorded(
            person_id=pid, insured_region="340200", disease_code="M03900", recorded_at=wire.bus.business_now()
        ),
        producer="agency:340200",
    )
    await record_person(wire, pid, "2.00", ("civil_servant",))
    prescription = [line(1, "XC09AAC001A001", "30", "0.50")]
    slips = []
    for n in (1, 2):
        answer = await ask(
            wire,
            OUTPATIENT,
            outpatient(
                pid,
                f"PA-{n}",
                prescription,
                medical_type="chronic_outpatient",
                chronic_disease_code="M03900",
                visit_id=f"MZ-PA-{n}",
            ),
        )
        assert answer["outcome"] == "completed", (answer.get("code"), answer.get("message"))
        slip = answer["slip"]
        assert m(slip["fund_total"]) + m(slip["personal_cash"]) == m(slip["total"]) == m("15.00")  # S-07
        assert m(slip["personal_account"]) == dict(funds(slip))["personal_account"]  # listed
        slips.append(slip)
    assert funds(slips[0]) == [
        ("pooling", m("12.75")),
        ("large_amount", m("0.00")),
        ("civil_servant", m("1.13")),
        ("personal_account", m("1.12")),
    ]
    assert (m(slips[0]["fund_total"]), m(slips[0]["personal_cash"])) == (m("15.00"), m("0.00"))
    assert funds(slips[1])[-1] == ("personal_account", m("0.88"))
    assert (m(slips[1]["fund_total"]), m(slips[1]["personal_cash"])) == (m("14.76"), m("0.24"))
    assert await balance(wire, pid) == m("0.00")
    assert (await counters(wire, pid))["2025"]["account/personal_account"] == m("2.00")


async def test_partial_refund_resettles_the_remaining_lines(wire):
    """S-15, 000 第五十九条. The mixed bill of a person with 1000.00 in the personal account and no
    deductible used: in-scope 48.24 all under the deductible 600.00 → pooling 0.00; the account pays
    142.00 − self-paid 80.00 = 62.00; cash 80.00; balance 938.00.
    Refund of line 2 (阿托伐他汀: in 30.24, B 3.36, over 8.40): the insured place rolls back the original
    and re-decides lines 1, 3, 4, 5 in one write: in-scope 18.00 → deductible 18.00, pooling 0.00, account
    100.00 − 80.00 = 20.00, cash 80.00. Compensation = new − old: total −42.00, deductible −30.24,
    account −42.00, cash 0.00; net accumulation delta: deductible −30.24, account −42.00; balance 980.00,
    applied once although the refund also comes back on settlement.reversed.v1. A refund naming lines the
    settlement lacks is refused INVALID_REQUEST naming them."""
    pid = person()
    await record_person(wire, pid, "1000.00")
    visit = await ask(wire, OUTPATIENT, outpatient(pid, "PR-OP-1", mixed_bill()))
    assert (m(visit["slip"]["personal_account"]), m(visit["slip"]["personal_cash"])) == (m("62.00"), m("80.00"))
    sid = visit["settlement_id"]

    unknown = await ask(
        wire,
        REFUND,
        RefundRequested(
            request_id="PR-RF-0",
            person_id=pid,
            settlement_id=sid,
            institution_code=HOSPITAL,
            kind="ordinary",
            line_nos=[2, 8],
        ),
    )
    assert (unknown["outcome"], unknown["code"]) == ("refused", "INVALID_REQUEST") and "[8]" in unknown["message"]

    done = await ask(
        wire,
        REFUND,
        RefundRequested(
            request_id="PR-RF-1",
            person_id=pid,
            settlement_id=sid,
            institution_code=HOSPITAL,
            kind="ordinary",
            line_nos=[2],
        ),
    )
    assert (done["outcome"], done["kind"], done["line_nos"], done["reversal_request_id"]) == (
        "refunded",
        "ordinary",
        [2],
        "PR-RF-1",
    ), done
    c, new = done["compensation"], done["replacement"]
    assert split(c) == (m("-42.00"), m("-30.24"), m("-3.36"), m("-8.40"), m("0.00"))
    assert (m(c["deductible_applied"]), m(c["personal_account"]), m(c["personal_cash"])) == (
        m("-30.24"),
        m("-42.00"),
        m("0.00"),
    )
    assert split(new) == (m("100.00"), m("18.00"), m("0.00"), m("2.00"), m("80.00"))
    assert funds(new) == [("pooling", m("0.00")), ("personal_account", m("20.00"))]
    assert {e["counter"]: m(e["amount"]) for e in done["accumulation_delta"]} == {
        "account/personal_account": m("-42.00"),
        "deductible/general_outpatient": m("-30.24"),
    }

    reversed_ = await wire.bus.read(
        REVERSED, lambda ms: any(x["payload"].get("reversal_id") == done["reversal_id"] for x in ms)
    )
    envelope = next(x for x in reversed_ if x["payload"]["reversal_id"] == done["reversal_id"])
    assert envelope["payload"] == done

    async def consumed() -> bool:  # the insured place has handled the refund's reversed event too
        processed = (await find(wire.proc, "insured", pid))["processed"]  # id#payload fingerprint
        return any(mark.split("#")[0] == envelope["event_id"] for mark in processed)

    await eventually(consumed)
    assert await counters(wire, pid) == {
        "2025": {"deductible/general_outpatient": m("18.00"), "account/personal_account": m("20.00")}
    }
    assert await balance(wire, pid) == m("980.00")


# ================================================================ after clearing (S-15) — moves the clock: keep last
async def test_refunds_and_recalls_after_clearing(wire):
    """S-15, 004 第三十四条, C-02. Settled on 2025-03-12, so in clearing period 2025-04, generated on
    2025-04-21; the clock moves to 2025-04-22. The general outpatient visit (the mixed bill after 580.00 of
    deductible used): an ordinary refund is refused RESETTLE_AFTER_CLEARING; the after_clearing refund takes
    everything back as negative amounts in the next open clearing period 2025-05: total −142.00, in-scope −48.24, B −3.36,
    over-limit −10.40, self-paid −80.00, deductible −20.00, pooling −8.47, cash −133.53; the accumulations
    return to 580.00 of deductible. The inpatient stay can be neither cancelled nor refunded:
    RESETTLE_AFTER_CLEARING."""
    out_pid, in_pid = person(), person()
    await feed(wire, filing(in_pid, FilingCategory.LONG_TERM_RESIDENT, date(2024, 1, 1)))
    await ask(wire, OUTPATIENT, outpatient(out_pid, "CLR-OP-1", ecg_bill("58.00"), date(2025, 3, 5)))
    visit = await ask(wire, OUTPATIENT, outpatient(out_pid, "CLR-OP-2", mixed_bill()))
    assert visit["outcome"] == "completed" and visit["clearing_month"] == "2025-04", visit
    assert (funds(visit["slip"]), m(visit["slip"]["personal_cash"])) == ([("pooling", m("8.47"))], m("133.53"))
    stay = await ask(wire, DISCHARGE, discharge(in_pid, "CLR-STAY-1", stay_bill(), date(2025, 3, 1), date(2025, 3, 10)))
    assert_completed(
        stay,
        pooling="3659.85",
        cash="2643.15",
        deductible="800.00",
        ratio="0.85",
        rate_basis="local",
        basis="long_term",
    )

    await wire.bus.set_clock(AFTER_APRIL_CLEARING)

    # the service's own business time, as its /metrics shows it
    await eventually(lambda: wire.proc.business_time() >= datetime(2025, 4, 21, tzinfo=SHANGHAI), timeout=30)

    sid = visit["settlement_id"]
    ordinary = await ask(
        wire,
        REFUND,
        RefundRequested(
            request_id="CLR-RF-1", person_id=out_pid, settlement_id=sid, institution_code=HOSPITAL, kind="ordinary"
        ),
    )
    assert (ordinary["outcome"], ordinary["code"]) == ("refused", "RESETTLE_AFTER_CLEARING"), ordinary
    assert ordinary["settlement_id"] == sid

    refunded = await ask(
        wire,
        REFUND,
        RefundRequested(
            request_id="CLR-RF-2",
            person_id=out_pid,
            settlement_id=sid,
            institution_code=HOSPITAL,
            kind="after_clearing",
        ),
    )
    assert (refunded["outcome"], refunded["kind"]) == ("refunded", "after_clearing"), refunded
    assert (refunded["clearing_month"], refunded["reversed_on"]) == ("2025-05", "2025-04-22")
    c = refunded["compensation"]
    assert split(c) == (m("-142.00"), m("-48.24"), m("-3.36"), m("-10.40"), m("-80.00"))
    assert (m(c["deductible_applied"]), m(c["fund_total"]), m(c["personal_account"]), m(c["personal_cash"])) == (
        m("-20.00"),
        m("-8.47"),
        m("0.00"),
        m("-133.53"),
    )
    assert funds(c) == [("pooling", m("-8.47"))]
    reversed_ = await wire.bus.read(
        REVERSED, lambda ms: any(x["payload"].get("reversal_id") == refunded["reversal_id"] for x in ms)
    )
    assert next(x for x in reversed_ if x["payload"]["reversal_id"] == refunded["reversal_id"])["payload"] == refunded

    async def rolled_back() -> bool:
        return await counters(wire, out_pid) == {"2025": {"deductible/general_outpatient": m("580.00")}}

    await eventually(rolled_back)

    cancel = await ask(
        wire,
        CANCEL,
        SettlementCancelRequested(
            request_id="CLR-CX-1", person_id=in_pid, settlement_id=stay["settlement_id"], institution_code=HOSPITAL
        ),
    )
    assert (cancel["outcome"], cancel["code"]) == ("refused", "RESETTLE_AFTER_CLEARING"), cancel
    assert cancel["title_zh"] == "经办机构间已清算，不予召回重结"
    recall = await ask(
        wire,
        REFUND,
        RefundRequested(
            request_id="CLR-RF-3",
            person_id=in_pid,
            settlement_id=stay["settlement_id"],
            institution_code=HOSPITAL,
            kind="after_clearing",
        ),
    )
    assert (recall["outcome"], recall["code"]) == ("refused", "RESETTLE_AFTER_CLEARING"), recall
    assert (await counters(wire, in_pid))["2025"] == {"fund/pooling/annual": m("3659.85")}
