"""The insured place's side of real-time settlement 参保地 (S-05..S-09, S-13, S-14): deductible,
ratios, caps and funds on the person's year-to-date accumulations, in one atomic write per
decision; rollbacks of late decisions (S-01) and of cancels and refunds (S-15)."""
from __future__ import annotations

from contracts.envelope import Envelope
from contracts.settlement import (ChronicQualificationRecorded, InsuredDecided, InsuredRollback, RefusalCode,
                                  SettlementReversed, TreatingAssessed)
from runtime.outcome import Emit, Outcome
from services.settlement.domain import insured
from services.settlement.domain.accumulations import AccumulationDelta
from services.settlement.domain.refusal import Refused
from services.settlement.ports import SettlementContext
from services.settlement.state import Applied, InsuredPerson

DECIDED = "settlement.insured-decided.v1"


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
                policy = self.ctx.policies.select(assessment.insured_region, assessment.service_date)
                year = insured.settlement_year(assessment)
                decision = insured.decide(assessment, policy, person.accumulations(year), insured.InsuredPerson(
                    chronic_qualifications=frozenset(person.chronic_qualifications)))
            except Refused as refusal:
                return self._store(person, assessment, insured.refusal_to_insured_decided(assessment, refusal), None)
            person.add(decision.delta)
            return self._store(person, assessment, insured.to_insured_decided(assessment, decision), decision.delta)
        return await self.ctx.insured(env, assessment.person_id, decide)

    @staticmethod
    def _store(person: InsuredPerson, assessment: TreatingAssessed, decided: InsuredDecided,
               delta: AccumulationDelta | None) -> Outcome:
        person.applied[assessment.settlement_id] = Applied(
            decided=decided.model_dump(mode="json"), year=decided.settlement_year,
            increments=dict(delta.increments) if delta else {})
        return Outcome(state=person.model_dump(mode="json"), emits=[Emit(DECIDED, decided)])

    async def rollback(self, env: Envelope[InsuredRollback]) -> str:
        """S-01: a decision the HIS never received is undone, exactly once."""
        cmd = env.payload

        def decide(person: InsuredPerson) -> Outcome:
            applied = person.applied.get(cmd.settlement_id)
            if applied is None or applied.rolled_back:
                return Outcome()
            person.add(AccumulationDelta(applied.year, applied.increments).negated())
            person.applied[cmd.settlement_id] = applied.model_copy(update={"rolled_back": True})
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, cmd.person_id, decide)

    async def reversed(self, env: Envelope[SettlementReversed]) -> str:
        """S-15: a cancel or refund gives back what the settlement had consumed of the counters."""
        done = env.payload.root

        def decide(person: InsuredPerson) -> Outcome:
            if done.reversal_id in person.reversals or not done.accumulation_delta:
                return Outcome()
            year = done.accumulation_delta[0].year
            person.add(AccumulationDelta.from_entries(year, done.accumulation_delta))
            person.reversals.append(done.reversal_id)
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, done.person_id, decide)

    async def chronic_qualification(self, env: Envelope[ChronicQualificationRecorded]) -> str:
        """门诊慢特病资格认定 recorded at the insured place (F-05, S-13)."""
        cmd = env.payload

        def decide(person: InsuredPerson) -> Outcome:
            codes = set(person.chronic_qualifications)
            codes = codes | {cmd.disease_code} if cmd.qualified else codes - {cmd.disease_code}
            person.chronic_qualifications = sorted(codes)
            return Outcome(state=person.model_dump(mode="json"))
        return await self.ctx.insured(env, cmd.person_id, decide)
