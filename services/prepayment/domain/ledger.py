"""The prepayment ledger 预付金台账: movements, never edited, in double entry (P-01..P-10, M-01, M-03).

Every change of money on a region's prepayment account is a ``Movement`` that debits one ledger
account and credits another by a positive amount in yuan with two decimals. An account's balance
on any date is the sum of its movements up to the end of that business day (debits − credits for
the accounts whose normal side is the debit, credits − debits for the others), so any past balance
is a query, and each region's daily balance — the base of the interest products of P-10
(积数法, 004 第二十九条) — comes from the same movements.

**Where the movements live.** One document each in the prepayment database's ``movements``
collection (id ``<account key>:<seq>``; the account key, seq, business date, kind, debit, credit,
amount, ref, receipt time), never edited (M-03), written by idempotent upserts
(``$setOnInsert``, an unordered bulk write) right after the account's write. The account document
keeps only bounded state (``PrepaymentAccount``):

* ``totals``: the running balance of every ledger account and ``seq``, the last movement's number;
  the figures (quota, payables, top-ups) equal these balances (the property test checks both
  against the sum of the archived movements);
* ``prepaid``: the ``prepaid`` balance changes compacted to one entry per business day, for the
  current and the previous year (older days folded into an opening figure) — the P-10 daily
  balances (积数法); a period older than that is read from the archive;
* ``settled``: the settlements' net fund part per month ("YYYY-MM") of the current and previous
  year — the P-02 basis (last year's Q4 as recorded);
* ``recent``: the latest movements (``RECENT_MOVEMENTS``) and always every movement not yet
  known to be archived (seq > ``archived_seq``). A crash between the account's write and the
  archive's loses nothing: before every write the handler upserts again the movements the account
  does not know to be archived, then records them as archived in that same write (a process skips
  the upsert of those it archived itself, so a settlement costs the account's write plus one bulk
  write of its movement);
* ``interests``: the interest ids recorded lately (``services.outcome.remember``), so a share is
  recorded once (P-10).

So a document's size depends on the days and months kept, never on the number of settlements. Any
past balance is a query: the archived movements of the account up to the date (``on <= as_of``,
indexed), with the recent ones not yet archived, summed in Decimal (``balance``). Counting once is
not the ledger's job: ``counted`` and the ``counted`` archive (services/wiring.py ``Archive``) do
it, so a movement is made once per settlement. Accounts stored with the movements inside (and the
shapes before the ledger) still load: their movements become ``recent`` not yet archived, and move
to the archive on the account's next write.

**The chart** (the accounting of 004 第五十四、五十五条 where it names one; memorandum 备查
accounts where the sources keep a figure that is not money, such as the quota):

| account | normal side | what it holds |
|---|---|---|
| ``quota`` / ``quota_granted`` | debit / credit | the quota in force (memorandum pair, P-02/P-03) |
| ``called`` / ``calls`` | debit / credit | notices to pay in (adjustment, emergency top-up) not yet paid (memorandum) |
| ``prepaid`` | debit | 暂付款—异地就医预付款: money paid in and held by the keeper (P-01); interest accrues on it (P-10) |
| ``fund`` | debit | 财政专户存款: the region's fund; payments leave it (it runs negative: a flow, not a bank balance) |
| ``expense`` | debit | 支出类: the fund part of its insureds' settlements elsewhere |
| ``uncleared`` | credit | 未清算的医保基金应支付金额 (P-04) |
| ``cleared_unpaid`` | credit | 已清算但未拨付的医保基金应支付金额 (P-04) |
| ``returns_due`` | debit | money reverse clearing gives back (C-05, 004 第五十一条) |
| ``interest_income`` | credit | 基本医疗保险基金利息收入 (P-10, 004 第二十九条(三)) |
| ``opening`` | credit | the figures of an account stored before the ledger existed, carried in once |
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from runtime.calendar import business_date

ZERO = Decimal("0.00")
# Archived movements an account still keeps (besides every one not yet archived, however many): the
# latest, to look at without the archive. No answer depends on them — a past balance reads the
# archive and adds the unarchived ones — and each costs ~225 bytes on every write of the hot path
# (measured with 5,000 settlements: 256 kept → a 75 KB document, ~1.9 ms to JSON and back per write;
# 32 kept → ~25 KB, ~0.35 ms), so few are kept.
RECENT_MOVEMENTS = 32


class LedgerAccount(StrEnum):
    QUOTA = "quota"
    QUOTA_GRANTED = "quota_granted"
    CALLED = "called"
    CALLS = "calls"
    PREPAID = "prepaid"
    FUND = "fund"
    EXPENSE = "expense"
    UNCLEARED = "uncleared"
    CLEARED_UNPAID = "cleared_unpaid"
    RETURNS_DUE = "returns_due"
    INTEREST_INCOME = "interest_income"
    OPENING = "opening"

    @property
    def debit_normal(self) -> bool:
        return self in _DEBIT_NORMAL


_DEBIT_NORMAL = frozenset(
    {
        LedgerAccount.QUOTA,
        LedgerAccount.CALLED,
        LedgerAccount.PREPAID,
        LedgerAccount.FUND,
        LedgerAccount.EXPENSE,
        LedgerAccount.RETURNS_DUE,
    }
)


class MovementKind(StrEnum):
    """What a movement records, with its rule."""

    QUOTA = "quota"  # P-02 初始额度 (000 第二十四条)
    ADJUSTMENT = "adjustment"  # P-03 年度调整
    ADJUSTMENT_NOTICE = "adjustment_notice"  # P-03/P-09 年度预付金额度调整付款通知书
    ADJUSTMENT_PAYMENT = "adjustment_payment"  # P-08
    TOP_UP_NOTICE = "top_up_notice"  # P-05/P-07 紧急调增付款通知书
    TOP_UP_PAYMENT = "top_up_payment"  # P-08
    NOTICE_PAID = "notice_paid"  # the memorandum call closed by a payment
    SETTLEMENT = "settlement"  # P-04 numerator
    REVERSAL = "reversal"  # S-15
    CLEARING_NOTICE = "clearing_notice"  # C-02/P-04: uncleared → cleared unpaid
    AUDIT_DEDUCTION = "audit_deduction"  # the notice pays less than was settled
    REVERSE_CLEARING_RETURN = "reverse_clearing_return"  # C-05: money coming back
    CLEARING_PAYMENT = "clearing_payment"  # C-03/P-08
    INTEREST = "interest"  # P-10, 004 第二十九条(三): 按预付金本年度追加处理
    PROACTIVE_TOP_UP = "proactive_top_up"  # P-05, 004 第二十四条: 黄色预警时主动追加资金
    RETURN_RECEIVED = "return_received"  # C-05, 004 第五十一条: reverse clearing's money arrived
    OPENING = "opening"  # an account stored before the ledger: its figures carried in
    OPENING_TOP_UPS = "opening_top_ups"  # … and its top-ups of the year


# Which pair each kind moves (debit, credit): the whole chart's rules in one table.
ENTRIES: dict[MovementKind, tuple[LedgerAccount, LedgerAccount]] = {
    MovementKind.QUOTA: (LedgerAccount.QUOTA, LedgerAccount.QUOTA_GRANTED),
    MovementKind.ADJUSTMENT: (LedgerAccount.QUOTA, LedgerAccount.QUOTA_GRANTED),
    MovementKind.ADJUSTMENT_NOTICE: (LedgerAccount.CALLED, LedgerAccount.CALLS),
    MovementKind.TOP_UP_NOTICE: (LedgerAccount.CALLED, LedgerAccount.CALLS),
    MovementKind.NOTICE_PAID: (LedgerAccount.CALLS, LedgerAccount.CALLED),
    MovementKind.ADJUSTMENT_PAYMENT: (LedgerAccount.PREPAID, LedgerAccount.FUND),
    MovementKind.TOP_UP_PAYMENT: (LedgerAccount.PREPAID, LedgerAccount.FUND),
    MovementKind.SETTLEMENT: (LedgerAccount.EXPENSE, LedgerAccount.UNCLEARED),
    MovementKind.REVERSAL: (LedgerAccount.UNCLEARED, LedgerAccount.EXPENSE),
    MovementKind.CLEARING_NOTICE: (LedgerAccount.UNCLEARED, LedgerAccount.CLEARED_UNPAID),
    MovementKind.AUDIT_DEDUCTION: (LedgerAccount.CLEARED_UNPAID, LedgerAccount.EXPENSE),
    MovementKind.REVERSE_CLEARING_RETURN: (LedgerAccount.RETURNS_DUE, LedgerAccount.EXPENSE),
    MovementKind.CLEARING_PAYMENT: (LedgerAccount.CLEARED_UNPAID, LedgerAccount.FUND),
    MovementKind.INTEREST: (LedgerAccount.PREPAID, LedgerAccount.INTEREST_INCOME),
    MovementKind.PROACTIVE_TOP_UP: (LedgerAccount.PREPAID, LedgerAccount.FUND),
    MovementKind.RETURN_RECEIVED: (LedgerAccount.FUND, LedgerAccount.RETURNS_DUE),
}


class Movement(BaseModel):
    """One ledger movement: ``amount`` from ``credit`` to ``debit``, on a business date."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    seq: int = Field(ge=1, description="position in the account's ledger")
    kind: MovementKind
    debit: LedgerAccount
    credit: LedgerAccount
    amount: Decimal = Field(gt=0)
    on: date = Field(description="business date (Asia/Shanghai) it took effect")
    at: AwareDatetime = Field(description="receipt time (business clock)")
    ref: str = Field(min_length=1, description="what caused it: settlement, notice, payment or interest id")
    reversed_sign: bool = Field(
        False,
        description="the kind's pair was swapped because the amount was negative "
        "(e.g. a clearing month whose refunds exceed its settlements)",
    )

    @field_validator("amount")
    @classmethod
    def _fen(cls, value: Decimal) -> Decimal:
        if value != value.quantize(Decimal("0.01")):
            raise ValueError("M-01: a movement is in yuan with two decimals")
        return value.quantize(Decimal("0.01"))

    def signed(self, account: LedgerAccount) -> Decimal:
        """What this movement adds to ``account``'s balance (on its normal side)."""
        if account is self.debit:
            return self.amount if account.debit_normal else -self.amount
        if account is self.credit:
            return -self.amount if account.debit_normal else self.amount
        return ZERO


