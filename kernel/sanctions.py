"""Sanctions on an insured region (P-09), as the services that enforce them see them: new filings
refused (F-16, filing service) and new admissions refused (S-20, settlement service).
Shared kernel 共享内核: pure, no I/O, imported by both.

The prepayment service publishes ``prepayment.sanction.v1``; each consumer maps each message to a
:class:`SanctionNotice` and folds it into :class:`RegionSanctions` (pure, idempotent,
tolerant of order: a lift may arrive before its imposition).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.filing import UtcDatetime
from contracts.prepayment import SanctionKind


class SanctionNotice(BaseModel):
    """One imposition or lifting, as received from prepayment."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sanction_id: str = Field(min_length=1, description="Id of the sanction (shared by impose and lift)")
    insured_region: str
    kind: SanctionKind
    action: Literal["imposed", "lifted"]
    effective_at: UtcDatetime


class SanctionPeriod(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sanction_id: str
    insured_region: str
    kind: SanctionKind
    imposed_at: UtcDatetime | None = None
    lifted_at: UtcDatetime | None = None

    def active_at(self, moment: datetime) -> bool:
        return (
            self.imposed_at is not None
            and self.imposed_at <= moment
            and (self.lifted_at is None or moment < self.lifted_at)
        )


class RegionSanctions(BaseModel):
    """Every sanction period known to the service that enforces them (filing, settlement); JSON-able."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    periods: tuple[SanctionPeriod, ...] = ()

    def apply(self, notice: SanctionNotice) -> RegionSanctions:
        """Fold a notice; re-delivery changes nothing."""
        key = (notice.sanction_id, notice.kind)
        old = next((p for p in self.periods if (p.sanction_id, p.kind) == key), None)
        period = old or SanctionPeriod(
            sanction_id=notice.sanction_id, insured_region=notice.insured_region, kind=notice.kind
        )
        field = "imposed_at" if notice.action == "imposed" else "lifted_at"
        period = period.model_copy(update={field: notice.effective_at})
        rest = tuple(p for p in self.periods if (p.sanction_id, p.kind) != key)
        return RegionSanctions(periods=(*rest, period))

    def active(self, insured_region: str, kind: SanctionKind, moment: datetime) -> SanctionPeriod | None:
        return next(
            (
                p
                for p in self.periods
                if p.insured_region == str(insured_region) and p.kind == kind and p.active_at(moment)
            ),
            None,
        )

    def new_filing_suspended(self, insured_region: str, moment: datetime) -> SanctionPeriod | None:
        """F-16: the region's new filings are suspended at ``moment``."""
        return self.active(insured_region, SanctionKind.NEW_FILING_SUSPENSION, moment)

    def admission_suspended(self, insured_region: str, moment: datetime) -> SanctionPeriod | None:
        """S-20: new admissions of the region's insureds are suspended at ``moment``."""
        return self.active(insured_region, SanctionKind.ADMISSION_SUSPENSION, moment)
