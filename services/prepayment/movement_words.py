"""The ledger's movements as agency staff read them (M-03): each kind, account and source in Chinese
words instead of its ids (``settlement:S-1:completed`` reads 异地结算 S-1), with the columns of the
downloaded ledger (CSV, XLSX: amounts ``#,##0.00``, dates as dates)."""

from __future__ import annotations

from runtime.tables import Column
from services.prepayment.domain.ledger import Movement

KIND_ZH = {
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
    "proactive_top_up": "黄色预警主动追加",
    "return_received": "反向清算回款到账",
    "opening": "期初结转",
    "opening_top_ups": "期初调增结转",
}
ACCOUNT_ZH = {
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
COLUMNS = (
    Column("seq", "序号", "count"),
    Column("on", "业务日期", "date"),
    Column("kind_zh", "类别"),
    Column("debit_zh", "借方"),
    Column("credit_zh", "贷方"),
    Column("amount", "金额（元）", "money"),
    Column("source_zh", "来源"),
    Column("at", "记账时间", "moment"),
)


def source_zh(ref: str) -> str:
    """What caused a movement, in words: a settlement (and whether reversed), a clearing notice, an
    interest share, an opening balance carried over, else a notice or payment by its number."""
    head, _, rest = ref.partition(":")
    if head == "settlement" and rest:
        settlement, _, state = rest.rpartition(":")
        return f"异地结算 {settlement}（已撤销）" if state == "reversed" else f"异地结算 {settlement or rest}"
    if head == "clearing" and rest:
        return f"清算通知 {rest}"
    if head == "interest" and rest:
        return f"利息分配 {rest}"
    if head == "opening" and rest:
        return f"上年结转（{ACCOUNT_ZH.get(rest, KIND_ZH.get(rest, rest))}）"
    return f"通知书/到账 {ref}"


def in_words(movement: Movement) -> dict:
    row = movement.model_dump(mode="json")
    return {
        **row,
        "kind_zh": KIND_ZH.get(row["kind"], row["kind"]),
        "debit_zh": ACCOUNT_ZH.get(row["debit"], row["debit"]),
        "credit_zh": ACCOUNT_ZH.get(row["credit"], row["credit"]),
        "source_zh": source_zh(movement.ref),
    }
