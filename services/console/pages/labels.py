"""What the console's pages call things in Chinese: the labels of actions, statuses, problem types,
filing statuses, warning levels, scopes, prepayment movements and ledgers, and how moments, amounts and
regions read."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from contracts.values import POOLING_REGIONS, SHANGHAI

ACTION_ZH = {
    "reply": "答复",
    "propose_extension": "申请延期",
    "accept_extension": "同意/不同意延期",
    "confirm": "确认结果",
    "dispute": "对结果有异议",
    "escalate": "提请上级协调",
    "take_up": "受理线索",
    "report_result": "反馈核查结果",
    "submit_result": "反馈协查结果",
    "discuss": "沟通",
    "confirm_coinvestigation": "确认/异议协查结果",
}
STATUS_ZH = {
    "open": "待答复",
    "replied": "已答复待确认",
    "confirmed": "已确认",
    "disputed": "有异议",
    "received": "待受理",
    "investigating": "核查中",
    "result": "已反馈",
    "requested": "待协查",
    "withdrawn": "已撤回",
    "answered": "已反馈待确认",
    "generated": "已生成待确认",
    "notified": "已发通知",
}
PROBLEM_ZH = {
    "filing": "备案类（2个工作日）",
    "system_fault": "系统故障类（1个工作日）",
    "other": "其他类（10个工作日）",
}
FILING_STATUS_ZH = {
    "pending": "待审核",
    "active": "有效",
    "suspended": "暂停",
    "superseded": "已变更",
    "cancelled": "已取消",
    "revoked": "已撤销",
    "terminated": "已终止",
    "rejected": "未通过",
}
LEVEL_ZH = {"none": "正常", "yellow": "黄色预警", "red": "红色预警"}
SCOPE_ZH = {"cross_province": "跨省", "intra_province": "省内"}
MOVEMENT_ZH = {
    "quota": "初始额度",
    "adjustment": "年度调整",
    "adjustment_notice": "年度调整付款通知书",
    "adjustment_payment": "年度调整到账",
    "top_up_notice": "紧急调增付款通知书",
    "top_up_payment": "紧急调增到账",
    "notice_paid": "通知书付清",
    "settlement": "异地结算",
    "reversal": "结算撤销",
    "clearing_notice": "清算通知",
    "audit_deduction": "审核扣款",
    "reverse_clearing_return": "反向清算回款",
    "clearing_payment": "清算拨付",
    "interest": "利息",
    "opening": "期初结转",
    "opening_top_ups": "期初调增结转",
}
LEDGER_ZH = {
    "quota": "额度",
    "quota_granted": "已核定额度",
    "called": "应缴通知",
    "calls": "通知书",
    "prepaid": "暂付款",
    "fund": "财政专户",
    "expense": "支出",
    "uncleared": "未清算应付",
    "cleared_unpaid": "已清算未拨付",
    "returns_due": "应收回款",
    "interest_income": "利息收入",
    "opening": "期初",
}


def local(moment) -> str:
    """A moment as agency staff read it: Beijing time."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def yuan(value) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def region_name(code) -> str:
    """The pooling region's name (the national list of regions, ``contracts.values``), else its code."""
    return POOLING_REGIONS.get(str(code), {}).get("name", str(code)) if code else ""


# a clearing period's state in the clearing domain's own words (C-02; 004 第四十六条): entries gathering
# until the 20th, generated and awaiting both sides' confirmation, confirmed, the notice issued; a period
# in which a side objected reads 有异议 until it is resolved
PERIOD_STATE_ZH = {"open": "归集中", "generated": "待确认", "confirmed": "已确认", "notified": "已发清算通知"}


def period_state_zh(period: dict) -> str:
    if period.get("state") == "generated" and any(
        side.get("objections") and not side.get("confirmed")
        for pair in period.get("counterparts", [])
        for side in pair.get("sides", [])
    ):
        return "有异议"
    return PERIOD_STATE_ZH.get(str(period.get("state")), str(period.get("state", "")))
