"""A month of a real region (一个月的业务样例, sample): what `make run` seeds so that every console
page has something to show — prepayment quotas, one region driven into a red warning, collaboration
requests, leads and co-investigations in each state the collab service knows.

Everything goes through the public topics as the agencies' own signed commands (contracts.parties),
each with a fixed event id and the agency's own fixed reference: a second start sends the same
messages, which the services take as copies (nothing is held twice). Two steps, on the simulator's
business clock: ``before`` on the filing day, three weeks before the visits, for what needs time to
pass (a reply deadline missed, K-02); ``after`` on the visiting day for the live ones."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel

from contracts.collab import (
    CheckResult,
    ConfirmCoInvestigationResult,
    ConfirmCollabResult,
    DiscussCoInvestigation,
    HandOverLead,
    LeadOutcome,
    LeadSubject,
    NoticeKind,
    OpenCollabRequest,
    ProblemType,
    ProposeCollabExtension,
    PublishNotice,
    ReplyCollabRequest,
    ReportLeadResult,
    RequestCoInvestigation,
    Sex,
    StayDetails,
    SubmitCoInvestigationResult,
    TakeUpLead,
)
from contracts.prepayment import PrepaymentScope, SetAnnualQuota
from services.collab.domain.coinvestigation import request_id_for as coinvestigation_id_for
from services.collab.domain.leads import lead_id_for
from services.collab.domain.requests import request_id_for
from simulator import scenarios

SEED_NAMESPACE = uuid.UUID("7d0c6d36-2f43-5b8e-9a51-1c2f3e4d5a60")  # the seed's own: its event ids derive from it
WUHU, WUHAN, HUBEI, ANHUI = "340200", "420100", "420000", "340000"
# the persons the items are about: the simulator's sample persons insured in Wuhu, treated in Wuhan
PERSON = scenarios.person(900_001, scenarios.ROUTES[0])
OTHER = scenarios.person(900_002, scenarios.ROUTES[0])
WUHAN_INSURED = scenarios.person(900_003, ("420100", "340200", "H34020200001"))  # treated in Wuhu


def event_id(name: str) -> uuid.UUID:
    """The fixed event id of one seeded message: a copy on a later start is recognised as one."""
    return uuid.uuid5(SEED_NAMESPACE, name)


@dataclass(frozen=True)
class Seeded:
    name: str  # stable: the event id derives from it
    topic: str
    payload: BaseModel
    sender: str


Send = Callable[[Seeded], Awaitable[None]]


def quotas(at: datetime) -> list[Seeded]:
    """P-02/P-03: this year's quotas, set by the agency one level above each region (the authority
    table). Wuhu's cross-province account is given a small last year (a new account, two thousand
    yuan a month, a quota of 2,000.00), so that the simulator's Wuhu patients in Wuhan take its usage past
    90 % (P-04): a red warning and its emergency top-up notice (P-05, P-06)."""
    year = at.year

    def quota(region: str, scope: PrepaymentScope, sender: str, monthly: str, last_year: str) -> Seeded:
        funds = {m: Decimal(monthly) for m in (10, 11, 12)}
        return Seeded(
            f"quota:{region}:{scope.value}:{year}",
            "prepayment.set-annual-quota.v1",
            SetAnnualQuota(
                insured_region=region,
                scope=scope,
                year=year,
                last_year_monthly_funds=funds,
                last_year_quota=Decimal(last_year),
                issued_at=at,
            ),
            sender,
        )

    # last year's quota at least this year's computed one: no adjustment notice (P-03), so no payment to chase (P-09)
    return [
        quota(WUHU, PrepaymentScope.CROSS_PROVINCE, f"A{ANHUI}", "1000.00", "2000.00"),  # the red one
        quota(WUHU, PrepaymentScope.INTRA_PROVINCE, f"A{ANHUI}", "1800000.00", "3800000.00"),
        quota(WUHAN, PrepaymentScope.CROSS_PROVINCE, f"A{HUBEI}", "2600000.00", "5400000.00"),
        quota(WUHAN, PrepaymentScope.INTRA_PROVINCE, f"A{HUBEI}", "3900000.00", "8000000.00"),
        quota("430100", PrepaymentScope.CROSS_PROVINCE, "A430000", "2100000.00", "4500000.00"),
        quota("210100", PrepaymentScope.CROSS_PROVINCE, "A210000", "1500000.00", "6000000.00"),
    ]


def _open(
    ref: str,
    requester: str,
    target: str,
    kind: ProblemType,
    matter: str,
    at: datetime,
    escalated_from: uuid.UUID | None = None,
    person_id: str | None = None,
) -> Seeded:
    return Seeded(
        f"open:{requester}:{ref}",
        "collab.open-request.v1",
        OpenCollabRequest(
            request_ref=ref,
            requester_region=requester,
            target_region=target,
            matter=matter,
            problem_type=kind,
            person_id=person_id,
            escalated_from=escalated_from,
            opened_at=at,
        ),
        f"A{requester}",
    )


def before(at: datetime) -> list[list[Seeded]]:
    """On the filing day: the quotas, and requests left unanswered past their deadline (K-02: a system
    fault 1 working day, a filing problem 2) — overdue once business time moves to the visiting day."""
    return [
        quotas(at)
        + [
            _open(
                "SEED-K-OVERDUE-1", WUHU, WUHAN, ProblemType.SYSTEM_FAULT, "异地就医结算接口连续超时，请协助排查", at
            ),
            _open(
                "SEED-K-OVERDUE-2",
                WUHAN,
                WUHU,
                ProblemType.FILING,
                "参保人备案信息未同步至就医地，请核实",
                at,
                person_id=OTHER.person_id,
            ),
        ]
    ]


def after(at: datetime) -> list[list[Seeded]]:
    """On the visiting day, in rounds (each round is taken in before the next is sent): collaboration
    requests open, replied, confirmed, disputed and raised one level up (K-01..K-04); leads received,
    under investigation and reported (K-05); co-investigations requested, answered, confirmed and
    disputed with their discussion (Q-01..Q-05); a notice to every agency (K-06)."""
    rid = lambda ref: request_id_for(WUHU, ref)  # noqa: E731 — Wuhu's requests, by its own reference
    cid = lambda ref: coinvestigation_id_for(WUHU, ref)  # noqa: E731
    lid = lambda ref: lead_id_for(WUHU, ref)  # noqa: E731

    def stay(n: int, total: str) -> StayDetails:
        return StayDetails(
            person_id=PERSON.person_id,
            institution=PERSON.institution,
            admission_no=f"ZY2026{n:05d}",
            invoice_no=f"FP2026{n:07d}",
            admission_date=date(2026, 10, 8 + n),
            discharge_date=date(2026, 10, 20 + n),
            total=Decimal(total),
        )

    def coinvestigation(ref: str, n: int, total: str) -> Seeded:
        return Seeded(
            f"coinvestigation:{ref}",
            "collab.request-coinvestigation.v1",
            RequestCoInvestigation(
                request_ref=ref,
                insured_region=WUHU,
                treating_region=WUHAN,
                name=PERSON.name,
                sex=Sex.MALE,
                stay=stay(n, total),
                requested_at=at,
            ),
            f"A{WUHU}",
        )

    def lead(ref: str, subject: LeadSubject, text: str) -> Seeded:
        return Seeded(
            f"lead:{ref}",
            "collab.hand-over-lead.v1",
            HandOverLead(
                lead_ref=ref,
                insured_region=WUHU,
                treating_region=WUHAN,
                subject=subject,
                person_id=PERSON.person_id,
                institution_code=PERSON.institution if subject is LeadSubject.INSTITUTION else None,
                description=text,
                handed_over_at=at,
            ),
            f"A{WUHU}",
        )

    def reply(ref: str, text: str) -> Seeded:
        return Seeded(
            f"reply:{ref}",
            "collab.reply-request.v1",
            ReplyCollabRequest(request_id=rid(ref), result=text, replied_at=at),
            f"A{WUHAN}",
        )

    def confirm(ref: str, accepted: bool, comment: str) -> Seeded:
        return Seeded(
            f"confirm:{ref}",
            "collab.confirm-result.v1",
            ConfirmCollabResult(request_id=rid(ref), accepted=accepted, comment=comment, confirmed_at=at),
            f"A{WUHU}",
        )

    def result(ref: str, outcome: CheckResult, reason: str = "") -> Seeded:
        return Seeded(
            f"coinvestigation-result:{ref}",
            "collab.submit-coinvestigation-result.v1",
            SubmitCoInvestigationResult(request_id=cid(ref), result=outcome, reason=reason, submitted_at=at),
            f"A{WUHAN}",
        )

    def agree(ref: str, agreed: bool, comment: str) -> Seeded:
        return Seeded(
            f"coinvestigation-confirm:{ref}",
            "collab.confirm-coinvestigation.v1",
            ConfirmCoInvestigationResult(request_id=cid(ref), agreed=agreed, comment=comment, confirmed_at=at),
            f"A{WUHU}",
        )

    opened = [
        _open("SEED-K-OPEN", WUHU, WUHAN, ProblemType.OTHER, "请协助核实参保人在贵地定点医院的住院费用明细", at),
        _open("SEED-K-INBOX", WUHAN, WUHU, ProblemType.OTHER, "请协助提供参保人异地转诊备案材料", at),
        _open("SEED-K-EXTEND", WUHU, WUHAN, ProblemType.OTHER, "请协助调取2026年9月门诊慢特病结算记录", at),
        _open(
            "SEED-K-REPLIED",
            WUHU,
            WUHAN,
            ProblemType.FILING,
            "参保人备案开始日期与就医地记录不一致",
            at,
            person_id=PERSON.person_id,
        ),
        _open("SEED-K-CONFIRMED", WUHU, WUHAN, ProblemType.OTHER, "定点医院结算单打印缺少基金支付明细", at),
        _open("SEED-K-DISPUTED", WUHU, WUHAN, ProblemType.OTHER, "同一次住院出现两笔结算记录，请核查", at),
        coinvestigation("SEED-Q-OPEN", 1, "38600.00"),
        coinvestigation("SEED-Q-ANSWERED", 2, "45200.50"),
        coinvestigation("SEED-Q-CONFIRMED", 3, "31880.00"),
        coinvestigation("SEED-Q-DISPUTED", 4, "52300.00"),
        lead("SEED-L-RECEIVED", LeadSubject.INSTITUTION, "定点医院疑似分解住院，同一参保人两次住院间隔两天"),
        lead("SEED-L-INVESTIGATING", LeadSubject.INSURED_PERSON, "参保人疑似冒名就医，请就医地核查"),
        lead("SEED-L-REPORTED", LeadSubject.INSTITUTION, "定点医院疑似串换药品，费用明细与处方不符"),
        Seeded(
            "lead:SEED-L-WUHAN",
            "collab.hand-over-lead.v1",
            HandOverLead(
                lead_ref="SEED-L-WUHAN",
                insured_region=WUHAN,
                treating_region=WUHU,
                subject=LeadSubject.INSURED_PERSON,
                person_id=WUHAN_INSURED.person_id,
                description="参保人疑似在多家医院重复开药，请就医地核查",
                handed_over_at=at,
            ),
            f"A{WUHAN}",
        ),
        Seeded(
            "notice:SEED-N-1",
            "collab.publish-notice.v1",
            PublishNotice(
                notice_ref="SEED-N-1",
                publisher=f"A{WUHAN}",
                kind=NoticeKind.PLANNED_OUTAGE,
                title="武汉市医保信息平台计划停机公告",
                body="因系统升级，武汉市医保信息平台将于本周六凌晨停机四小时，期间异地就医直接结算暂停。",
                effective_from=at.replace(hour=0) + (date(2026, 11, 7) - at.date()),
                effective_until=at.replace(hour=4) + (date(2026, 11, 7) - at.date()),
                published_at=at,
            ),
            f"A{WUHAN}",
        ),
    ]
    answered = [
        Seeded(
            "extend:SEED-K-EXTEND",
            "collab.propose-extension.v1",
            ProposeCollabExtension(
                request_id=rid("SEED-K-EXTEND"),
                extra_working_days=5,
                reason="需医院调取纸质病案，预计下周完成",
                proposed_at=at,
            ),
            f"A{WUHAN}",
        ),
        reply("SEED-K-REPLIED", "已核实，就医地备案开始日期以参保地登记为准，已更正"),
        reply("SEED-K-CONFIRMED", "已要求医院重新打印附件13结算单，补齐基金支付明细"),
        reply("SEED-K-DISPUTED", "经核查为一次住院的中途结算，不属重复结算"),
        result("SEED-Q-ANSWERED", CheckResult.CORRECT),
        result("SEED-Q-CONFIRMED", CheckResult.CORRECT),
        result("SEED-Q-DISPUTED", CheckResult.WRONG, "费用明细中一次性材料重复计费 1,280.00 元"),
        Seeded(
            "take-up:SEED-L-INVESTIGATING",
            "collab.take-up-lead.v1",
            TakeUpLead(lead_id=lid("SEED-L-INVESTIGATING"), taken_up_at=at),
            f"A{WUHAN}",
        ),
        Seeded(
            "take-up:SEED-L-REPORTED",
            "collab.take-up-lead.v1",
            TakeUpLead(lead_id=lid("SEED-L-REPORTED"), taken_up_at=at),
            f"A{WUHAN}",
        ),
    ]
    confirmed = [
        confirm("SEED-K-CONFIRMED", True, "已收到，确认"),
        confirm("SEED-K-DISPUTED", False, "两笔结算的住院日期重叠，请进一步说明"),
        agree("SEED-Q-CONFIRMED", True, "无异议"),
        agree("SEED-Q-DISPUTED", False, "重复计费金额与我方测算不一致"),
        Seeded(
            "lead-result:SEED-L-REPORTED",
            "collab.report-lead-result.v1",
            ReportLeadResult(
                lead_id=lid("SEED-L-REPORTED"),
                outcome=LeadOutcome.CONFIRMED,
                findings="经现场核查，医院存在串换药品行为，已责令整改并追回违规费用",
                reported_at=at,
            ),
            f"A{WUHAN}",
        ),
    ]
    raised = [
        _open(
            "SEED-K-ESCALATED",
            WUHU,
            HUBEI,
            ProblemType.OTHER,
            "武汉市答复存疑：同一次住院两笔结算，请省级协调",
            at,
            escalated_from=rid("SEED-K-DISPUTED"),
        ),
        Seeded(
            "discuss:SEED-Q-DISPUTED",
            "collab.discuss-coinvestigation.v1",
            DiscussCoInvestigation(
                request_id=cid("SEED-Q-DISPUTED"), message="请提供一次性材料的出库记录，以便核对计费次数", said_at=at
            ),
            f"A{WUHU}",
        ),
    ]
    return [opened, answered, confirmed, raised]


def topics(rounds: list[list[Seeded]]) -> list[str]:
    return sorted({item.topic for items in rounds for item in items})
