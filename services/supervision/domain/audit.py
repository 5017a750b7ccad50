"""Running the rule base on one completed settlement (智能审核, R-04): each hit becomes a flagged item
疑点 with its evidence. What a rule compares against is given: the person's recent visits
(:class:`PersonHistory`, kept under the person's pseudonym) and the stays of the institution and of
the treating region (:class:`Peers`). Pure: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from contracts.supervision import FlagChanged
from contracts.values import MedicalType
from services.supervision.domain.rules import AuditRule, BelowThreshold, RepeatVisits, RuleBase, StayCostOutlier

HISTORY_DAYS = 31  # the longest window a rule may ask for (RepeatVisits.window_days ≤ 31)
PEERS_KEPT = 200  # the latest stays a peer group keeps: enough for a stable median


class AuditedSettlement(BaseModel):
    """What the rules read of a completed settlement: ids, places, amounts, dates; the person only as
    their pseudonym."""

    model_config = ConfigDict(frozen=True)
    settlement_id: str
    person_ref: str = Field(description="the person's pseudonym (runtime.privacy), never the ID number")
    institution_code: str
    insured_region: str
    treating_region: str
    medical_type: MedicalType
    settled_on: date
    total: Decimal
    fund_paid: Decimal | None = Field(description="none of a fee detail (S-18): it carries no funds")
    admission_date: date | None = None
    discharge_date: date | None = None

    @property
    def is_stay(self) -> bool:
        return self.admission_date is not None and self.discharge_date is not None


class PastVisit(BaseModel):
    model_config = ConfigDict(frozen=True)
    settlement_id: str
    institution_code: str
    medical_type: MedicalType
    settled_on: date


class PersonHistory(BaseModel):
    """A person's completed settlements of the last :data:`HISTORY_DAYS` days."""

    visits: list[PastVisit] = Field(default_factory=list)

    def plus(self, s: AuditedSettlement) -> PersonHistory:
        if any(v.settlement_id == s.settlement_id for v in self.visits):
            return self
        since = s.settled_on - timedelta(days=HISTORY_DAYS)
        kept = [v for v in self.visits if v.settled_on > since]
        new = PastVisit(
            settlement_id=s.settlement_id,
            institution_code=s.institution_code,
            medical_type=s.medical_type,
            settled_on=s.settled_on,
        )
        return PersonHistory(visits=[*kept, new])


class Peers(BaseModel):
    """The latest stays' totals of one peer group (an institution, or a treating region)."""

    ids: list[str] = Field(default_factory=list)
    totals: list[Decimal] = Field(default_factory=list)

    def plus(self, s: AuditedSettlement) -> Peers:
        if s.settlement_id in self.ids:
            return self
        return Peers(ids=[*self.ids, s.settlement_id][-PEERS_KEPT:], totals=[*self.totals, s.total][-PEERS_KEPT:])


class Hit(BaseModel):
    """One rule's hit on one settlement, with the evidence an agency reviews (Chinese labels)."""

    model_config = ConfigDict(frozen=True)
    rule_id: str
    rule_name: str
    evidence: dict[str, str]


class Context(BaseModel):
    """What the rules compare a settlement against."""

    history: PersonHistory = Field(default_factory=PersonHistory)
    institution_peers: Peers = Field(default_factory=Peers)
    region_peers: Peers = Field(default_factory=Peers)


def repeat_visits(rule: AuditRule, p: RepeatVisits, s: AuditedSettlement, ctx: Context) -> Hit | None:
    if s.medical_type not in p.medical_types:
        return None
    since = s.settled_on - timedelta(days=p.window_days - 1)
    same = [
        v
        for v in ctx.history.visits
        if v.institution_code == s.institution_code
        and v.medical_type in p.medical_types
        and since <= v.settled_on <= s.settled_on
        and v.settlement_id != s.settlement_id
    ]
    if len(same) + 1 < p.min_visits:
        return None
    dates = sorted({v.settled_on for v in same} | {s.settled_on})
    return Hit(
        rule_id=rule.id,
        rule_name=rule.name,
        evidence={
            "窗口天数": str(p.window_days),
            "就诊次数": str(len(same) + 1),
            "阈值次数": str(p.min_visits),
            "就诊日期": "、".join(d.isoformat() for d in dates),
            "同窗结算": "、".join(sorted(v.settlement_id for v in same)),
        },
    )


def _outlier(total: Decimal, peers: Peers, p: StayCostOutlier) -> tuple[Decimal, Decimal] | None:
    """(median, MAD) of the peers when ``total`` is far above them, else none."""
    if len(peers.totals) < p.min_peers:
        return None
    mid = Decimal(median(peers.totals))
    mad = Decimal(median([abs(t - mid) for t in peers.totals]))
    if total > mid + p.mad_factor * mad and total > p.min_ratio * mid:
        return mid, mad
    return None


