"""Appeals 申诉 of audit deductions (R-04, R-05) and an institution's money (C-07, R-01/R-02), on the
clearing service's own handlers over the in-memory store (``clearing_support.py``), and the owed arithmetic
as a property (M-01: owed = Σ its settlements' fund amounts − Σ deductions not withdrawn, to the fen).

Wuhan's hospital H1 (420100) treats Wuhu's insured (340200); Wuhan's audit deducts 300.00 of S-A on 09-10
(the 2026-09 period). H1 appeals; Wuhan withdraws the deduction (before the 21st: in 2026-09 itself, so
the period never carries it) or upholds it; after the 21st a withdrawal is paid back in 2026-10 (R-05).
H2, another Wuhan hospital, can neither appeal H1's deduction nor learn that it exists."""

from __future__ import annotations

import json
import os
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import completed_settlement, default_sender

from contracts.clearing import (
    AnswerDeductionAppeal,
    AppealDeduction,
    DailyReconciliation,
    FundAmounts,
    RecordAuditDeduction,
)
from contracts.values import SHANGHAI
from runtime.envelopes import envelope_for
from runtime.failures import PoisonMessage
from runtime.parties import ParticipantRegistry, signer_for
from runtime.query import QueryRefused, SignedQuery
from services.clearing.domain import institution
from services.clearing.domain.appeal import WITHDRAWAL_PREFIX
from services.clearing.domain.ledger import LedgerEntry
from services.clearing.institution_query import InstitutionQueries

from .clearing_support import Clearing

WUHU, WUHAN = "340200", "420100"
H1, H2 = "H42010200001", "H42010200002"
AUGUST_20 = datetime(2026, 8, 20, 10, 0, tzinfo=SHANGHAI)
SEPT_10 = datetime(2026, 9, 10, 15, 0, tzinfo=SHANGHAI)
LEDGER = f"2026-09:{WUHU}:{WUHAN}"
KEYS = os.environ["YIDI_KEYS_DIR"]
PARTIES = ParticipantRegistry.load(KEYS)
APPEAL, ANSWER, DEDUCT = "his.deduction-appealed.v1", "clearing.answer-appeal.v1", "clearing.record-audit-deduction.v1"


def message(topic: str, payload, at: datetime, sender: str | None = None):
    return envelope_for(topic, payload, producer="test", now=at, sender=sender or default_sender(topic, payload))


def appeal(institution_code: str = H1, deduction_id: str = "D1", appeal_id: str = "AP-1") -> AppealDeduction:
    return AppealDeduction(
        appeal_id=appeal_id,
        institution_code=institution_code,
        treating_region=WUHAN,
        settlement_id="S-A",
        deduction_id=deduction_id,
        reason="该项目符合限定支付范围，附病历",
        appealed_at=SEPT_10,
    )


def answer(outcome: str, appeal_id: str = "AP-1", at: datetime = SEPT_10) -> AnswerDeductionAppeal:
    return AnswerDeductionAppeal(
        appeal_id=appeal_id,
        institution_code=H1,
        treating_region=WUHAN,
        settlement_id="S-A",
        deduction_id="D1",
        outcome=outcome,
        reason="经复核",
        answered_at=at,
    )


async def with_deduction() -> Clearing:
    """S-A (H1, pooling 1000.00, personal cash 150.00) of 08-20 and Wuhan's deduction D1 of 300.00 on 09-10."""
    c = Clearing(AUGUST_20)
    s_a = completed_settlement(
        "S-A",
        insured_region=WUHU,
        treating_region=WUHAN,
        settled_on=date(2026, 8, 20),
        funds={"pooling": "1000.00"},
        institution_code=H1,
        cash="150.00",
    )
    await c.handlers["settlement.completed.v1"](message("settlement.completed.v1", s_a, AUGUST_20))
    c.clock.at = SEPT_10
    d1 = RecordAuditDeduction(
        deduction_id="D1",
        settlement_id="S-A",
        insured_region=WUHU,
        treating_region=WUHAN,
        reason="超限价收费",
        decided_at=SEPT_10,
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "300.00"}),
    )
    assert await c.handlers[DEDUCT](message(DEDUCT, d1, SEPT_10, sender="A420100")) == "applied"
    return c


