"""The recovery run's checks (chaos/audit.py) and its mix (chaos/mix.py): an item the HIS was told
about and missing from clearing or prepayment is lost, one counted twice is double-counted, one
there without the HIS being told was completed behind its back (S-01); the fund totals agree to
the fen only when every item is there once."""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from chaos import audit
from chaos.mix import NOT_SETTLED, Mix, acceptable
from simulator.traffic import population


def completed(sid: str, funds: str, cross: bool = True) -> dict:
    return {
        "outcome": "completed",
        "settlement_id": sid,
        "request_id": f"Q-{sid}",
        "cross_province": cross,
        "slip": {"fund_total": funds},
    }


def refunded(sid: str, rid: str, funds: str, cross: bool = True) -> dict:
    return {
        "outcome": "refunded",
        "settlement_id": sid,
        "reversal_id": rid,
        "cross_province": cross,
        "compensation": {"fund_total": funds},
    }


def held_for(told: dict[str, dict]) -> tuple[Counter, Counter]:
    """Clearing and prepayment holding exactly what the HIS was told, as their archives name it."""
    lines = [
        {"kind": "settlement", "settlement_id": r["settlement_id"], "ref": ""}
        if k.startswith("S:")
        else {"kind": "refund", "settlement_id": r["settlement_id"], "ref": r["reversal_id"]}
        for k, r in told.items()
    ]
    marks = [
        f"{r['settlement_id']}:completed" if k.startswith("S:") else f"{r['settlement_id']}/{r['reversal_id']}:reversed"
        for k, r in told.items()
    ]
    return audit.clearing_items(lines), audit.prepayment_items(marks)


def sums(told: dict[str, dict], drop: str | None = None) -> dict[str, Decimal]:
    def amount(r: dict) -> Decimal:
        return Decimal(r["slip"]["fund_total"] if r["outcome"] == "completed" else r["compensation"]["fund_total"])

    kept = [r for k, r in told.items() if k != drop]
    cross = sum((amount(r) for r in kept if r["cross_province"]), Decimal("0"))
    intra = sum((amount(r) for r in kept if not r["cross_province"]), Decimal("0"))
    return {"clearing_cross_province": cross, "clearing_intra_province": intra, "prepayment_used": cross + intra}


ANSWERS = {
    "Q-1": [completed("S-1", "120.50")],
    "Q-2": [completed("S-2", "80.00", cross=False)],
    "Q-3": [refunded("S-1", "R-3", "-20.25")],
    "Q-4": [{"outcome": "refused", "code": "NOT_FILED", "request_id": "Q-4"}],
}


def test_everything_there_once_is_clean():
    told = audit.answered_items(ANSWERS)
    assert set(told) == {"S:S-1", "S:S-2", "R:R-3"}
    clearing, prepayment = held_for(told)
    check = audit.items_check(told, clearing, prepayment, ledger_lines=3)
    assert (check["lost"], check["double_counted"], check["behind_the_hospitals_back"]) == (0, 0, 0)
    totals = audit.fund_totals(told, sums(told))
    assert totals["answers"] == "180.25" and totals["equal_to_the_fen"]


def test_a_line_missing_in_clearing_is_lost_and_the_totals_differ():
    told = audit.answered_items(ANSWERS)
    clearing, prepayment = held_for(told)
    del clearing["S:S-2"]
    check = audit.items_check(told, clearing, prepayment, ledger_lines=2)
    assert check["lost"] == 1 and check["examples"]["lost_clearing"] == ["S:S-2"]
    assert not audit.fund_totals(told, sums(told, drop="S:S-2"))["equal_to_the_fen"]


def test_a_line_counted_twice_and_one_behind_the_back():
    told = audit.answered_items(ANSWERS)
    clearing, prepayment = held_for(told)
    prepayment["S:S-1"] += 1  # the same settlement counted twice
    clearing["S:S-9"] += 1  # a settlement the HIS was told "not settled directly"
    check = audit.items_check(told, clearing, prepayment, ledger_lines=5)  # one ledger line the archive lacks
    assert check["double_counted"] == 2 and check["behind_the_hospitals_back"] == 1


def test_completed_twice_by_answers_or_by_events():
    answers = {"Q-1": [completed("S-1", "1.00"), completed("S-1b", "1.00")]}
    events = [
        {"payload": {"settlement_id": "S-2", "slip": {"fund_total": "1.00"}}},
        {"payload": {"settlement_id": "S-2", "slip": {"fund_total": "1.00"}}},  # a copy: fine
        {"payload": {"settlement_id": "S-3", "slip": {"fund_total": "1.00"}}},
        {"payload": {"settlement_id": "S-3", "slip": {"fund_total": "2.00"}}},
    ]  # twice
    assert audit.completed_twice(answers, events) == 2


