"""Prepayment domain 预付金 (P-02..P-10): pure decisions on one region's prepayment account.

Entry points, each ``(account, input, calendar, now) -> Decision``: ``set_annual_quota``,
``record_settlement``, ``record_clearing_notice``, ``record_clearing_breach``, ``record_payment``, ``report_delay``,
``deadline_fired``, ``record_submission`` (P-08), ``record_interest`` (P-10), ``answer_balance``. Formulas in ``formulas``; the P-02
region policy in ``policy``; the ledger of movements in ``ledger``; P-10 sharing in ``interest``;
what follows every change (usage, warnings, top-up, sanctions) in ``usage``; the notices' P-08/P-09 clocks in ``notices``.
"""

from .account import (
    answer_balance,
    deadline_fired,
    decide_sanction,
    new_account,
    record_clearing_breach,
    record_clearing_notice,
    record_interest,
    record_payment,
    record_proactive_top_up,
    record_return,
    record_settlement,
    record_submission,
    report_delay,
    set_annual_quota,
)
from .inputs import ClearingBreachReceived, ClearingNoticeReceived, SettlementFunds, from_clearing_notice
from .interest import InterestRefused
from .ledger import LedgerAccount, Movement, MovementKind
from .model import PaymentNotice, PrepaymentAccount, account_key
from .notices import SANCTION_CHECK

__all__ = [
    "decide_sanction",
    "record_proactive_top_up",
    "record_return",
    "record_submission",
    "answer_balance",
    "record_interest",
    "InterestRefused",
    "LedgerAccount",
    "Movement",
    "MovementKind",
    "SANCTION_CHECK",
    "account_key",
    "deadline_fired",
    "new_account",
    "record_clearing_notice",
    "record_clearing_breach",
    "ClearingBreachReceived",
    "record_payment",
    "record_settlement",
    "report_delay",
    "set_annual_quota",
    "ClearingNoticeReceived",
    "SettlementFunds",
    "from_clearing_notice",
    "PaymentNotice",
    "PrepaymentAccount",
]