async def owed_of(c: Clearing, month: str = "2026-09") -> dict:
    queries = InstitutionQueries(c.reads, now=c.clock, parties=PARTIES)
    body, content_type, _ = await queries.owed(
        SignedQuery(PARTIES.get(H1), "/clearing/institution/owed", {"institution": H1, "month": month})
    )
    assert content_type == "application/jose"  # sealed to H1: only its key opens it
    return json.loads(signer_for(KEYS, H1).open_sealed(body.decode()))


async def test_a_withdrawn_deduction_before_the_21st_leaves_the_period_and_the_amount_owed():
    """R-04: H1 appeals D1; Wuhan withdraws it on 09-15. The pay-back is a correction to nothing in D1's own
    period (2026-09, not generated): the pair ledger deducts 0.00 and H1 is owed its 1000.00 again; the
    answer is published on clearing.appeal.v1 and H1 reads it in its owed query, sealed to it."""
    c = await with_deduction()
    assert (await owed_of(c))["net_owed"] == "700.00"
    assert await c.handlers[APPEAL](message(APPEAL, appeal(), SEPT_10, sender=H1)) == "applied"
    assert c.state("appeals", "S-A:D1")["status"] == "lodged"
    c.clock.at = datetime(2026, 9, 15, 9, 0, tzinfo=SHANGHAI)
    mark = len(c.store.published)
    env = message(ANSWER, answer("withdrawn", at=c.clock.at), c.clock.at, sender="A420100")
    assert await c.handlers[ANSWER](env) == "applied"
    assert await c.handlers[ANSWER](env) == "duplicate"  # redelivered: no second pay-back
    assert c.state("ledgers", LEDGER)["deducted"] == {"310/pooling": "0.00"}
    told = [p for t, p in c.published(mark) if t == "clearing.appeal.v1"]
    assert [(p["status"], p["paid_back_in"], p["institution_code"]) for p in told] == [("withdrawn", "2026-09", H1)]
    owed = await owed_of(c)
    assert (owed["settled"], owed["deducted"], owed["net_owed"]) == ("1000.00", "0.00", "1000.00")
    d1, back = owed["deductions"]
    assert (d1["deduction_id"], d1["amount"], d1["rule"], d1["appeal"]["status"]) == (
        "D1",
        "300.00",
        "R-04",
        "withdrawn",
    )
    assert (back["deduction_id"], back["amount"], back["corrects"], back["rule"]) == (
        f"{WITHDRAWAL_PREFIX}AP-1",
        "-300.00",
        "D1",
        "R-05",
    )
    assert back["reason"].startswith("申诉撤销：")
    assert [c.metrics.appeals.labels(s)._value.get() for s in ("lodged", "withdrawn")] == [1, 1]


async def test_an_upheld_deduction_stands_and_a_second_answer_is_refused():
    c = await with_deduction()
    await c.handlers[APPEAL](message(APPEAL, appeal(), SEPT_10, sender=H1))
    assert await c.handlers[ANSWER](message(ANSWER, answer("upheld"), SEPT_10, sender="A420100")) == "applied"
    assert c.state("ledgers", LEDGER)["deducted"] == {"310/pooling": "300.00"}
    owed = await owed_of(c)
    assert (owed["net_owed"], owed["deductions"][0]["appeal"]["status"]) == ("700.00", "upheld")
    with pytest.raises(PoisonMessage) as refused:
        await c.handlers[ANSWER](message(ANSWER, answer("withdrawn"), SEPT_10, sender="A420100"))
    assert (refused.value.reason, "already answered (upheld)" in str(refused.value)) == ("refused_by_rule", True)


