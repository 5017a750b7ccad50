"""Manual claims 手工报销 (S-17): when direct settlement failed, the hospital uploads the fee
details; they are stored for the insured place, with the upload deadline checked on working days."""
from __future__ import annotations

from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.settlement import ManualClaimUploaded
from runtime.calendar import default_calendar
from runtime.outcome import Outcome
from services.settlement.ports import MANUAL_CLAIMS, SettlementContext

UPLOAD_WORKING_DAYS = 10    # S-17: within 10 working days of the failed settlement
DECISION_WORKING_DAYS = 20  # S-17: decided within 20 working days of complete materials


class ManualClaim(BaseModel):
    claim: ManualClaimUploaded
    upload_due: str
    uploaded_late: bool
    decide_by: str
    calendar: str


class ManualClaims:
    def __init__(self, ctx: SettlementContext) -> None:
        self.ctx, self.calendar = ctx, default_calendar()

    async def uploaded(self, env: Envelope[ManualClaimUploaded]) -> str:
        claim = env.payload
        due = self.calendar.add_working_days(claim.end_date, UPLOAD_WORKING_DAYS)
        record = ManualClaim(claim=claim, upload_due=due.isoformat(), uploaded_late=claim.uploaded_on > due,
                             decide_by=self.calendar.add_working_days(claim.uploaded_on, DECISION_WORKING_DAYS).isoformat(),
                             calendar=self.calendar.source)
        key = f"{claim.institution_code}:{claim.request_id}"
        outcome = await self.ctx.service.store.apply(
            MANUAL_CLAIMS, key, env, lambda raw: Outcome() if raw else Outcome(state=record.model_dump(mode="json")))
        return outcome.result