def test_late_insured_answers_are_the_timed_out_settlements_the_insured_place_decided():
    answers = {
        "Q-1": [{"outcome": "refused", "code": NOT_SETTLED, "settlement_id": "S-1"}],
        "Q-2": [{"outcome": "refused", "code": NOT_SETTLED, "settlement_id": "S-2"}],
        "Q-3": [completed("S-3", "5.00")],
        "R-4": [{"outcome": "refused", "code": NOT_SETTLED, "settlement_id": "S-3"}],
    }  # a partial refund's
    decided = [{"payload": {"settlement_id": sid, "decided": True}} for sid in ("S-1", "S-3")]
    rollbacks = [
        {"payload": {"settlement_id": "S-1", "reason": "the insured place answered after the HIS was told"}},
        {"payload": {"settlement_id": "S-2", "reason": "the insured place did not answer in time"}},
    ]
    assert audit.late_decisions(answers, decided, rollbacks) == {
        "not_settled": 2,
        "not_settled_with_a_decision": 1,
        "rolled_back": 1,
        "rolled_back_on_late_answer": 1,
        "insured_decisions": 2,
        "rollbacks": 2,
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2), min_size=1, max_size=30),
    st.data(),
)
def test_dropping_any_one_item_is_seen_in_items_and_in_money(amounts, data):
    answers = {f"Q-{i}": [completed(f"S-{i}", str(a), cross=i % 3 != 0)] for i, a in enumerate(amounts)}
    told = audit.answered_items(answers)
    dropped = data.draw(st.sampled_from(sorted(told)))
    clearing, prepayment = held_for(told)
    del clearing[dropped]
    assert audit.items_check(told, clearing, prepayment, ledger_lines=len(told) - 1)["lost"] == 1
    assert not audit.fund_totals(told, sums(told, drop=dropped))["equal_to_the_fen"]
    assert audit.fund_totals(told, sums(told))["equal_to_the_fen"]


def test_the_mix_never_has_one_person_twice_in_flight_and_refunds_after_clearing_only_after_the_21st():
    from datetime import date

    rng = random.Random(7)
    mix = Mix(rng, population(rng, 30), date(2026, 11, 2))
    busy: set[str] = set()
    for _ in range(200):
        request = mix.next(busy)
        if request is None:
            break
        assert request.person.person_id not in busy
        assert request.expected.kind != "refund after clearing (S-15)"
        busy.add(request.person.person_id)
    assert len(busy) == 30 or mix.next(busy) is None


def test_after_the_21st_the_cleared_outpatient_settlements_come_back_as_after_clearing_refunds():
    from datetime import date

    rng = random.Random(11)
    mix = Mix(rng, population(rng, 40), date(2026, 11, 2))
    for n in range(30):
        visit = mix._outpatient(set())
        mix.answered(
            visit,
            {
                "outcome": "completed",
                "settlement_id": f"S-{n}",
                "person_id": visit.person.person_id,
                "institution_code": visit.person.institution,
                "medical_type": "general_outpatient",
            },
        )
    assert not any(mix.next(set()).expected.kind == "refund after clearing (S-15)" for _ in range(100))
    mix.clearing_generated(date(2026, 12, 21))
    kinds = [mix.next(set()) for _ in range(200)]
    after = [r for r in kinds if r.expected.kind == "refund after clearing (S-15)"]
    assert after and all(r.payload.kind == "after_clearing" for r in after)
    assert len({r.payload.settlement_id for r in after}) == len(after)  # each refunded once


def test_not_settled_directly_is_acceptable_only_where_the_insured_place_is_asked():
    from datetime import date

    rng = random.Random(3)
    mix = Mix(rng, population(rng, 30), date(2026, 11, 2))
    visit = mix._outpatient(set())
    timed_out = {"outcome": "refused", "code": NOT_SETTLED}
    assert acceptable(visit, timed_out, None) is None
    assert mix._cancel(set()) is None  # nothing settled yet: nothing to cancel
    mix.answered(
        visit,
        {
            "outcome": "completed",
            "settlement_id": "S-1",
            "person_id": visit.person.person_id,
            "institution_code": visit.person.institution,
            "medical_type": "general_outpatient",
        },
    )
    cancel = mix._cancel(set())
    assert cancel.expected.outcome == "cancelled"
    assert acceptable(cancel, timed_out, None) is not None  # a cancel is decided at once: never "not settled"