async def test_a_withdrawal_after_the_21st_is_paid_back_in_the_next_period():
    """C-02/R-05: 2026-09 is generated with D1 in it; a withdrawal on 09-22 cannot reopen it: the pay-back
    enters 2026-10, where H1's owed shows −300.00 of deductions (its 2026-09 stays 700.00)."""
    c = await with_deduction()
    await c.handlers[APPEAL](message(APPEAL, appeal(), SEPT_10, sender=H1))
    [generation] = [env for env in c.store.due() if env.payload.kind == "generate"]
    c.clock.at = generation.payload.due_at
    await c.handlers["clearing.deadline-due.v1"](generation)
    c.clock.at = datetime(2026, 9, 22, 9, 0, tzinfo=SHANGHAI)
    assert (
        await c.handlers[ANSWER](message(ANSWER, answer("withdrawn", at=c.clock.at), c.clock.at, sender="A420100"))
        == "applied"
    )
    assert c.state("ledgers", LEDGER)["deducted"] == {"310/pooling": "300.00"}  # fixed on the 21st
    assert c.state("ledgers", f"2026-10:{WUHU}:{WUHAN}")["deducted"] == {"310/pooling": "-300.00"}
    assert c.state("appeals", "S-A:D1")["paid_back_in"] == "2026-10"
    assert (await owed_of(c))["net_owed"] == "700.00"
    october = await owed_of(c, "2026-10")
    assert (october["settled"], october["deducted"], october["net_owed"]) == ("0.00", "-300.00", "300.00")


async def test_another_institution_can_neither_appeal_the_deduction_nor_learn_of_it():
    """H2 names itself (the authority table's check) but the deduction is of H1's settlement: refused by rule
    with the words it would get for a deduction that does not exist. Asking H1's month: 404."""
    c = await with_deduction()
    refusals = []
    for cmd in (appeal(H2), appeal(H2, deduction_id="D-NONE")):
        with pytest.raises(PoisonMessage) as refused:
            await c.handlers[APPEAL](message(APPEAL, cmd, SEPT_10, sender=H2))
        refusals.append(str(refused.value).replace(cmd.deduction_id, "…"))
    assert (
        refusals[0]
        == refusals[1]
        == ("AppealRefused: R-04: H42010200002 has no audit deduction … of settlement S-A in the clearing archive")
    )
    queries = InstitutionQueries(c.reads, now=c.clock, parties=PARTIES)
    for path, ask in (
        ("/clearing/institution/owed", queries.owed),
        ("/clearing/institution/settlements", queries.settlements),
    ):
        with pytest.raises(QueryRefused) as answer_:
            await ask(SignedQuery(PARTIES.get(H2), path, {"institution": H1, "month": "2026-09"}))
        assert answer_.value.status == 404 and "S-A" not in str(answer_.value)
    with pytest.raises(QueryRefused) as wrong_agency:  # Hefei's agency does not speak for Wuhan
        await queries.owed(
            SignedQuery(PARTIES.get("A340100"), "/clearing/institution/owed", {"institution": H1, "month": "2026-09"})
        )
    assert wrong_agency.value.status == 403
    body, content_type, _ = await queries.owed(
        SignedQuery(PARTIES.get("A420000"), "/clearing/institution/owed", {"institution": H1, "month": "2026-09"})
    )
    assert content_type == "application/json" and json.loads(body)["net_owed"] == "700.00"  # its province, clear


async def test_a_corrected_deduction_is_appealed_in_its_correction_and_only_once():
    c = await with_deduction()
    fix = RecordAuditDeduction(
        deduction_id="D1b",
        settlement_id="S-A",
        insured_region=WUHU,
        treating_region=WUHAN,
        reason="更正",
        decided_at=SEPT_10,
        corrects="D1",
        amounts=FundAmounts(insurance_type="310", funds={"pooling": "100.00"}),
    )
    await c.handlers[DEDUCT](message(DEDUCT, fix, SEPT_10, sender="A420100"))
    with pytest.raises(PoisonMessage) as refused:
        await c.handlers[APPEAL](message(APPEAL, appeal(), SEPT_10, sender=H1))
    assert "corrected by D1b; appeal that record" in str(refused.value)
    assert await c.handlers[APPEAL](message(APPEAL, appeal(deduction_id="D1b"), SEPT_10, sender=H1)) == "applied"
    with pytest.raises(PoisonMessage) as twice:
        await c.handlers[APPEAL](message(APPEAL, appeal(deduction_id="D1b", appeal_id="AP-2"), SEPT_10, sender=H1))
    assert "already appealed (AP-1, lodged)" in str(twice.value)


