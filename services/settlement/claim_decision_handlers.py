"""The insured agency decides and pays a person's manual claim 手工报销 (S-17): ``domain/claim_decision.py``.

A decision reads what a direct settlement reads — the person's filings (this service's read model, F-11:
a retroactive filing counts), the registry's level of the institution (S-05), the insured place's catalogue
(its payment scope) — has the treating-place rules split and check the bill, then the person's
insured-place record decide the money and consume the year's accumulations in one write
(``InsuredPlace.manual_claim``), and finally records the answer on the claim, told to the person and the
agency. Each of the two writes is once per command, so a retried command ends where the first stopped.

Nothing of a manual claim leaves on the topics clearing reads (``settlement.completed.v1``,
``settlement.reversed.v1``): it is paid at home, never cleared between regions.
"""

from __future__ import annotations

from datetime import date

from contracts.envelope import Envelope
from contracts.manual_claims import DecideManualClaim, RecordClaimPayment
from contracts.parties import Institution
from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import RefusalCode
from contracts.values import SHANGHAI, HospitalLevel
from runtime.parties import ParticipantRegistry
from services.settlement.adapters import PersonAggregates
from services.settlement.claim_handlers import Change, PersonClaimHandlers
from services.settlement.domain import claim_decision, treating
from services.settlement.domain.catalogue import CatalogueBook
from services.settlement.domain.insured_place import InsuredPlace, InsuredRecord
from services.settlement.domain.person_claims import Claim, ClaimRefused, PersonClaims
from services.settlement.domain.policy import PolicyBook
from services.settlement.domain.refusal import Refused
from services.settlement.domain.treating_place import entitlement
from services.settlement.filing_view import FilingViews


class ClaimDecisionHandlers:
    """经办/复核 decisions and payments of manual claims at the insured place."""

    def __init__(
        self,
        claims: PersonClaimHandlers,
        people: PersonAggregates[InsuredRecord],
        filings: FilingViews,
        policies: PolicyBook,
        catalogues: CatalogueBook,
        parties: ParticipantRegistry,
    ) -> None:
        self.claims, self.people, self.filings = claims, people, filings
        self.policies, self.catalogues, self.parties = policies, catalogues, parties

    async def decide(self, env: Envelope[DecideManualClaim]) -> str:
        cmd, now = env.payload, self.claims.now()
        today = now.astimezone(SHANGHAI).date()
        materials = self.claims.materials.for_region(str(cmd.insured_region))
        state = await self.claims.load(str(cmd.person_id))
        if cmd.request_id in state.handled:  # answered before: the claim's store says so again
            return await self.claims.record(env, lambda s: (s, str(cmd.claim_id)), now)
        try:
            key, claim = claim_decision.decidable(state, cmd, materials)
            assessment = await self._assess(key, claim, cmd)
        except ClaimRefused as refused:
            return await self.claims.record(env, _raise(refused), now)
        except Refused as refused:
            return await self.claims.record(env, _rejection(cmd, refused, today), now)
        answer = await self._money(env, assessment)

        def record(s: PersonClaims) -> tuple[PersonClaims, str]:
            claim_decision.decidable(s, cmd, materials)  # still decidable when written
            return claim_decision.decided(s, key, cmd, assessment, answer, today), key

        return await self.claims.record(env, record, now)

    async def pay(self, env: Envelope[RecordClaimPayment]) -> str:
        cmd, now = env.payload, self.claims.now()
        today = now.astimezone(SHANGHAI).date()
        return await self.claims.record(env, lambda s: claim_decision.paid(s, cmd, today), now)

    async def _assess(self, key: str, claim: Claim, cmd: DecideManualClaim) -> TreatingAssessed:
        """The bill split and checked as the treating place would, with the insured place's catalogue."""
        level = self._level(claim, cmd)
        catalogue = self.catalogues.for_region(str(cmd.insured_region))
        if catalogue is None:
            raise ClaimRefused("catalogue_unavailable", f"no catalogue loaded for {cmd.insured_region} (S-17)")
        request = claim_decision.bill(key, claim, cmd, level)
        filings = await self.filings.load(str(cmd.person_id))
        return treating.assess(
            request, entitlement(filings, request, claim.submitted.start_date), catalogue, hospital_level=level
        )

    def _level(self, claim: Claim, cmd: DecideManualClaim) -> HospitalLevel:
        """The registry's level of a listed institution (S-05), else the one the materials show."""
        party = self.parties.get(str(claim.submitted.institution_code))
        if isinstance(party, Institution):
            return party.hospital_level
        if cmd.hospital_level is None:
            raise ClaimRefused(
                "hospital_level_unknown",
                f"{claim.submitted.institution_code} is not in the registry: give its level from the materials",
            )
        return cmd.hospital_level

    async def _money(self, env: Envelope[DecideManualClaim], assessment: TreatingAssessed) -> InsuredDecided:
        """S-05..S-09 on the person's accumulations, consumed in the same write; the answer read back."""
        sid = assessment.settlement_id
        policies = self.policies
        await self.people.apply(
            env, str(assessment.person_id), lambda r: InsuredPlace(r, policies).manual_claim(assessment), (sid,)
        )
        record = await self.people.peek(str(assessment.person_id), [sid])
        return InsuredDecided.model_validate(record.applied[sid].decided)


def _rejection(cmd: DecideManualClaim, refused: Refused, today: date) -> Change:
    """A bill keyed in wrong refuses the command; a rule refusing the claim itself decides it not reimbursed."""
    if refused.code in claim_decision.BILL_ERRORS or not isinstance(refused.code, RefusalCode):
        return _raise(ClaimRefused(str(refused.code), refused.message))
    key = str(cmd.claim_id)
    return lambda s: (claim_decision.rejected(s, key, cmd, refused, today), key)


def _raise(refused: ClaimRefused) -> Change:
    """A change that refuses: the refusal answered through the claim's store (a retry answered the same)."""

    def change(_: PersonClaims) -> tuple[PersonClaims, str]:
        raise refused

    return change
