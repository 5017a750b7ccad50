"""A person's manual claims 手工报销 (S-17): submission, later materials and the agency's verification letter,
each one decision on the person's ``person_claims`` aggregate (``domain/person_claims.py``), told to the person
and the insured agency on ``settlement.manual-claim-changed.v1``; a command a rule refuses is answered on
``settlement.manual-claim-refused.v1``. Sealed at rest under the insured region's data key (003 §5 (三))."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.envelope import Envelope
from contracts.manual_claims import AddClaimDocuments, ManualClaimRefused, RequestVerification, SubmitManualClaim
from runtime.calendar import WorkingCalendar
from runtime.outcome import Emit, Outcome
from services.settlement.domain import person_claims
from services.settlement.domain.person_claims import ClaimRefused, MaterialBook, PersonClaims
from services.wiring import Now, Store

PERSON_CLAIMS = "person_claims"
CHANGED, REFUSED = "settlement.manual-claim-changed.v1", "settlement.manual-claim-refused.v1"
Step = Callable[..., tuple[PersonClaims, str]]
Change = Callable[[PersonClaims], tuple[PersonClaims, str]]


def _insured_region(state: dict) -> str | None:
    claims = list((state.get("claims") or {}).values())
    return str(claims[-1]["submitted"]["insured_region"]) if claims else None


class PersonClaimHandlers:
    """One person's manual claims: every command is one decision, the person told each step."""

    def __init__(self, store: Store, *, now: Now, calendar: WorkingCalendar, materials: MaterialBook) -> None:
        self.store, self.now, self.calendar, self.materials = store, now, calendar, materials
        store.protect(PERSON_CLAIMS, _insured_region)

    async def submit(self, env: Envelope[SubmitManualClaim]) -> str:
        return await self._apply(env, person_claims.submit)

    async def documents(self, env: Envelope[AddClaimDocuments]) -> str:
        return await self._apply(env, person_claims.add_documents)

    async def verify(self, env: Envelope[RequestVerification]) -> str:
        return await self._apply(env, person_claims.request_verification)

    async def _apply(self, env: Envelope[Any], step: Step) -> str:
        cmd, now = env.payload, self.now()
        materials = self.materials.for_region(str(cmd.insured_region))
        return await self.record(env, lambda state: step(state, cmd, materials, now, self.calendar), now)

    async def load(self, person_id: str) -> PersonClaims:
        raw = await self.store.load(PERSON_CLAIMS, person_id)
        return PersonClaims.model_validate(raw) if raw else PersonClaims(person_id=person_id)

    async def record(self, env: Envelope[Any], change: Change, now: datetime) -> str:
        """``change`` on the person's claims, once per request id; the step told, or the refusal answered."""
        cmd = env.payload
        materials = self.materials.for_region(str(cmd.insured_region))

        def run(raw: dict | None) -> Outcome:
            state = PersonClaims.model_validate(raw) if raw else PersonClaims(person_id=str(cmd.person_id))
            if cmd.request_id in state.handled:  # a retry: no second effect
                return Outcome(duplicate=True)
            try:
                new, key = change(state)
            except ClaimRefused as refused:
                answer = ManualClaimRefused(
                    request_id=cmd.request_id,
                    person_id=cmd.person_id,
                    reason=refused.reason,
                    message=refused.message,
                    refused_at=now,
                )
                return Outcome(emits=[Emit(REFUSED, answer)])
            told = person_claims.changed(key, new.claims[key], materials, now, self.calendar)
            return Outcome(state=new.model_dump(mode="json"), emits=[Emit(CHANGED, told)])

        return (await self.store.apply(PERSON_CLAIMS, str(cmd.person_id), env, run)).result