def movements_for(kind: MovementKind, amount: Decimal, ref: str, now: datetime, start_seq: int) -> list[Movement]:
    """The movement ``kind`` makes for a signed ``amount``: none for 0; for a negative amount the
    kind's pair swapped (a movement's amount is always positive)."""
    if amount == 0:
        return []
    debit, credit = ENTRIES[kind]
    negative = amount < 0
    if negative:
        debit, credit = credit, debit
    return [
        Movement(
            seq=start_seq,
            kind=kind,
            debit=debit,
            credit=credit,
            amount=abs(amount),
            on=business_date(now),
            at=now,
            ref=ref,
            reversed_sign=negative,
        )
    ]


def opening_movements(figures: dict[str, Decimal], at: datetime) -> list[Movement]:
    """The movements that carry in the figures of an account stored before the ledger (quota,
    uncleared, cleared unpaid, top-ups, notices to pay in still open), against ``opening``; its past before ``at`` is unknown."""
    out: list[Movement] = []
    pairs = {
        "quota": (LedgerAccount.QUOTA, LedgerAccount.OPENING, MovementKind.OPENING),
        "uncleared": (LedgerAccount.OPENING, LedgerAccount.UNCLEARED, MovementKind.OPENING),
        "cleared_unpaid": (LedgerAccount.OPENING, LedgerAccount.CLEARED_UNPAID, MovementKind.OPENING),
        "top_ups": (LedgerAccount.PREPAID, LedgerAccount.OPENING, MovementKind.OPENING_TOP_UPS),
        "called": (LedgerAccount.CALLED, LedgerAccount.OPENING, MovementKind.OPENING),
    }
    for name, (debit, credit, kind) in pairs.items():
        amount = Decimal(str(figures.get(name) or "0"))
        if amount:
            if amount < 0:
                debit, credit = credit, debit
            out.append(
                Movement(
                    seq=len(out) + 1,
                    kind=kind,
                    debit=debit,
                    credit=credit,
                    amount=abs(amount),
                    on=business_date(at),
                    at=at,
                    ref=f"opening:{name}",
                    reversed_sign=amount < 0,
                )
            )
    return out


