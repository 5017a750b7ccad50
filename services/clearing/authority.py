"""Who may send what to the clearing service (003 §5 (三); C-02, R-04).

Our reading of C-02. A period of one (insured, treating) pair has two sides, and each confirms its
own figures: 000 第六十二条 has every province confirm "本省的清算信息" by the 25th, and 004
第四十六条 spells it out — as treating province it confirms its receivable 清算应收, as insured
province its payable 清算应付 (its cities confirm theirs first, by the 24th). So a confirmation
binds one side (``ConfirmClearingPeriod.side``: insured | treating; absent = insured, the payer by
whom the topic is keyed, so the change is compatible and stays v1), and only an agency that speaks
for that side's region may send it: the region's own agency, its province, or the national level
(``ParticipantRegistry.speaks_for``). An agency of neither side is refused, and so is the
counterpart confirming the other side's figures for it (Hefei may not confirm Wuhu's payable). The
period is confirmed once both sides are; silence at the end of the 25th confirms whoever stayed
silent (004 第四十五条). An objection (确认不通过) comes from the same agencies as a confirmation of its side;
it is resolved by the level that coordinates the pair (004 第四十六条: the national agency between provinces,
the province within one).

Audit deductions come from the side whose audit found them, or its province (which submits them to the
national level, 000 第六十二条), or the national level: the treating side for cross-province costs (R-04;
000 第五十七、五十八条; 001 第三十条), and for intra-province costs the treating side too unless the insured
region's text gives their audit to the insured place (Wuhu, 001 第三十条; ``kernel.clearing_calendar``, in
force on the day of the audit's decision). Settlements come only
from the settlement service, deadlines only from clearing itself. The steps after a notice (C-03: submitted
to finance, transferred, receipt fed back; C-07: institutions paid) are recorded by the agency of the
notice's region, or its province or the national level (which keep the accounts above it). An
institution's daily totals (R-02) and monthly declarations (R-03) come from that institution itself, opened for cross-region settlement,
in the treating region it names. An appeal 申诉 of an audit deduction (R-04) comes from an institution
naming itself, in the treating region it names; that the deduction is of its own settlement is checked by
the handler against the archive (and refused without saying whose it is). The answer comes from the agency
that speaks for the treating region, whose audit made the deduction (its own, its province, the national
level); the handler checks that region against the appealed deduction's."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts.clearing import ClearingSide
from contracts.parties import Agency, AgencyLevel
from runtime.authority import AuthorityTable, Refusal, RefusalReason, Rule, Sender, agency_for, institution, service
from runtime.calendar import business_date
from runtime.parties import ParticipantRegistry
from services.clearing.domain.audit import auditor_region
from services.clearing.domain.objection import coordinator


def agency_of_side(*, rule: str, act: str = "confirm", binds: str = "binds") -> Rule:
    """C-02: the agency that speaks for the region of the side the payload's ``side`` names."""
    by_side = {side: agency_for(side.region_field, rule=rule) for side in ClearingSide}

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        refusal = by_side[payload.side](sender, payload, registry, now)
        # say which side was claimed: a counterpart is refused for the side that is not its own
        return (
            replace(refusal, message=f"{refusal.message}: it may not {act} for the {payload.side.value} side")
            if refusal
            else None
        )

    return Rule(
        f"the agency of the side it {binds} (`side`: `insured_region` for the payable, `treating_region` "
        "for the receivable), or its province or the national level",
        check,
    )


def coordinating_level(*, rule: str) -> Rule:
    """C-02 (004 第四十六条): the level that coordinates the pair — the national agency between provinces,
    the province (or the national level) within one."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        where = coordinator(str(payload.insured_region), str(payload.treating_region))
        if isinstance(sender, Agency) and (
            sender.level is AgencyLevel.NATIONAL
            or (where is not None and sender.level is AgencyLevel.PROVINCE and sender.region == where)
        ):
            return None
        who = "the national agency" if where is None else f"the agency of {where} or the national level"
        return Refusal(
            RefusalReason.UNAUTHORIZED,
            f"{sender.code} does not coordinate {payload.insured_region} and {payload.treating_region} ({who} does)",
            rule,
        )

    return Rule(
        "the level that coordinates the pair: the national agency between provinces, the province of both "
        "(or the national level) within one",
        check,
    )


def auditing_agency(*, rule: str) -> Rule:
    """R-04: the agency of the region that audits the pair's costs (``auditor_region``), or one above it."""

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        insured, treating = str(payload.insured_region), str(payload.treating_region)
        region = auditor_region(insured, treating, business_date(payload.decided_at))
        if isinstance(sender, Agency) and registry.speaks_for(sender.code, region):
            return None
        scope = "cross-province" if insured[:2] != treating[:2] else "intra-province"
        side = "insured" if region == insured else "treating"
        return Refusal(
            RefusalReason.UNAUTHORIZED,
            f"{sender.code} may not deduct: {scope} costs of {insured}->{treating} are audited by the {side} place "
            f"({region})",
            rule,
        )

    return Rule(
        "the agency of the region that audits the pair (R-04: `treating_region`; intra-province `insured_region` "
        "where its region policy says so), or its province or the national level",
        check,
    )


AUTHORITY = AuthorityTable(
    "clearing",
    {
        "settlement.completed.v1": service("settlement"),
        "settlement.reversed.v1": service("settlement"),
        "clearing.record-audit-deduction.v1": auditing_agency(rule="R-04"),
        "clearing.confirm-period.v1": agency_of_side(rule="C-02"),
        "clearing.object-period.v1": agency_of_side(rule="C-02", act="object", binds="objects for"),
        "clearing.resolve-objection.v1": coordinating_level(rule="C-02"),
        "clearing.insured-daily-totals.v1": agency_for("insured_region", rule="R-01"),
        "clearing.deadline-due.v1": service("clearing"),
        "clearing.record-obligation.v1": agency_for("region", rule="C-03"),
        "his.daily-reconciliation.v1": institution(region_field="treating_region", level_field=None),
        "his.monthly-declaration.v1": institution(region_field="treating_region", level_field=None),
        "his.deduction-appealed.v1": institution(region_field="treating_region", level_field=None),
        "clearing.answer-appeal.v1": agency_for("treating_region", rule="R-04"),
    },
)