def _cent(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def stay_cost_outlier(rule: AuditRule, p: StayCostOutlier, s: AuditedSettlement, ctx: Context) -> Hit | None:
    if not s.is_stay:
        return None
    own = _outlier(s.total, ctx.institution_peers, p)
    region = _outlier(s.total, ctx.region_peers, p)
    if own is None or region is None:
        return None
    return Hit(
        rule_id=rule.id,
        rule_name=rule.name,
        evidence={
            "本次总费用": _cent(s.total),
            "机构历史中位数": _cent(own[0]),
            "机构历史绝对中位差": _cent(own[1]),
            "机构历史例数": str(len(ctx.institution_peers.totals)),
            "地区历史中位数": _cent(region[0]),
            "地区历史绝对中位差": _cent(region[1]),
            "地区历史例数": str(len(ctx.region_peers.totals)),
            "判定": f"高于中位数+{p.mad_factor}×绝对中位差，且高于中位数的{p.min_ratio}倍",
        },
    )


def below_threshold(rule: AuditRule, p: BelowThreshold, s: AuditedSettlement, ctx: Context) -> Hit | None:
    if not s.is_stay:
        return None
    floor = p.threshold * (100 - p.band_percent) / 100
    if not floor <= s.total < p.threshold:
        return None
    return Hit(
        rule_id=rule.id,
        rule_name=rule.name,
        evidence={
            "本次总费用": _cent(s.total),
            "协查起点": _cent(p.threshold),
            "距起点": _cent(p.threshold - s.total),
            "贴近区间": f"{_cent(floor)} 至 {_cent(p.threshold)}（不含）",
        },
    )


CHECKS: dict[str, Callable[..., Hit | None]] = {
    "repeat_visits": repeat_visits,
    "stay_cost_outlier": stay_cost_outlier,
    "below_threshold": below_threshold,
}


def audit(s: AuditedSettlement, ctx: Context, rules: RuleBase) -> list[Hit]:
    """Every enabled rule's hit on ``s``, in the rule base's order."""
    hits = [CHECKS[r.kind](r, r.settings, s, ctx) for r in rules.rules if r.enabled and r.kind in CHECKS]
    return [h for h in hits if h is not None]


def flag_id(settlement_id: str, rule_id: str) -> str:
    return f"{settlement_id}:{rule_id}"


class FlagStep(BaseModel):
    """One recorded step of a flag's workflow: who signed it, when, what."""

    action: str
    by: str
    at: datetime
    note: str = ""


class Flag(BaseModel):
    """疑点: a rule's hit on one settlement, with its evidence and its workflow so far."""

    flag_id: str
    rule_id: str
    rule_name: str
    status: str = "open"
    settlement_id: str
    person_ref: str
    institution_code: str
    insured_region: str
    treating_region: str
    medical_type: MedicalType
    settled_on: date
    total: Decimal
    fund_paid: Decimal | None = Field(default=None, description="none on a flag of the fee detail, which has no funds")
    evidence: dict[str, str]
    raised_at: datetime
    appeal_by: datetime = Field(description="申诉期限: the end of the last working day to appeal")
    before_appeal: str | None = Field(default=None, description="the status an appeal interrupted")
    deduction_id: str | None = None
    steps: list[FlagStep] = Field(default_factory=list)


def changed(flag: Flag) -> FlagChanged:
    """The flag's last step as the agencies hear of it."""
    step = flag.steps[-1]
    return FlagChanged(
        flag_id=flag.flag_id,
        rule_id=flag.rule_id,
        settlement_id=flag.settlement_id,
        institution_code=flag.institution_code,
        insured_region=flag.insured_region,
        treating_region=flag.treating_region,
        action=step.action,
        status=flag.status,
        by=step.by,
        at=step.at,
    )


def raise_flag(s: AuditedSettlement, hit: Hit, now: datetime, appeal_by: datetime) -> Flag:
    return Flag(
        flag_id=flag_id(s.settlement_id, hit.rule_id),
        rule_id=hit.rule_id,
        rule_name=hit.rule_name,
        settlement_id=s.settlement_id,
        person_ref=s.person_ref,
        institution_code=s.institution_code,
        insured_region=s.insured_region,
        treating_region=s.treating_region,
        medical_type=s.medical_type,
        settled_on=s.settled_on,
        total=s.total,
        fund_paid=s.fund_paid,
        evidence=hit.evidence,
        raised_at=now,
        appeal_by=appeal_by,
        steps=[FlagStep(action="raised", by="supervision", at=now)],
    )
