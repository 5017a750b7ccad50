"""The performance deposit 履约保证金 (P-12; Hunan 002 第二十条), pure.

002 第二十条: 跨省异地就医门诊费用直接结算实行履约保证金制度。医保经办机构每年根据协议医疗机构履行医疗服务协议
情况，确定年度履约保证金返还额度. One aggregate per institution and agreement year: what it lodged (each
receipt once) and, once a year, how much of it goes back from how the agreement was kept; what is not
returned is retained. Only where the region's text in force sets a deposit (Hunan's, while 002 is in
force, 第三十八条): elsewhere a deposit is refused with the text that says so, never recorded on a guess.
Who may record it (the institution's agency, an institution opened for outpatient settlement there) is
the authority table's; what the amounts may be is here."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.prepayment import LodgeDeposit, PerformanceDepositRecorded, SettleDeposit
from contracts.values import InstitutionCode, Money, RegionCode
from runtime.calendar import business_date
from services.outcome import Decision

from .policy import PrepaymentPolicies, default_policies

ZERO = Decimal("0.00")


class DepositRefused(ValueError):
    """The deposit step breaks P-12 (answered REFUSED_BY_RULE with this text)."""


class PerformanceDeposit(BaseModel):
    """One institution's deposit for one agreement year."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    institution_code: InstitutionCode
    region: RegionCode
    year: int
    lodged: Money = ZERO
    receipts: tuple[str, ...] = Field((), description="the deposit receipts recorded (each once)")
    returned: Money | None = None
    assessment: str | None = None
    settled_at: AwareDatetime | None = None
    version: int = 0


def deposit_key(institution_code: str, year: int) -> str:
    return f"{institution_code}:{year}"


def _policy_source(region: str, on: date, policies: PrepaymentPolicies) -> str:
    rule = policies.deposit(region, on)
    if not rule.required:
        raise DepositRefused(f"P-12: {region} has no performance deposit in its text in force on {on} ({rule.source})")
    return rule.source


def lodge(
    held: PerformanceDeposit | None, cmd: LodgeDeposit, now: datetime, policies: PrepaymentPolicies | None = None
) -> Decision[PerformanceDeposit]:
    """A deposit lodged for the year (receipts add up; the same receipt is recorded once)."""
    source = _policy_source(str(cmd.region), business_date(now), policies or default_policies())
    dep = held or PerformanceDeposit(institution_code=cmd.institution_code, region=cmd.region, year=cmd.year)
    if cmd.deposit_id in dep.receipts:
        return Decision(dep, [], [])
    if dep.region != cmd.region:
        raise DepositRefused(f"P-12: the {cmd.year} deposit of {cmd.institution_code} is held in {dep.region}")
    if cmd.amount <= 0:
        raise DepositRefused("P-12: a deposit lodged is more than 0.00")
    if dep.returned is not None:
        raise DepositRefused(f"P-12: the {cmd.year} deposit of {cmd.institution_code} is already settled")
    new = dep.model_copy(
        update={
            "lodged": dep.lodged + cmd.amount,
            "receipts": (*dep.receipts, cmd.deposit_id),
            "version": dep.version + 1,
        }
    )
    return Decision(new, [_recorded(new, source, f"deposit:{cmd.deposit_id}", now)], [])


def settle(
    held: PerformanceDeposit | None, cmd: SettleDeposit, now: datetime, policies: PrepaymentPolicies | None = None
) -> Decision[PerformanceDeposit]:
    """The year's return, decided once: at most what was lodged, for a year that has begun."""
    today = business_date(now)
    source = _policy_source(str(cmd.region), today, policies or default_policies())
    if held is None or held.lodged <= 0:
        raise DepositRefused(f"P-12: {cmd.institution_code} lodged no deposit for {cmd.year}")
    if held.returned is not None:
        if (held.returned, held.assessment) == (cmd.returned, cmd.assessment):
            return Decision(held, [], [])
        raise DepositRefused(f"P-12: the {cmd.year} return of {cmd.institution_code} is decided already")
    if cmd.year > today.year:
        raise DepositRefused(f"P-12: the {cmd.year} agreement year has not begun ({today})")
    if cmd.returned > held.lodged:
        raise DepositRefused(f"P-12: {cmd.returned} to return is more than the {held.lodged} lodged for {cmd.year}")
    new = held.model_copy(
        update={
            "returned": cmd.returned,
            "assessment": cmd.assessment,
            "settled_at": now,
            "version": held.version + 1,
        }
    )
    return Decision(new, [_recorded(new, source, f"return:{cmd.year}", now)], [])


def _recorded(dep: PerformanceDeposit, source: str, cause: str, now: datetime) -> PerformanceDepositRecorded:
    settled = dep.returned is not None
    return PerformanceDepositRecorded(
        institution_code=dep.institution_code,
        region=dep.region,
        year=dep.year,
        status="settled" if settled else "lodged",
        lodged=dep.lodged,
        returned=dep.returned,
        retained=dep.lodged - dep.returned if dep.returned is not None else None,
        assessment=dep.assessment,
        policy_source=source,
        cause=cause,
        recorded_at=now,
    )
