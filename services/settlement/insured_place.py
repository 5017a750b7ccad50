"""The insured place's side of real-time settlement 参保地 (S-05..S-09, S-13, S-14): deductible,
ratios, caps and funds on the person's year-to-date accumulations and personal-account balance, in
one atomic write per decision; rollbacks of late decisions (S-01), of cancels and refunds, and the
re-decision of a partial refund's remaining lines (S-15); the agency's records of the person (S-06,
S-13)."""
from __future__ import annotations

from contracts.envelope import Envelope
from contracts.settlement import (ChronicQualificationRecorded, InsuredDecided, InsuredPersonRecorded,
                                  InsuredRollback, RefundAssessed, RefundDecided, RefusalCode, SettlementReversed,
                                  TreatingAssessed)
from runtime.outcome import Emit, Outcome
from services.settlement.domain import insured
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.refusal import Refused
from services.settlement.ports import SettlementContext
from services.settlement.state import Applied, InsuredPerson

DECIDED = "settlement.insured-decided.v1"
REFUND_DECIDED = "settlement.refund-decided.v1"


class InsuredPlace:
    def __init__(self, ctx: SettlementContext) -> None:
        self.ctx = ctx

    async def assessed(self, env: Envelope[TreatingAssessed]) -> str:
        assessment = env.payload
        now = self.ctx.now()

        def decide(person: InsuredPerson) -> Outcome:
            known = person.applied.get(assessment.settlement_id)
            if known is not None:   # answered before: the same answer, nothing consumed twice
                return Outcome(emits=[Emit(DECIDED, InsuredDecided.model_validate(known.decided), name="repeat")])
            if assessment.answer_by is not None and now > assessment.answer_by:
                decided = insured.refusal_to_insured_decided(assessment, Refused(
                    RefusalCode.INSURED_TIMEOUT_NOT_SETTLED, "reached the insured place after the answer deadline"))
                return self._store(person, assessment, decided, None)
            try:
                decision = self._decide(person, assessment)
            except Refused as refusal:
                return self._store(person, assessment, insured.refusal_to_insured_decided(assessment, refusal), None)
            person.add(decision.delta)
            return self._store(person, assessment, insured.to_insured_decided(assessment, decision), decision.delta)
        return await self.ctx.insured(env, assessment.person_id, decide)

    def _decide(self, person: InsuredPerson, assessment: TreatingAssessed) -> insured.Decision:
        """S-05, S-06: the region's policy on the person's accumulations, groups and account balance."""
        policy = self.ctx.policies.select(assessment.insured_region, assessment.service_date)
        year = insured.settlement_year(assessment)
        return insured.decide(assessment, policy, person.accumulations(year), person.profile())

    @staticmethod
    def _store(person: InsuredPerson, assessment: TreatingAssessed, decided: InsuredDecided,
               delta: AccumulationDelta | None) -> Outcome:
        person.applied[assessment.settlement_id] = Applied(
            decided=decided.model_dump(mode="json"), year=decided.settlement_year,
            increments=dict(delta.increments) if delta else {})
        return Outcome(state=person.model_dump(mode="json"), emits=[Emit(DECIDED, decided)])

    async def rollback(self, env: Envelope[InsuredRollback]) -> str:
        """S-01: a decision the HIS never received is undone, exactly once: a settlement gives back
        what it consumed; a partial refund's re-decision is replaced by the original again."""
        cmd = env.payload

        def decide(person: InsuredPerson) -> Outcome:
            key = cmd.reversal_id or cmd.settlement_id
            applied = person.applied.get(key)
            if applied is None or applied.rolled_back:
                return Outcome()
            person.add(AccumulationDelta(applied.year, applied.increments).negated())
            if cmd.reversal_id and applied.replaced is not None:
                person.add(AccumulationDelta(applied.year, applied.replaced))
                settlement = person.applied[cmd.settlement_id]
                person.applied[cmd.settlement_id] = settlement.model_copy(update={"increments": applied.replaced})
                person.reversals = [r for r in person.reversals if r != cmd.reversal_id]
            person.applied[key] = applied.model_copy(update={"rolled_back": True})
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, cmd.person_id, decide)

    async def reversed(self, env: Envelope[SettlementReversed]) -> str:
        """S-15: a cancel or refund gives back what the settlement had consumed of the counters. A
        partial refund was already netted in ``refund_assessed``: its reversal id is known and skipped."""
        done = env.payload.root

        def decide(person: InsuredPerson) -> Outcome:
            if done.reversal_id in person.reversals or not done.accumulation_delta:
                return Outcome()
            year = done.accumulation_delta[0].year
            person.add(AccumulationDelta.from_entries(year, done.accumulation_delta))
            person.reversals.append(done.reversal_id)
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, done.person_id, decide)

    # ------------------------------------------------------------ partial refund (S-15)
    async def refund_assessed(self, env: Envelope[RefundAssessed]) -> str:
        """部分退费 (S-15, 000 第五十九条): roll back what the settlement consumed and decide the remaining
        lines on the rolled-back accumulations and balance, in one write; the settlement's current
        consumption becomes the replacement's, and the reversal id is recorded so that the later
        ``settlement.reversed.v1`` of this refund is not applied a second time."""
        cmd = env.payload
        now = self.ctx.now()

        def decide(person: InsuredPerson) -> Outcome:
            known = person.applied.get(cmd.reversal_id)
            if known is not None:
                return Outcome(emits=[Emit(REFUND_DECIDED, RefundDecided.model_validate(known.decided),
                                           name="repeat")])
            original = person.applied.get(cmd.settlement_id)
            try:
                if cmd.assessment.answer_by is not None and now > cmd.assessment.answer_by:
                    raise Refused(RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
                                  "reached the insured place after the answer deadline")
                decision = self._redecide(person, cmd, original)
            except Refused as refusal:     # nothing rolled back: the state is not stored
                return Outcome(emits=[Emit(REFUND_DECIDED, self._answer(
                    cmd, insured.refusal_to_insured_decided(cmd.assessment, refusal)))])
            return self._store_refund(person, cmd, original, decision)
        return await self.ctx.insured(env, cmd.person_id, decide)

    def _redecide(self, person: InsuredPerson, cmd: RefundAssessed, original: Applied | None) -> insured.Decision:
        if original is None or original.rolled_back or not original.decided.get("decided"):
            raise Refused(RefusalCode.SETTLEMENT_NOT_FOUND, f"the insured place holds no standing decision for "
                                                            f"settlement {cmd.settlement_id}")
        person.add(AccumulationDelta(original.year, original.increments).negated())
        decision = self._decide(person, cmd.assessment)
        person.add(decision.delta)
        return decision

    def _store_refund(self, person: InsuredPerson, cmd: RefundAssessed, original: Applied,
                      decision: insured.Decision) -> Outcome:
        answer = self._answer(cmd, insured.to_insured_decided(cmd.assessment, decision))
        person.applied[cmd.settlement_id] = original.model_copy(update={"increments": dict(decision.delta.increments)})
        person.applied[cmd.reversal_id] = Applied(decided=answer.model_dump(mode="json"), year=original.year,
                                                  increments=dict(decision.delta.increments),
                                                  replaced=dict(original.increments))
        person.reversals.append(cmd.reversal_id)
        return Outcome(state=person.model_dump(mode="json"), emits=[Emit(REFUND_DECIDED, answer)])

    @staticmethod
    def _answer(cmd: RefundAssessed, decided: InsuredDecided) -> RefundDecided:
        return RefundDecided(reversal_id=cmd.reversal_id, settlement_id=cmd.settlement_id, person_id=cmd.person_id,
                             decision=decided)

    # ------------------------------------------------------------ the agency's records of the person
    async def chronic_qualification(self, env: Envelope[ChronicQualificationRecorded]) -> str:
        """门诊慢特病资格认定 recorded at the insured place (F-05, S-13)."""
        cmd = env.payload

        def decide(person: InsuredPerson) -> Outcome:
            codes = set(person.chronic_qualifications)
            codes = codes | {cmd.disease_code} if cmd.qualified else codes - {cmd.disease_code}
            person.chronic_qualifications = sorted(codes)
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, cmd.person_id, decide)

    async def person_recorded(self, env: Envelope[InsuredPersonRecorded]) -> str:
        """The person's groups and personal-account balance (S-06). A record older than the one held
        is stale and ignored; the balance is then debited by settlements in their own writes."""
        cmd = env.payload

        def decide(person: InsuredPerson) -> Outcome:
            if person.person_recorded_at is not None and cmd.recorded_at < person.person_recorded_at:
                return Outcome()
            person.groups = sorted(g.value for g in cmd.groups)
            person.personal_account_balance = cmd.personal_account_balance
            person.person_recorded_at = cmd.recorded_at
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, cmd.person_id, decide)
