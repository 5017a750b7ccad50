"""Prepayment domain 预付金 (P-02..P-09): pure decisions on one region's prepayment account.

Entry points, each ``(account, input, calendar, now) -> Outcome``: ``set_annual_quota``,
``record_settlement``, ``record_clearing_notice``, ``record_payment``, ``report_delay``,
``deadline_fired``. Formulas in ``formulas``; the P-02 region policy in ``policy``.
"""
from .account import (
    SANCTION_CHECK, account_key, deadline_fired, new_account, record_clearing_notice, record_payment,
    record_settlement, report_delay, set_annual_quota,
)
from .inputs import ClearingNoticeReceived, SettlementFunds, from_clearing_notice
from .model import PaymentNotice, PrepaymentAccount

__all__ = ["SANCTION_CHECK", "account_key", "deadline_fired", "new_account", "record_clearing_notice",
           "record_payment", "record_settlement", "report_delay", "set_annual_quota", "ClearingNoticeReceived",
           "SettlementFunds", "from_clearing_notice", "PaymentNotice", "PrepaymentAccount"]