def balance(movements: Iterable[Movement], account: LedgerAccount, on: date | None = None) -> Decimal:
    """``account``'s balance at the end of business day ``on`` (all movements when ``None``)."""
    return sum((m.signed(account) for m in movements if on is None or m.on <= on), ZERO)


def balances(movements: Iterable[Movement], on: date | None = None) -> dict[LedgerAccount, Decimal]:
    """Every account's balance at the end of ``on``; they sum to zero in double entry once the
    credit-normal ones are counted with their sign (``trial_balance``)."""
    items = list(movements)
    return {account: balance(items, account, on) for account in LedgerAccount}


def trial_balance(movements: Iterable[Movement]) -> Decimal:
    """Σ (debit-side balance) over every account, from the accounts' own balances: 0 in double
    entry (试算平衡), whatever the movements."""
    items = list(movements)
    return sum((b if a.debit_normal else -b for a, b in balances(items).items()), ZERO)


def daily_balances(
    movements: Iterable[Movement], account: LedgerAccount, start: date, end: date
) -> dict[date, Decimal]:
    """P-10: ``account``'s balance at the end of each day from ``start`` to ``end`` inclusive
    (the 日末余额 whose sum is the 积数)."""
    items = sorted(movements, key=lambda m: m.on)
    opening = balance((m for m in items if m.on < start), account)
    by_day: dict[date, Decimal] = {}
    for m in items:
        if start <= m.on <= end:
            by_day[m.on] = by_day.get(m.on, ZERO) + m.signed(account)
    out: dict[date, Decimal] = {}
    running, day = opening, start
    while day <= end:
        running += by_day.get(day, ZERO)
        out[day] = running
        day += timedelta(days=1)
    return out


