"""Which commands an agency starts from the console (业务办理), and how each is handled.

Every topic the authority tables (``services/<name>/authority.py``, ``yidi authority``) let an agency send
is here: most with a form generated from the contract (``forms``), the few that act on one listed item
with the page that already offers them beside that item (``page``). ``tests/unit/console`` checks that
none is missing.

``review``: the sources have two hands on it — the operator 经办 prepares, a reviewer 复核 of the same
agency approves, and only then is it sent (filing decisions, 000 第四条 统一管理、分级负责 with the
filing review of F-13; audit deductions, R-03/R-04 审核扣款 confirmed by the treating place; the
prepayment money steps, 004 第二十、二十七、二十九条: the keeper's quota, its arrivals and interest;
an objection's resolution by the coordinating level, C-02). ``final``: once applied it cannot be
taken back, so the clerk sees what will be sent and says so again ("are you sure")."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from contracts.registry import ALL_TOPICS


@dataclass(frozen=True)
class Task:
    topic: str
    title: str  # what the clerk does, in Chinese
    group: str  # the section of the 业务办理 page
    own: tuple[str, ...] = ()  # region fields that name the sending agency's own side
    review: bool = False  # prepared by an operator, approved by a reviewer (two steps)
    final: bool = False  # cannot be undone: confirm before sending
    page: str = ""  # offered beside its item on this page instead of a form
    omit: tuple[str, ...] = ()  # optional fields the form does not ask (another page's business)
    given: tuple[str, ...] = ()  # references to an existing item: typed in, never proposed fresh

    @property
    def model(self) -> type[BaseModel]:
        return ALL_TOPICS[self.topic].message

    @property
    def slug(self) -> str:
        return self.topic.removesuffix(".v1").replace(".", "-")


GROUPS = {
    "filing": "备案",
    "settlement": "参保人信息",
    "clearing": "清算",
    "prepayment": "预付金",
    "collab": "业务协同与协查",
    "supervision": "基金监管",
}

TASKS: tuple[Task, ...] = (
    # 备案 (F-01, F-08, F-10, F-13, F-14): the insured place's filings
    Task("filing.register.v1", "登记异地就医备案", "filing", own=("insured_region",)),
    Task("filing.decide.v1", "审核备案申请（通过/不通过）", "filing", review=True, final=True),
    Task("filing.change.v1", "变更备案信息", "filing"),
    Task("filing.suspend.v1", "暂停备案", "filing", final=True),
    Task("filing.resume.v1", "恢复备案", "filing"),
    Task("filing.deliver-proof.v1", "补交备案材料", "filing"),
    Task("filing.cancel.v1", "取消备案", "filing", review=True, final=True),
    Task("filing.terminate.v1", "终止参保（全部备案终止）", "filing", review=True, final=True),
    # 参保人信息 (S-13, S-09): the insured place's own data about a person
    Task("settlement.chronic-qualification.v1", "登记门诊慢特病资格", "settlement", own=("insured_region",)),
    Task("settlement.insured-person.v1", "登记参保人类别与个人账户余额", "settlement", own=("insured_region",)),
    # 手工报销 (S-17, 004 第三十三条): the window's intake, later materials, the verification letter
    Task("settlement.manual-claim-submit.v1", "受理手工报销申请", "settlement", own=("insured_region",)),
    Task("settlement.manual-claim-documents.v1", "登记手工报销补充材料", "settlement", own=("insured_region",)),
    Task("settlement.manual-claim-verify.v1", "发出手工报销核查函证", "settlement", own=("insured_region",)),
    # the decision: computed by the settlement rules (S-05..S-09), prepared by 经办, approved by 复核
    Task(
        "settlement.manual-claim-decide.v1",
        "审核手工报销（按参保地政策计算）",
        "settlement",
        own=("insured_region",),
        review=True,
        final=True,
        given=("claim_id",),
    ),
    Task(
        "settlement.manual-claim-pay.v1",
        "登记手工报销支付",
        "settlement",
        own=("insured_region",),
        review=True,
        final=True,
        given=("claim_id",),
    ),
    # 清算 (R-03..R-05, C-02, C-06)
    Task(
        "clearing.record-audit-deduction.v1",
        "登记审核扣款",
        "clearing",
        own=("treating_region",),
        review=True,
        final=True,
    ),  # a correction names the deduction it corrects in ``corrects``
    Task("clearing.resolve-objection.v1", "裁定清算异议", "clearing", review=True, final=True, given=("objection_id",)),
    Task("clearing.record-obligation.v1", "登记清算资金办理环节", "clearing", own=("region",), final=True),
    Task("clearing.insured-daily-totals.v1", "报送参保地日对账汇总", "clearing", own=("insured_region",)),
    Task("clearing.confirm-period.v1", "确认清算期", "clearing", page="/clearing"),
    Task("clearing.object-period.v1", "对清算期提出异议", "clearing", page="/clearing"),
    Task("clearing.answer-appeal.v1", "答复扣款申诉", "clearing", page="/clearing"),
    # 预付金 (P-02, P-04, P-08..P-10)
    Task("prepayment.set-annual-quota.v1", "核定年度预付金额度", "prepayment", review=True, final=True),
    Task("prepayment.record-payment.v1", "登记预付金到账", "prepayment", review=True, final=True),
    Task("prepayment.record-top-up.v1", "登记黄色预警主动追加到账", "prepayment", review=True, final=True),
    Task("prepayment.record-return.v1", "登记反向清算回款到账", "prepayment", review=True, final=True),
    Task("prepayment.record-submission.v1", "登记已报送财政", "prepayment", own=("insured_region",), final=True),
    Task("prepayment.report-delay.v1", "报备延迟缴付原因", "prepayment", own=("insured_region",)),
    Task(
        "prepayment.decide-sanction.v1",
        "决定是否暂停入院登记",
        "prepayment",
        review=True,
        final=True,
        given=("proposal_id",),
    ),
    Task("prepayment.request-balance.v1", "查询预付金余额（对账）", "prepayment", own=("insured_region",)),
    Task("prepayment.share-interest.v1", "分配预付金利息", "prepayment", review=True, final=True),
    Task("prepayment.lodge-deposit.v1", "登记履约保证金缴存", "prepayment", own=("region",), review=True, final=True),
    Task(
        "prepayment.settle-deposit.v1",
        "核定年度履约保证金返还额度",
        "prepayment",
        own=("region",),
        review=True,
        final=True,
    ),
    # 业务协同与协查 (K-03..K-06, Q-01..Q-05)
    Task("collab.open-request.v1", "发起业务协同请求", "collab", own=("requester_region",), omit=("escalated_from",)),
    Task("collab.hand-over-lead.v1", "移交问题线索", "collab", own=("insured_region",)),
    Task("collab.request-coinvestigation.v1", "发起费用协查", "collab", own=("insured_region",)),
    Task("collab.amend-coinvestigation.v1", "修改费用协查申请", "collab"),
    Task("collab.withdraw-coinvestigation.v1", "撤回费用协查申请", "collab", final=True),
    Task("collab.publish-notice.v1", "发布通知公告", "collab", final=True),
    Task("collab.reply-request.v1", "答复协同请求", "collab", page="/collab"),
    Task("collab.propose-extension.v1", "申请延期", "collab", page="/collab"),
    Task("collab.accept-extension.v1", "同意/不同意延期", "collab", page="/collab"),
    Task("collab.confirm-result.v1", "确认协同结果", "collab", page="/collab"),
    Task("collab.take-up-lead.v1", "受理问题线索", "collab", page="/collab/leads"),
    Task("collab.report-lead-result.v1", "反馈线索核查结果", "collab", page="/collab/leads"),
    Task("collab.submit-coinvestigation-result.v1", "反馈协查结果", "collab", page="/coinvestigations"),
    Task("collab.confirm-coinvestigation.v1", "确认/异议协查结果", "collab", page="/coinvestigations"),
    Task("collab.discuss-coinvestigation.v1", "协查沟通", "collab", page="/coinvestigations"),
    # 基金监管: a flag's review and its appeal's decision; a deduction is 登记审核扣款 above, its
    # deduction_id ``supervision:<疑点编号>`` (contracts.supervision.deduction_id_for)
    Task(
        "supervision.review-flag.v1",
        "审核智能审核疑点（排除/移交参保地）",
        "supervision",
        own=("treating_region",),
        given=("flag_id",),
    ),
    Task(
        "supervision.decide-appeal.v1",
        "处理疑点申诉",
        "supervision",
        own=("treating_region",),
        review=True,
        final=True,
        given=("flag_id",),
    ),
)
BY_SLUG = {task.slug: task for task in TASKS}
BY_TOPIC = {task.topic: task for task in TASKS}


def formed() -> list[Task]:
    """The tasks with a form of their own (not offered beside an item on another page)."""
    return [task for task in TASKS if not task.page]
