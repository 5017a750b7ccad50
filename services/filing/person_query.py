"""What a person sees of their own filings through a channel 线上渠道查询 (004 第六条: results with reasons the
person can look up; 000 第九条).

``GET /filing/mine?authentication=<sealed>&at=``: signed by a channel (``contracts.parties.Channel``), carrying
its authentication of the person sealed to the filing service (``runtime.query.seal_authentication``); the
answer is every filing of that person with each of its versions (its history: what was decided, when, under
which rule and why), sealed to the asking channel (``application/jose``, ``runtime.query.sealed_answer``).
Only the person the channel authenticated is ever answered: the person is read from the authentication, which
must be the channel's own and live (403 otherwise). 404: the person has no filing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from runtime.parties import ParticipantRegistry, Signer
from runtime.query import QueryRefused, SignedQuery, open_authenticated_person, sealed_answer
from services.filing.domain import PersonFilings
from services.filing.query import CATEGORY_ZH, STATUS_ZH
from services.wiring import Store

MINE_PATH = "/filing/mine"
SPEC = dict(
    summary="参保人本人的备案及每次变更（经渠道查询，密封给渠道）(000 第九条, 004 第六条, F-13, F-15)",
    params={"authentication": "the channel's authentication of the person, sealed to the filing service"},
    required=("authentication",),
)


def history(found: PersonFilings) -> list[dict]:
    """Every filing, newest first, each with its versions oldest first (M-03: nothing is overwritten)."""
    out = []
    for record in sorted(found.filings, key=lambda r: r.current.submitted_at, reverse=True):
        current = record.current
        out.append(
            {
                **current.model_dump(mode="json"),
                "category_zh": CATEGORY_ZH[current.category],
                "status_zh": STATUS_ZH.get(current.status.value, current.status.value),
                "history": [
                    {
                        "version": v.version,
                        "change_kind": v.change_kind.value,
                        "status": v.status.value,
                        "status_zh": STATUS_ZH.get(v.status.value, v.status.value),
                        "rule": v.rule,
                        "note": v.note,
                        "recorded_at": v.recorded_at.isoformat(),
                    }
                    for v in record.versions
                ],
            }
        )
    return out


class PersonFilingQuery:
    """The person's own filings, to the channel that authenticated them."""

    def __init__(
        self,
        store: Store,
        collection: str,
        *,
        signer: Signer,
        parties: ParticipantRegistry,
        now: Callable[[], datetime],
    ) -> None:
        self.store, self.collection, self.signer, self.parties, self.now = store, collection, signer, parties, now

    def register(self, add_query: Callable[..., None]) -> None:
        add_query(MINE_PATH, self.mine, **SPEC)

    async def mine(self, q: SignedQuery) -> tuple[bytes, str, str]:
        person = open_authenticated_person(self.signer, q, self.now())
        raw = await self.store.load(self.collection, person)
        if raw is None:
            raise QueryRefused(404, "no filing")
        body = json.dumps({"filings": history(PersonFilings.model_validate(raw))}, ensure_ascii=False).encode()
        sealed, content_type = sealed_answer(self.parties, q.party.code, body)
        return sealed, content_type, "my-filings.jose"
