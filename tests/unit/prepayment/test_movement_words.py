"""The ledger as staff read it (M-03): kinds, accounts and sources in words, not ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from services.prepayment.domain.ledger import LedgerAccount, Movement, MovementKind
from services.prepayment.movement_words import in_words, source_zh


def test_sources_read_as_words():
    assert source_zh("settlement:S-20260929-1:completed") == "异地结算 S-20260929-1"
    assert source_zh("settlement:S-20260929-1:reversed") == "异地结算 S-20260929-1（已撤销）"
    assert source_zh("clearing:N-2026-09") == "清算通知 N-2026-09"
    assert source_zh("interest:I-2026") == "利息分配 I-2026"
    assert source_zh("opening:uncleared") == "上年结转（未清算应付）"
    assert source_zh("3f0c") == "通知书/到账 3f0c"


def test_a_movement_in_words():
    m = Movement(
        seq=7,
        kind=MovementKind.SETTLEMENT,
        debit=LedgerAccount.EXPENSE,
        credit=LedgerAccount.UNCLEARED,
        amount=Decimal("88.10"),
        on=date(2026, 9, 29),
        at=datetime(2026, 9, 29, 2, tzinfo=UTC),
        ref="settlement:S-1:completed",
    )
    row = in_words(m)
    assert (row["kind_zh"], row["debit_zh"], row["credit_zh"], row["source_zh"]) == (
        "异地结算",
        "支出",
        "未清算应付",
        "异地结算 S-1",
    )
    assert "settlement:" not in "".join(str(v) for k, v in row.items() if k.endswith("_zh"))
