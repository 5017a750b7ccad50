"""What a person sees of their own settlements through a channel 线上渠道查询 (000 第五十二条 附件13; S-05, S-14).

Signed by a channel (``contracts.parties.Channel``), carrying its authentication of the person sealed to the
settlement service (``runtime.query.seal_authentication``, checked as a command's is); every answer is sealed to
the asking channel (``application/jose``). The person is read from the authentication only, so no channel
and no person reads another's settlements.

* ``GET /settlement/mine?authentication=&year=&at=``: the person's settlements, newest first (the
  ``visits`` aggregate's and the archived ones; each row names the settlement for its slip), and the
  year-to-date accumulations at the insured place (S-05, S-14) with the personal account balance.
  With them, the person's manual claims and the step each is at (S-17: status, what is missing, the day the
  materials were complete and the day it is due).
* ``GET /settlement/mine/slip?authentication=&settlement=&at=``: one settlement's 附件13 slip, the fields
  the agencies' slip has (``query.slip_fields``). 404: no such settlement of this person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

from runtime.calendar import WorkingCalendar
from runtime.parties import ParticipantRegistry, Signer
from runtime.query import QueryRefused, SignedQuery, open_authenticated_person, sealed_answer
from runtime.sealing import region_of_kid
from runtime.store import SEALED_BY
from services.settlement.claim_handlers import PERSON_CLAIMS
from services.settlement.domain import person_claims
from services.settlement.domain.accumulations import counter_rows
from services.settlement.query import load_settlement, slip_of
from services.settlement.query_list import person_records, row
from services.wiring import Store

MINE_PATH = "/settlement/mine"
MINE_SLIP_PATH = "/settlement/mine/slip"
AUTHENTICATION = "the channel's authentication of the person, sealed to the settlement service"
SPECS = {
    MINE_PATH: dict(
        summary="参保人本人的结算记录与年度累计（经渠道查询，密封给渠道）(S-05, S-14)",
        params={"authentication": AUTHENTICATION, "year": "YYYY (default: the current business year)"},
        required=("authentication",),
    ),
    MINE_SLIP_PATH: dict(
        summary="参保人本人一笔结算的结算单（附件13，经渠道查询，密封给渠道）",
        params={"authentication": AUTHENTICATION, "settlement": "the settlement id"},
        required=("authentication", "settlement"),
    ),
}


class PersonSettlementQuery:
    """The person's own settlements, slips and accumulations, to the channel that authenticated them."""

    def __init__(
        self,
        store: Store,
        *,
        signer: Signer,
        parties: ParticipantRegistry,
        now: Callable[[], datetime],
        calendar: WorkingCalendar,
        materials: person_claims.MaterialBook,
    ) -> None:
        self.store, self.signer, self.parties, self.now = store, signer, parties, now
        self.calendar, self.materials = calendar, materials

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(MINE_PATH, self.mine, **SPECS[MINE_PATH])
        add_query(MINE_SLIP_PATH, self.slip, **SPECS[MINE_SLIP_PATH])

    def _sealed(self, q: SignedQuery, body: dict, name: str) -> tuple[bytes, str, str]:
        sealed, content_type = sealed_answer(self.parties, q.party.code, json.dumps(body, ensure_ascii=False).encode())
        return sealed, content_type, name

    async def mine(self, q: SignedQuery) -> tuple[bytes, str, str]:
        person = open_authenticated_person(self.signer, q, self.now())
        year = q.params.get("year") or str(self.now().year)
        if not re.fullmatch(r"\d{4}", year):
            raise QueryRefused(400, "year is YYYY")
        rows = [
            row(r["completed"], bool(r.get("reversed")), self.parties)
            for r in (await person_records(self.store, person)).values()
            if r.get("completed")
        ]
        rows.sort(key=lambda r: (r["settled_on"] or "", r["settlement_id"]), reverse=True)
        body = {
            "settlements": rows,
            "accumulations": await self._accumulations(person, year),
            "manual_claims": await self._claims(person),
        }
        return self._sealed(q, body, f"my-settlements-{year}.jose")

    async def _claims(self, person: str) -> list[dict]:
        """Each manual claim at the step it is at, as it was last told (S-17)."""
        raw = await self.store.load(PERSON_CLAIMS, person)
        if raw is None:
            return []
        now, state = self.now(), person_claims.PersonClaims.model_validate(raw)
        return [
            person_claims.changed(
                key, claim, self.materials.for_region(str(claim.submitted.insured_region)), now, self.calendar
            ).model_dump(mode="json", exclude={"occurred_at"})
            for key, claim in state.claims.items()
        ]

    async def _accumulations(self, person: str, year: str) -> dict | None:
        doc = await self.store.load_document("insured", person)
        region = region_of_kid(doc[SEALED_BY]) if doc and doc.get(SEALED_BY) else None
        if doc is None or region is None:
            return None
        state = doc["state"]
        counters = (state.get("counters") or {}).get(year) or (state.get("counters") or {}).get(int(year)) or {}
        return {
            "insured_region": region,
            "year": int(year),
            "counters": counter_rows(counters),
            "personal_account_balance": str(state.get("personal_account_balance", "0.00")),
        }

    async def slip(self, q: SignedQuery) -> tuple[bytes, str, str]:
        person = open_authenticated_person(self.signer, q, self.now())
        settlement = q.params.get("settlement", "")
        if not settlement:
            raise QueryRefused(400, "settlement (the settlement id) is required")
        record, visits = await load_settlement(self.store, person, settlement)
        if record is None or not record.get("completed"):
            raise QueryRefused(404, f"no settlement {settlement} of this person")
        body = await slip_of(self.store, self.parties, person, settlement, record, visits)
        return self._sealed(q, body, f"slip-{settlement}.jose")
