"""Real-time settlement 直接结算: which topic is handled by which function (``registry``)."""
from __future__ import annotations

from contracts.envelope import Envelope
from contracts.filing import FilingChanged
from contracts.filing_view import PersonFilingView
from runtime.outcome import Outcome
from services.settlement.insured_place import InsuredPlace
from services.settlement.manual_claims import ManualClaims
from services.settlement.flow import REFUND_TIMEOUT
from services.settlement.ports import FILING_VIEW, SettlementContext
from services.settlement.query import SettlementQueries
from services.settlement.reversals import Reversals
from services.settlement.treating_place import TreatingPlace


class FilingViewProjection:
    """This service's own read model of filings (F-15), so eligibility needs no call to the
    filing service on the hot path."""

    def __init__(self, ctx: SettlementContext) -> None:
        self.ctx = ctx

    async def apply(self, env: Envelope[FilingChanged]) -> str:
        event = env.payload

        def run(raw: dict | None) -> Outcome:
            view = PersonFilingView.model_validate(raw) if raw else PersonFilingView(person_id=event.person_id)
            return Outcome(state=view.model_dump(mode="json")) if view.apply(event) else Outcome()
        outcome = await self.ctx.service.store.apply(FILING_VIEW, event.person_id, env, run)
        return outcome.result


def registry(ctx: SettlementContext) -> dict:
    treating, insured, reversals = TreatingPlace(ctx), InsuredPlace(ctx), Reversals(ctx)
    if hasattr(ctx.service, "add_query"):   # the signed reads: slip and accumulations (query.py)
        SettlementQueries(ctx.service)

    async def deadline_due(env) -> str:   # the two answer deadlines of S-01: a settlement's, a refund's
        handler = reversals.refund_timed_out if env.payload.kind == REFUND_TIMEOUT else treating.deadline_due
        return await handler(env)

    return {
        # HIS → treating place
        "his.admission.v1": treating.admission,
        "his.settlement-requested.v1": treating.settlement_requested,
        "his.outpatient-requested.v1": treating.settlement_requested,
        "his.cancel-requested.v1": reversals.cancel_requested,
        "his.refund-requested.v1": reversals.refund_requested,
        "his.manual-claim.v1": ManualClaims(ctx).uploaded,
        # treating place ⇄ insured place (S-01)
        "settlement.treating-assessed.v1": insured.assessed,
        "settlement.insured-decided.v1": treating.insured_decided,
        "settlement.insured-rollback.v1": insured.rollback,
        "settlement.refund-assessed.v1": insured.refund_assessed,      # partial refund (S-15)
        "settlement.refund-decided.v1": reversals.refund_decided,
        "settlement.reversed.v1": insured.reversed,
        "settlement.deadline-due.v1": deadline_due,
        "settlement.chronic-qualification.v1": insured.chronic_qualification,
        "settlement.insured-person.v1": insured.person_recorded,       # groups, account balance (S-06)
        # read models
        "filing.changed.v1": FilingViewProjection(ctx).apply,
        "prepayment.sanction.v1": ctx.sanctions.apply,
    }
