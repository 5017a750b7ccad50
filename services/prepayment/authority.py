"""Who may send what to the prepayment service (003 §5 (三); P-02, P-08, P-09).

An account is one insured region's prepayment in one scope (``account_key``: region × cross- or
intra-province, 004 第二十条 keeps the two apart). Its quota is set by the level above the region
(P-02): a city's by its province (000 第二十四、二十五条; 004 第二十条), a province-level region's
(the provincial pools of F-06) by the national level, which sets the provinces' cross-province
quotas (004 第二十一条). The money for a notice of the account is paid up to that same level
(上解至省经办专户, 004 第二十条、第二十八条), so the receiving level records its arrival (P-08;
到账信息 is fed back by the receiver, 004 第二十条、第二十七条). Intra-province prepayment never
leaves its province, so only a province agency keeps such an account: a province-level region has
no level above inside its province, and the national level may not set or record one for it.
A delay reason is reported by the paying region's own agency (P-09: "未报备延迟原因" is the payer's
报备). Sanctions are the prepayment service's own: filing and settlement hear them from it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.directory import SettlementKind
from contracts.parties import AgencyLevel, Institution, RefusalReason
from contracts.prepayment import PrepaymentScope
from runtime.authority import AuthorityTable, Refusal, Rule, Sender, agency_above, agency_for, service
from runtime.calendar import business_date
from runtime.parties import ParticipantRegistry


def account_keeper(*, rule: str) -> Rule:
    """P-02/P-08: the level that keeps the payload's account (``insured_region`` × ``scope``): the
    agency one level above the region, and for an intra-province account a province agency."""
    above = agency_above("insured_region", rule=rule)

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        refusal = above(sender, payload, registry, now)
        if refusal or payload.scope is not PrepaymentScope.INTRA_PROVINCE:
            return refusal
        if getattr(sender, "level", None) is AgencyLevel.PROVINCE:
            return None
        return Refusal(
            RefusalReason.UNAUTHORIZED,
            f"an intra-province prepayment is kept by a province agency, "
            f"not {sender.code}: {payload.insured_region} is pooled at province level and has no "
            f"intra-province account",
            rule,
            "UNAUTHORIZED",
        )

    return Rule(
        "the agency one level above `insured_region` (a city's province, a province's national level); "
        "for `scope` intra_province only a province",
        check,
    )


def keeper_of_all(*, rule: str) -> Rule:
    """P-10 (004 第二十九条(二)): interest on the keeper's accounts is shared by the keeper, the level
    above every region listed in ``regions`` (and, for intra-province, a province)."""
    one = account_keeper(rule=rule)

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        for region in payload.regions:
            refusal = one.check(sender, _Account(region, payload.scope), registry, now)
            if refusal:
                return refusal
        return None

    return Rule(
        "the agency one level above every region in `regions` (the keeper of their prepayments); "
        "for `scope` intra_province only a province",
        check,
    )


def deposit_holder(*, rule: str) -> Rule:
    """P-12 (002 第二十条, 第二十五条 就医地管理): the agency of the institution's region (or its province or the
    national level) records its deposit; ``institution_code`` is a registry institution located in
    ``region`` and opened for cross-region outpatient settlement on the day (the deposit is of those that
    settle cross-province outpatient care)."""
    agency = agency_for("region", rule=rule)

    def check(sender: Sender, payload: Any, registry: ParticipantRegistry, now: datetime) -> Refusal | None:
        refusal = agency(sender, payload, registry, now)
        if refusal:
            return refusal
        party = registry.get(str(payload.institution_code))
        if not isinstance(party, Institution) or party.region != payload.region:
            return Refusal(
                RefusalReason.UNAUTHORIZED,
                f"{payload.institution_code} is not an institution of {payload.region}",
                rule,
                "UNAUTHORIZED",
            )
        if not party.opened_for(SettlementKind.OUTPATIENT, business_date(now)):
            return Refusal(
                RefusalReason.UNAUTHORIZED,
                f"{payload.institution_code} is not opened for cross-region outpatient settlement",
                rule,
                "UNAUTHORIZED",
            )
        return None

    return Rule(
        "the agency of `region`, or its province or the national level, for an institution of `region` "
        "(`institution_code`) opened for outpatient settlement",
        check,
    )


class _Account:
    def __init__(self, insured_region: Any, scope: PrepaymentScope) -> None:
        self.insured_region, self.scope = insured_region, scope


AUTHORITY = AuthorityTable(
    "prepayment",
    {
        "settlement.completed.v1": service("settlement"),
        "settlement.reversed.v1": service("settlement"),
        "clearing.notice.v1": service("clearing"),
        "clearing.obligation-breached.v1": service("clearing"),
        "prepayment.set-annual-quota.v1": account_keeper(rule="P-02"),
        "prepayment.record-payment.v1": account_keeper(rule="P-08"),
        "prepayment.record-top-up.v1": account_keeper(rule="P-05"),
        "prepayment.record-return.v1": account_keeper(rule="C-05"),
        "prepayment.report-delay.v1": agency_for("insured_region", rule="P-09", exact=True),
        "prepayment.decide-sanction.v1": agency_above("insured_region", rule="P-09"),
        "prepayment.record-submission.v1": agency_for("insured_region", rule="P-08", exact=True),
        "prepayment.request-balance.v1": agency_for("insured_region", rule="P-04"),
        "prepayment.share-interest.v1": keeper_of_all(rule="P-10"),
        "prepayment.interest-shared.v1": service("prepayment"),
        "prepayment.deadline-due.v1": service("prepayment"),
        "prepayment.lodge-deposit.v1": deposit_holder(rule="P-12"),
        "prepayment.settle-deposit.v1": deposit_holder(rule="P-12"),
    },
)