async def test_the_days_of_the_month_with_their_reconciliation():
    """R-01/R-02: H1's 08-20 (one settlement: total 1150.00, funds 1000.00, cash 150.00) reconciled by its HIS
    with the wrong count is mismatched, with its due date; a day it never reported is not reconciled."""
    c = await with_deduction()
    report = DailyReconciliation(
        institution_code=H1,
        treating_region=WUHAN,
        day=date(2026, 8, 20),
        settlements=2,
        fund_total="1000.00",
        sent_at=SEPT_10,
    )
    await c.handlers["his.daily-reconciliation.v1"](message("his.daily-reconciliation.v1", report, SEPT_10))
    queries = InstitutionQueries(c.reads, now=c.clock, parties=PARTIES)
    body, _, _ = await queries.settlements(
        SignedQuery(
            PARTIES.get("A420100"), "/clearing/institution/settlements", {"institution": H1, "month": "2026-08"}
        )
    )
    answer_ = json.loads(body)
    [day] = answer_["days"]
    assert (day["day"], day["settlements"], day["total"], day["fund"], day["personal_cash"], day["reconciliation"]) == (
        "2026-08-20",
        1,
        "1150.00",
        "1000.00",
        "150.00",
        "mismatched",
    )
    assert day["resolve_by"] is not None and answer_["fund"] == "1000.00"


# ---------------------------------------------------------------- the arithmetic, as a property (M-01)
FEN = st.integers(min_value=1, max_value=5_000_000).map(lambda n: Decimal(n).scaleb(-2))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(FEN, st.integers(0, 100), st.booleans(), st.booleans()), min_size=0, max_size=12))
def test_owed_is_the_fund_amounts_less_the_deductions_not_withdrawn_to_the_fen(settlements):
    """Each settlement (fund amount; a deduction of 0–100 % of it, if any; withdrawn on appeal or not), archived
    as clearing archives them: the net owed equals Σ funds − Σ deductions not withdrawn, exactly."""
    lines: list[dict] = []
    expected = Decimal("0.00")
    for i, (fund, percent, deducted, withdrawn) in enumerate(settlements):
        sid = f"S-{i}"
        lines.append(
            _line(
                LedgerEntry(
                    settlement_id=sid,
                    kind="settlement",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    business_day=date(2026, 8, 1),
                    amounts=FundAmounts(insurance_type="310", funds={"pooling": fund}),
                )
            )
        )
        expected += fund
        cut = (fund * percent / 100).quantize(Decimal("0.01"))
        if not deducted or cut == 0:
            continue
        amounts = FundAmounts(insurance_type="310", funds={"pooling": cut})
        lines.append(
            _line(
                LedgerEntry(
                    settlement_id=sid,
                    kind="audit_deduction",
                    ref="D",
                    insured_region=WUHU,
                    treating_region=WUHAN,
                    business_day=date(2026, 9, 1),
                    amounts=amounts,
                )
            )
        )
        if withdrawn:
            lines.append(
                _line(
                    LedgerEntry(
                        settlement_id=sid,
                        kind="audit_deduction",
                        ref=f"{WITHDRAWAL_PREFIX}A{i}",
                        insured_region=WUHU,
                        treating_region=WUHAN,
                        business_day=date(2026, 9, 2),
                        corrects="D",
                        replaces=amounts,
                        amounts=FundAmounts(insurance_type="310", funds={}),
                    )
                )
            )
        else:
            expected -= cut
    owed = institution.owed(H1, WUHAN, "2026-09", lines, [], None, SEPT_10)
    assert owed.net_owed == expected
    assert owed.settled - owed.refunded - sum((d.amount for d in owed.deductions), Decimal("0.00")) == owed.net_owed


def _line(entry: LedgerEntry) -> dict:
    return {**entry.model_dump(mode="json"), "institution_code": H1, "clearing_month": "2026-09"}
