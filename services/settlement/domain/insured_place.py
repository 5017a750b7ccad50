"""The insured place's side of real-time settlement 参保地 (S-05..S-09, S-13, S-14), as methods of the
person's ``InsuredRecord`` aggregate: deductible, ratios, caps and funds on the person's
year-to-date accumulations and personal-account balance, in one atomic write per decision;
rollbacks of late decisions (S-01), of cancels and refunds, and the re-decision of a partial
refund's remaining lines (S-15); the agency's records of the person (S-06, S-13).

One document per person (``insured``), so a decision and its accumulation change are one write, and
two settlements of one person never both consume the same remaining deductible or cap (S-05): the
second writer sees the first's version. The money rules themselves are ``insured.py``. Pure: the
time is passed in. Field names are those of the stored documents.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from contracts.settlement import ChronicQualificationRecorded, InsuredPersonRecorded, SettlementReversed
from contracts.settlement_hops import InsuredDecided, InsuredRollback, RefundAssessed, RefundDecided, TreatingAssessed
from contracts.settlement_values import RefusalCode
from services.settlement.domain import insured
from services.settlement.domain.accumulations import ACCOUNT_KEY, AccumulationDelta, Accumulations
from services.settlement.domain.decision import DECIDED, REFUND_DECIDED, Message, SettlementDecision
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.refusal import Refused

ZERO = Decimal("0.00")


class Applied(BaseModel):
    """A decision of the insured place, kept to answer repeats identically and to roll back."""

    decided: dict[str, Any]
    year: int
    increments: dict[str, Decimal] = Field(default_factory=dict)
    rolled_back: bool = False
    replaced: dict[str, Decimal] | None = Field(
        default=None,
        description="a partial refund's answer: what the settlement consumed before it, to undo a late refund (S-01)",
    )


class InsuredRecord(BaseModel):
    """The insured place's stored record of one person (its aggregate): counters per year,
    decisions, qualifications. :meth:`profile` is the domain's view of it (``InsuredProfile``)."""

    person_id: str
    counters: dict[int, dict[str, Decimal]] = Field(default_factory=dict)
    applied: dict[str, Applied] = Field(default_factory=dict, description="settlement id → decision")
    reversals: list[str] = Field(default_factory=list, description="reversal ids already rolled back")
    chronic_qualifications: list[str] = Field(default_factory=list, description="disease codes (S-13)")
    groups: list[str] = Field(default_factory=list, description="civil_servant, assistance… (S-06)")
    personal_account_balance: Decimal = Field(default=ZERO, description="个人账户余额 left (S-06)")
    person_recorded_at: datetime | None = Field(default=None, description="when the agency last recorded them")
    archived: int = Field(default=0, description="decisions moved to the archive (services/settlement/adapters.py)")

    def accumulations(self, year: int) -> Accumulations:
        return Accumulations(year, dict(self.counters.get(year, {})))

    def add(self, delta: AccumulationDelta) -> None:
        """Apply a settlement's counter change; what it paid from the personal account is debited
        from the balance (a rollback's negative amount credits it back) in the same write (S-06).
        A change of nothing (the rollback of a refusal, which consumed nothing) leaves the record as
        it was: no empty year appears."""
        if not delta.increments:
            return
        merged = self.accumulations(delta.year).plus(delta)
        self.counters[delta.year] = {k: v for k, v in merged.counters.items()}
        self.personal_account_balance -= delta.increments.get(ACCOUNT_KEY, ZERO)

    def profile(self) -> insured.InsuredProfile:
        """What the insured-place rules need of the person (S-06, S-13)."""
        return insured.InsuredProfile(
            chronic_qualifications=frozenset(self.chronic_qualifications),
            groups=frozenset(self.groups),
            personal_account_balance=self.personal_account_balance,
        )


Decided = SettlementDecision[InsuredRecord]


