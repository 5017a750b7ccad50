"""An institution's money on the clearing service's HTTP port (R-01..R-04, C-07), for the hospital itself
and the agencies above it; and the appeals of a region's institutions, for their agency's console.

* ``GET /clearing/institution/settlements?institution=H42010200001&month=2026-08&at=…`` (R-01/R-02): the
  institution's settlements of the month, by day (count, total, funds, personal cash) with each day's
  reconciliation: matched, mismatched, resolved, overdue or not reconciled
  (``contracts.clearing.InstitutionSettlementsAnswer``).
* ``GET /clearing/institution/owed?institution=H42010200001&month=2026-09&at=…`` (C-07, R-04): what the
  treating place owes it for the clearing month: its settlements' fund amounts, refunds, every deduction
  line (settlement, amount, reason, rule, appeal) and the net, with the C-07 payment's state
  (``InstitutionOwedAnswer``).
* ``GET /clearing/appeals?region=420100&status=open|all&at=…`` (R-04): the appeals of a treating region's
  institutions (``AppealsAnswer``), for an agency that speaks for the region.

Who sees what. An institution asks about itself only: the answer is sealed to it — the body is the compact
JWE of the JSON (``runtime.query.sealed_answer``, content type ``application/jose``), which it opens with its
encryption key — and asking about any other institution is answered 404, as for one that does not exist,
so it learns nothing. An agency that speaks for the institution's region (its own, its province, the
national level: ``ParticipantRegistry.speaks_for``) gets the JSON in clear; another agency 403; an unknown
institution 404. Any other party: 403. Requests are signed as every signed query is (``runtime.query``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from contracts.clearing import AppealsAnswer, AppealStatus
from contracts.parties import Agency, Institution
from runtime.parties import ParticipantRegistry
from runtime.query import FORMATS, QueryRefused, SignedQuery, sealed_answer
from services.clearing.adapters import PeriodReads
from services.clearing.domain import institution as views

SETTLEMENTS_PATH = "/clearing/institution/settlements"
OWED_PATH = "/clearing/institution/owed"
APPEALS_PATH = "/clearing/appeals"
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
SEALED_NOTE = (
    "; to the institution itself the answer is sealed: a compact JWE (application/jose) of the JSON, "
    "to its encryption key"
)
INSTITUTION_PARAMS = {
    "institution": "the institution's code (an institution may ask only about itself; another's is 404)",
    "month": "YYYY-MM",
    "at": "Unix seconds of the request (within the clock-skew limit)",
}
APPEALS_PARAMS = {
    "region": "the treating region (6 digits) whose institutions' appeals are asked for",
    "status": "open (default: lodged, not answered) or all",
    "at": "Unix seconds of the request (within the clock-skew limit)",
}


class InstitutionQueries:
    """The signed reads of an institution's money (R-01..R-04, C-07) and of its region's appeals (R-04)."""

    def __init__(self, reads: PeriodReads, *, now: Callable[[], datetime], parties: ParticipantRegistry) -> None:
        self.reads, self.now, self.parties = reads, now, parties

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(
            SETTLEMENTS_PATH,
            self.settlements,
            summary=(
                "R-01/R-02: an institution's settlements of a month, by day, with each day's reconciliation"
                + SEALED_NOTE
            ),
            params={**INSTITUTION_PARAMS, "month": "the month the settlements were made in, YYYY-MM"},
            required=("institution", "month", "at"),
            formats=("json", "jose"),
        )
        add_query(
            OWED_PATH,
            self.owed,
            summary=(
                "C-07/R-04: what the treating place owes an institution for a clearing month: settlements' fund "
                "amounts, refunds, each deduction (with its appeal), the net and the payment" + SEALED_NOTE
            ),
            params={**INSTITUTION_PARAMS, "month": "the clearing month, YYYY-MM"},
            required=("institution", "month", "at"),
            formats=("json", "jose"),
        )
        add_query(
            APPEALS_PATH,
            self.appeals,
            summary="R-04: the appeals of a treating region's institutions",
            params=APPEALS_PARAMS,
            required=("region", "at"),
        )

    def _asked(self, q: SignedQuery) -> tuple[Institution, str, bool]:
        """The institution asked about, the month, and whether the answer is sealed to it (asked by itself)."""
        code, month = q.params.get("institution", ""), q.params.get("month", "")
        if not re.fullmatch(r"[HP]\d{11}", code) or not MONTH.fullmatch(month):
            raise QueryRefused(400, "institution (its code) and month (YYYY-MM) are required")
        if isinstance(q.party, Agency):
            found = self.parties.get(code)
            if not isinstance(found, Institution):
                raise QueryRefused(404, f"no institution {code} in the registry")
            if not self.parties.speaks_for(q.party.code, found.region):
                raise QueryRefused(
                    403,
                    f"UNAUTHORIZED: {q.party.code} does not speak for region {found.region} "
                    f"(its agency, province or the national level may ask)",
                )
            return found, month, False
        me = q.institution()
        if me.code != code:  # another's month: answered as if there were none
            raise QueryRefused(404, f"nothing to show for institution {code} in {month}")
        return me, month, True

    def _answer(self, who: Institution, sealed: bool, body: bytes, name: str) -> tuple[bytes, str, str]:
        if not sealed:
            return body, FORMATS["json"], f"{name}.json"
        data, content_type = sealed_answer(self.parties, who.code, body)
        return data, content_type, f"{name}.jwe"

    async def settlements(self, q: SignedQuery) -> tuple[bytes, str, str]:
        """R-01/R-02: the institution's days of the month."""
        who, month, sealed = self._asked(q)
        answer = views.settlements_by_day(
            who.code,
            month,
            await self.reads.settled_in_month(who.code, month),
            await self.reads.days_of_institution(who.code, month),
            self.now(),
        )
        return self._answer(
            who, sealed, answer.model_dump_json().encode(), f"institution-settlements-{who.code}-{month}"
        )

    async def owed(self, q: SignedQuery) -> tuple[bytes, str, str]:
        """C-07/R-04: what the treating place owes the institution for the clearing month."""
        who, month, sealed = self._asked(q)
        lines = await self.reads.institution_lines(who.code, month)
        appeals = await self.reads.appeals_of(institution=who.code)
        notice = (await self.reads.notices_of(who.region)).get(month)
        answer = views.owed(who.code, who.region, month, lines, appeals, notice, self.now())
        return self._answer(who, sealed, answer.model_dump_json().encode(), f"institution-owed-{who.code}-{month}")

    async def appeals(self, q: SignedQuery) -> tuple[bytes, str, str]:
        """R-04: the region's appeals, oldest first, for an agency that speaks for it."""
        region, status = q.params.get("region", ""), q.params.get("status", "open")
        if not re.fullmatch(r"\d{6}", region) or status not in ("open", "all"):
            raise QueryRefused(400, "region (6 digits) is required; status is open or all")
        agency = q.agency()
        if not self.parties.speaks_for(agency.code, region):
            raise QueryRefused(403, f"UNAUTHORIZED: {agency.code} does not speak for region {region}")
        found = sorted(await self.reads.appeals_of(region=region), key=lambda a: (a.lodged_at, a.appeal_id))
        views_ = [
            a.view(a.answered_at or a.lodged_at) for a in found if status == "all" or a.status is AppealStatus.LODGED
        ]
        answer = AppealsAnswer(region=region, status=status, as_of=self.now(), appeals=views_)
        return answer.model_dump_json().encode(), FORMATS["json"], f"clearing-appeals-{region}.json"


__all__ = ["APPEALS_PATH", "InstitutionQueries", "OWED_PATH", "SETTLEMENTS_PATH"]