def monthly_settled(movements: Iterable[Movement], year: int) -> dict[int, Decimal]:
    """P-02: the fund part of the region's settlements per month of ``year``, net of their
    reversals, as this service recorded them (the business date of receipt)."""
    out: dict[int, Decimal] = {}
    for m in movements:
        if m.on.year == year and m.kind in (MovementKind.SETTLEMENT, MovementKind.REVERSAL):
            out[m.on.month] = out.get(m.on.month, ZERO) + m.signed(LedgerAccount.EXPENSE)
    return out


def keep_recent(recent: Iterable[Movement], archived_seq: int, keep: int = RECENT_MOVEMENTS) -> tuple[Movement, ...]:
    """The latest ``keep`` movements and every one not yet archived (seq > ``archived_seq``)."""
    items = tuple(recent)
    cut = max(len(items) - keep, 0)
    return tuple(m for i, m in enumerate(items) if i >= cut or m.seq > archived_seq)


class DailyChanges(BaseModel):
    """An account's balance changes compacted to one entry per business day from ``since`` on
    (all days when ``None``); ``before`` is the balance at the end of the day before ``since``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    before: Decimal = ZERO
    since: date | None = None
    changes: dict[date, Decimal] = Field(default_factory=dict)

    def covers(self, start: date) -> bool:
        return self.since is None or start >= self.since

    def add(self, on: date, amount: Decimal) -> DailyChanges:
        """``amount`` changed the balance on ``on``; days before the previous year are folded."""
        cutoff = date(on.year - 1, 1, 1)
        before, since, changes = self.before, self.since, dict(self.changes)
        if since is not None and on < since:
            before += amount
        else:
            changes[on] = changes.get(on, ZERO) + amount
        old = [d for d in changes if d < cutoff]
        if old:
            before += sum((changes.pop(d) for d in old), ZERO)
            since = max(since or cutoff, cutoff)
        return DailyChanges(before=before, since=since, changes=changes)

    def balances(self, start: date, end: date) -> dict[date, Decimal]:
        """The end-of-day balances from ``start`` to ``end`` (``covers(start)`` must hold)."""
        if not self.covers(start):
            raise ValueError(f"daily balances before {self.since} are in the archive")
        running = self.before + sum((v for d, v in self.changes.items() if d < start), ZERO)
        out: dict[date, Decimal] = {}
        day = start
        while day <= end:
            running += self.changes.get(day, ZERO)
            out[day] = running
            day += timedelta(days=1)
        return out