class InsuredPlace:
    """The rules of the insured place over one person's ``InsuredRecord``."""

    def __init__(self, person: InsuredRecord, policies: PolicyBook) -> None:
        self.person, self.policies = person, policies

    def _stored(self) -> Decided:
        return SettlementDecision(self.person)

    # ------------------------------------------------------------ a settlement (S-05..S-09, S-13, S-14)
    def assessed(self, assessment: TreatingAssessed, now: datetime) -> Decided:
        """The money answer to the treating place's assessment (S-05, S-06), consuming the person's
        accumulations in the same write; answered once, a repeat gets the same answer. One that
        arrives after its answer deadline is refused: the HIS was already told (S-01)."""
        known = self.person.applied.get(assessment.settlement_id)
        if known is not None:  # answered before: the same answer, nothing consumed twice
            return SettlementDecision(
                messages=[Message(DECIDED, InsuredDecided.model_validate(known.decided), "repeat")]
            )
        if assessment.answer_by is not None and now > assessment.answer_by:
            late = Refused(
                RefusalCode.INSURED_TIMEOUT_NOT_SETTLED, "reached the insured place after the answer deadline"
            )
            return self._answered(assessment, insured.refusal_to_insured_decided(assessment, late), None)
        try:
            decision = self._decide(assessment)
        except Refused as refusal:
            return self._answered(assessment, insured.refusal_to_insured_decided(assessment, refusal), None)
        self.person.add(decision.delta)
        return self._answered(assessment, insured.to_insured_decided(assessment, decision), decision.delta)

    def manual_claim(self, assessment: TreatingAssessed) -> Decided:
        """A manual claim's money (S-17): the same rules on the same accumulations as :meth:`assessed`, in the
        same write, but answered to no treating place — the claim is paid at home, so no message leaves the
        aggregate (nothing of it reaches clearing). Decided once: a repeat changes nothing; the answer is
        read back from ``applied``."""
        if assessment.settlement_id in self.person.applied:
            return SettlementDecision()
        try:
            decision = self._decide(assessment)
        except Refused as refusal:
            self._record(insured.refusal_to_insured_decided(assessment, refusal), None)
            return self._stored()
        self.person.add(decision.delta)
        self._record(insured.to_insured_decided(assessment, decision), decision.delta)
        return self._stored()

    def _record(self, decided: InsuredDecided, delta: AccumulationDelta | None) -> None:
        self.person.applied[decided.settlement_id] = Applied(
            decided=decided.model_dump(mode="json"),
            year=decided.settlement_year,
            increments=dict(delta.increments) if delta else {},
        )

    def _decide(self, assessment: TreatingAssessed) -> insured.InsuredAnswer:
        """S-05, S-06, S-14: the region's policy on the person's accumulations of the settlement's year,
        groups and account balance."""
        policy = self.policies.select(assessment.insured_region, assessment.service_date)
        year = insured.settlement_year(assessment)
        return insured.decide(assessment, policy, self.person.accumulations(year), self.person.profile())

    def _answered(
        self, assessment: TreatingAssessed, decided: InsuredDecided, delta: AccumulationDelta | None
    ) -> Decided:
        self._record(decided, delta)
        return SettlementDecision(self.person, [Message(DECIDED, decided)])

    def rollback(self, cmd: InsuredRollback) -> Decided:
        """S-01: a decision the HIS never received is undone, exactly once: a settlement gives back
        what it consumed; a partial refund's re-decision is replaced by the original again."""
        key = cmd.reversal_id or cmd.settlement_id
        applied = self.person.applied.get(key)
        if applied is None or applied.rolled_back:
            return SettlementDecision()
        person = self.person
        person.add(AccumulationDelta(applied.year, applied.increments).negated())
        if cmd.reversal_id and applied.replaced is not None:
            person.add(AccumulationDelta(applied.year, applied.replaced))
            settlement = person.applied[cmd.settlement_id]
            person.applied[cmd.settlement_id] = settlement.model_copy(update={"increments": applied.replaced})
            person.reversals = [r for r in person.reversals if r != cmd.reversal_id]
        person.applied[key] = applied.model_copy(update={"rolled_back": True})
        return self._stored()

    def reversed(self, reversed_: SettlementReversed) -> Decided:
        """S-15: a cancel or refund gives back what the settlement had consumed of the counters. A
        partial refund was already netted in :meth:`refund_assessed`: its reversal id is known and skipped."""
        done = reversed_.root
        if done.reversal_id in self.person.reversals or not done.accumulation_delta:
            return SettlementDecision()
        year = done.accumulation_delta[0].year
        self.person.add(AccumulationDelta.from_entries(year, done.accumulation_delta))
        self.person.reversals.append(done.reversal_id)
        return self._stored()

    # ------------------------------------------------------------ partial refund (S-15)
    def refund_assessed(self, cmd: RefundAssessed, now: datetime) -> Decided:
        """部分退费 (S-15, 000 第五十九条): roll back what the settlement consumed and decide the remaining
        lines on the rolled-back accumulations and balance, in one write; the settlement's current
        consumption becomes the replacement's, and the reversal id is recorded so that the later
        ``settlement.reversed.v1`` of this refund is not applied a second time."""
        known = self.person.applied.get(cmd.reversal_id)
        if known is not None:
            return SettlementDecision(
                messages=[Message(REFUND_DECIDED, RefundDecided.model_validate(known.decided), "repeat")]
            )
        original = self.person.applied.get(cmd.settlement_id)
        try:
            if cmd.assessment.answer_by is not None and now > cmd.assessment.answer_by:
                raise Refused(
                    RefusalCode.INSURED_TIMEOUT_NOT_SETTLED, "reached the insured place after the answer deadline"
                )
            if original is None or original.rolled_back or not original.decided.get("decided"):
                raise Refused(
                    RefusalCode.SETTLEMENT_NOT_FOUND,
                    f"the insured place holds no standing decision for settlement {cmd.settlement_id}",
                )
            self.person.add(AccumulationDelta(original.year, original.increments).negated())
            decision = self._decide(cmd.assessment)
        except Refused as refusal:  # nothing rolled back: the state is not stored
            refused = _refund_answer(cmd, insured.refusal_to_insured_decided(cmd.assessment, refusal))
            return SettlementDecision(messages=[Message(REFUND_DECIDED, refused)])
        self.person.add(decision.delta)
        answer = _refund_answer(cmd, insured.to_insured_decided(cmd.assessment, decision))
        person = self.person
        person.applied[cmd.settlement_id] = original.model_copy(update={"increments": dict(decision.delta.increments)})
        person.applied[cmd.reversal_id] = Applied(
            decided=answer.model_dump(mode="json"),
            year=original.year,
            increments=dict(decision.delta.increments),
            replaced=dict(original.increments),
        )
        person.reversals.append(cmd.reversal_id)
        return SettlementDecision(person, [Message(REFUND_DECIDED, answer)])

    # ------------------------------------------------------------ the agency's records of the person
    def chronic_qualification(self, cmd: ChronicQualificationRecorded) -> Decided:
        """门诊慢特病资格认定 recorded at the insured place (F-05, S-13)."""
        codes = set(self.person.chronic_qualifications)
        codes = codes | {cmd.disease_code} if cmd.qualified else codes - {cmd.disease_code}
        self.person.chronic_qualifications = sorted(codes)
        return self._stored()

    def person_recorded(self, cmd: InsuredPersonRecorded) -> Decided:
        """The person's groups and personal-account balance (S-06). A record older than the one held
        is stale and ignored; the balance is then debited by settlements in their own writes."""
        person = self.person
        if person.person_recorded_at is not None and cmd.recorded_at < person.person_recorded_at:
            return SettlementDecision()
        person.groups = sorted(g.value for g in cmd.groups)
        person.personal_account_balance = cmd.personal_account_balance
        person.person_recorded_at = cmd.recorded_at
        return self._stored()


def _refund_answer(cmd: RefundAssessed, decided: InsuredDecided) -> RefundDecided:
    return RefundDecided(
        reversal_id=cmd.reversal_id, settlement_id=cmd.settlement_id, person_id=cmd.person_id, decision=decided
    )
