"""Independent sums after a run (not a test): the fund amounts the hospitals were told, against what
clearing and prepayment hold. Each service's database is read directly, as an auditor would, never
through the service: a difference means money was lost or counted twice somewhere on the way.

- answers: Σ fund_total of every completed settlement the HIS was answered, plus every cancel's and
  refund's compensation (negative: the fund part it takes back, S-15);
- clearing: Σ over every city-pair ledger of its settled lines (C-04; refunds are negative there);
- prepayment: Σ over every insured region's account of what is used of it (P-04: uncleared plus
  cleared-unpaid fund payable), cross- and intra-province alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pymongo import AsyncMongoClient

from runtime.store import open_document

ZERO = Decimal("0")


@dataclass
class AnsweredFunds:
    """What the HIS adapters were told, by whether the insured and treating places share a province."""

    cross_province: Decimal = ZERO
    intra_province: Decimal = ZERO
    counted: set[str] = field(default_factory=set)

    def add(self, result: dict) -> None:
        """An answer, opened: a completed slip adds its fund total, a cancel or refund its compensation
        (signed: new − original, S-15); each counted once however often it was answered."""
        if result["outcome"] == "completed":
            key, amount = f"S:{result['settlement_id']}", result["slip"]["fund_total"]
        elif result["outcome"] in ("cancelled", "refunded"):
            key, amount = f"R:{result['reversal_id']}", result["compensation"]["fund_total"]
        else:
            return
        if key in self.counted:
            return
        self.counted.add(key)
        if result["cross_province"]:
            self.cross_province += Decimal(str(amount))
        else:
            self.intra_province += Decimal(str(amount))

    @property
    def total(self) -> Decimal:
        return self.cross_province + self.intra_province


async def _states(client: AsyncMongoClient[dict], database: str, collection: str) -> list[dict]:
    return [open_document(doc)["state"] async for doc in client[database][collection].find({})]


async def held(mongodb_uri: str, clearing_db: str, prepayment_db: str) -> dict[str, Decimal]:
    """Σ settled over the clearing ledgers (cross- and intra-province) and Σ used over the prepayment accounts."""
    client: AsyncMongoClient[dict] = AsyncMongoClient(mongodb_uri)
    try:
        cross = intra = ZERO
        for ledger in await _states(client, clearing_db, "ledgers"):
            amount = sum((Decimal(str(v)) for v in ledger.get("settled", {}).values()), ZERO)
            if ledger["insured_region"][:2] == ledger["treating_region"][:2]:
                intra += amount
            else:
                cross += amount
        used = ZERO
        for account in await _states(client, prepayment_db, "accounts"):
            used += Decimal(str(account.get("uncleared", "0"))) + Decimal(str(account.get("cleared_unpaid", "0")))
        return {"clearing_cross_province": cross, "clearing_intra_province": intra, "prepayment_used": used}
    finally:
        await client.close()


def compare(answered: AnsweredFunds, sums: dict[str, Decimal]) -> dict:
    """The figures side by side and whether every one agrees to the fen."""
    match = (
        answered.cross_province == sums["clearing_cross_province"]
        and answered.intra_province == sums["clearing_intra_province"]
        and answered.total == sums["prepayment_used"]
    )
    return {
        "answered_cross_province": str(answered.cross_province),
        "answered_intra_province": str(answered.intra_province),
        **{k: str(v) for k, v in sums.items()},
        "totals_match": match,
    }
