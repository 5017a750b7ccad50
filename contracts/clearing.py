"""Clearing 清算 contracts (C-01..C-05, R-04/R-05): the monthly ledger of one insured region
towards one treating region, its generation, confirmation and the receivable/payable notices.

Every topic is keyed by the insured region (the payer), except notices, keyed by the region the
notice is for; either way one region's clearing facts stay in order.

(Over 300 lines on purpose: clearing's messages are one family (ledgers, periods, notices, reconciliation, reports) that an adapter reads together; the field descriptions are most of it.)
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, model_validator

from contracts.envelope import Contract
from contracts.settlement_values import FUNDS_BY_INSURANCE, FundCode
from contracts.topics import TopicSpec
from contracts.values import InstitutionCode, InsuranceType, MedicalType, Money, NonNegativeMoney, RegionCode

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Month = Annotated[str, Field(pattern=MONTH_PATTERN)]
"""A month, YYYY-MM: a clearing period 清算月份, or the month settlements were made in."""


Fund = FundCode
"""The funds of the clearing tables are those of the settlement slip (S-06; 000 附件15-2 / 15-3)."""
FUNDS_BY_TYPE = FUNDS_BY_INSURANCE
"""Columns of 附件15-2 (employee) and 附件15-3 (resident)."""


class EntryKind(StrEnum):
    SETTLEMENT = "settlement"  # a completed settlement: payable
    REFUND = "refund"  # cancellation / refund, after clearing too (S-15): negative
    AUDIT_DEDUCTION = "audit_deduction"  # 审核扣款 and 补扣: shown separately


class PeriodConfirmedBy(StrEnum):
    PROVINCE = "province"  # explicit confirmation
    SILENCE = "silence"  # not confirmed by the 25th counts as confirmed (C-02)
    RESOLUTION = "resolution"  # an objection resolved after the 25th confirms the side it held (004 第四十六条)


class ClearingSide(StrEnum):
    """The side of a pair's period a confirmation binds (C-02). Each side confirms its own figures
    (004 第四十六条): the insured place its payable 清算应付, the treating place its receivable 清算应收."""

    INSURED = "insured"
    TREATING = "treating"

    @property
    def region_field(self) -> str:
        """The payload field naming this side's region."""
        return f"{self.value}_region"


class FundAmounts(Contract):
    """Amounts of one entry per fund, for one insurance type."""

    insurance_type: InsuranceType
    funds: dict[Fund, NonNegativeMoney] = Field(examples=[{"pooling": "1234.50", "personal_account": "100.00"}])

    @model_validator(mode="after")
    def _funds_of_type(self) -> FundAmounts:
        wrong = sorted(f.value for f in self.funds if f not in FUNDS_BY_TYPE[self.insurance_type])
        if wrong:
            raise ValueError(f"funds {wrong} do not belong to insurance type {self.insurance_type.value}")
        return self


class _PairPeriod(Contract):
    """The fields a fact about one pair's clearing period opens with (C-02)."""

    clearing_month: Month
    insured_region: RegionCode
    treating_region: RegionCode


# ---------------------------------------------------------------- commands
class RecordAuditDeduction(Contract):
    """R-04/R-05: the treating place's audit refuses part of a settlement's fund payment."""

    deduction_id: str = Field(min_length=1)
    settlement_id: str = Field(min_length=1)
    insured_region: RegionCode
    treating_region: RegionCode
    amounts: FundAmounts = Field(
        description="what the audit refuses per fund; for a correction, the corrected "
        "amounts in full (they replace those of the record corrected)"
    )
    reason: str = Field(min_length=1)
    decided_at: AwareDatetime = Field(
        description="when the treating place confirmed the result (R-04); the "
        "receipt time decides the period: by the 16th → this month's "
        "21st run, later → next month's"
    )
    corrects: str | None = Field(
        None,
        min_length=1,
        description=(
            "M-03/004 第四十一条: the deduction_id of an earlier deduction of the same settlement that this record "
            "corrects (a new record; nothing is deleted). Less than before is a pay-back 补支, more a 补扣 (R-05)"
        ),
    )


class ConfirmClearingPeriod(Contract):
    """C-02: one side of a generated period confirms it (by the 25th); the sender must speak for
    that side's region. The period is confirmed once both sides are (or by silence)."""

    clearing_month: Month = Field(examples=["2026-10"])
    insured_region: RegionCode
    treating_region: RegionCode
    side: ClearingSide = Field(
        ClearingSide.INSURED,
        description=(
            "the side this confirmation binds (004 第四十六条): 'insured' = the insured region confirms its payable, "
            "'treating' = the treating region its receivable. Optional so that senders from before the field still "
            "validate; absent, it is the payer's (insured) confirmation, as the topic is keyed by the payer"
        ),
    )
    confirmed_at: AwareDatetime


class ObjectionOutcome(StrEnum):
    """How the coordinating level settles an objection (004 第四十六条: 沟通…协调解决)."""

    UPHELD = "upheld"  # the figures were wrong: corrected by a deduction or correction
    DISMISSED = "dismissed"  # the figures stand


class ObjectClearingPeriod(Contract):
    """C-02 (004 第四十六条 "如有确认不通过的"): one side of a generated period does not confirm it, with its
    reasons, by the 25th (receipt time). While open it holds that side: no confirmation, explicit or silent."""

    objection_id: str = Field(min_length=1, max_length=64, examples=["OBJ-2026-10-340200-01"])
    clearing_month: Month = Field(examples=["2026-10"])
    insured_region: RegionCode
    treating_region: RegionCode
    side: ClearingSide = Field(description="the side that objects: insured (its payable) or treating (its receivable)")
    reasons: list[str] = Field(min_length=1, max_length=20, examples=[["H42010200001 的 2026-09-03 结算未对账"]])
    objected_at: AwareDatetime


class ResolveClearingObjection(Contract):
    """C-02: the level that coordinates the pair (the national agency across provinces, the province within
    one: 004 第四十六条) resolves an open objection; the side may then confirm (after the 25th: confirmed by the
    resolution)."""

    objection_id: str = Field(min_length=1, max_length=64)
    clearing_month: Month
    insured_region: RegionCode
    treating_region: RegionCode
    outcome: ObjectionOutcome
    resolution: str = Field(min_length=1, max_length=2000, examples=["就医地已补传结算数据，差额纳入下期补扣补支"])
    resolved_at: AwareDatetime


class ObjectionView(Contract):
    """An objection as recorded on its period (open until resolved)."""

    objection_id: str
    side: ClearingSide
    objector: str = Field(description="the registry code of the agency that objected")
    reasons: list[str]
    received_at: AwareDatetime
    outcome: ObjectionOutcome | None = None
    resolution: str | None = None
    resolver: str | None = None
    resolved_at: AwareDatetime | None = None


class ClearingObjectionRecorded(_PairPeriod):
    """C-02: an objection accepted (received by the 25th); the objector and the coordinating level hear it."""

    objection: ObjectionView
    coordinator_region: RegionCode | None = Field(
        None,
        description=(
            "who resolves it: the province of both regions within one; null: the national level (across provinces)"
        ),
    )


class ClearingObjectionResolved(_PairPeriod):
    """C-02: the outcome of an objection, to the objector (keyed like every period fact, by the payer)."""

    objection: ObjectionView
    side_confirmed: bool = Field(description="the resolution confirmed the side (resolved after the 25th)")


# ---------------------------------------------------------------- events
class ClearingEntryRecorded(Contract):
    entry_id: uuid.UUID
    clearing_month: Month
    insured_region: RegionCode
    treating_region: RegionCode
    settlement_id: str
    kind: EntryKind
    amounts: FundAmounts
    signed_total: Money = Field(
        description="what the line adds to the settled amount (refunds negative); "
        "for deductions, what it adds to the deducted amount (a correction: "
        "its amounts minus those it replaces, negative for a pay-back)"
    )
    recorded_at: AwareDatetime
    corrects: str | None = Field(None, description="deductions: the deduction_id this record corrects (M-03)")
    replaces: FundAmounts | None = Field(None, description="deductions: the amounts of the corrected record")
    after_year_close: bool = Field(
        False,
        description=(
            "C-06 (000 第七十条): a settlement or refund of year Y cleared after the first quarter of Y+1 (in a clearing "
            "month after Y+1-03); recorded all the same, and counted"
        ),
    )


class FundTotal(Contract):
    """One cell row of the clearing tables: settled, deducted and net of one fund."""

    insurance_type: InsuranceType
    fund: Fund
    settled: Money = Field(description="settlements minus refunds")
    deducted: Money = Field(description="audit deductions 审核扣款")
    net: Money = Field(description="settled − deducted")


class ClearingPeriodGenerated(_PairPeriod):
    """C-02/C-04: the period's figures of one pair, generated on the 21st."""

    totals: list[FundTotal]
    settled_total: Money
    deducted_total: Money
    net_total: Money = Field(description="payable by the insured region; negative: reverse clearing (C-05)")
    entry_count: int
    confirm_by: AwareDatetime
    generated_at: AwareDatetime


class ClearingPeriodConfirmed(_PairPeriod):
    """C-02: one side's confirmation, explicit or by silence; the period is confirmed when no side is
    pending. Events from before sides were confirmed apart have no side and confirm the whole period."""

    by: PeriodConfirmedBy
    side: ClearingSide | None = Field(None, description="the side confirmed; null: the whole period")
    pending_sides: list[ClearingSide] = Field(
        default_factory=list, description=("sides still to confirm after this one; empty: the period is confirmed")
    )
    confirmed_at: AwareDatetime


class CounterpartAmounts(Contract):
    """One line of a notice: what this region pays to, or receives from, one counterpart.

    ``direction`` and ``net`` are the pair's as cleared (payable: the region is the insured side, net
    payable by it, negative in reverse clearing); ``owed``, ``amount`` and ``reverse_clearing`` are how the
    money moves (C-05, 004 第五十一条): a negative net is a receivable of the insured side (on its 收款通知书)
    and a payable of the treating side (on its 付款通知书), marked * beside the counterpart's name."""

    counterpart_region: RegionCode
    direction: str = Field(
        pattern="^(payable|receivable)$",
        description="the region's side of the pair: payable = insured side, receivable = treating side",
    )
    cross_province: bool
    totals: list[FundTotal]
    settled: Money
    deducted: Money
    net: Money = Field(description="settled − deducted, payable by the insured side (negative: reverse clearing)")
    owed: str | None = Field(
        None,
        pattern="^(payable|receivable)$",
        description=("C-05: which way the money moves for this region; null only on notices from before the field"),
    )
    amount: NonNegativeMoney | None = Field(None, description="C-05: |net|, what moves in ``owed``")
    reverse_clearing: bool = Field(False, description="C-05 反向清算: marked * beside the counterpart's name")


class ClearingNoticeIssued(Contract):
    """C-02/C-03/C-04: month-end receivable/payable notice 收付款通知书 of one region."""

    notice_id: uuid.UUID
    clearing_month: Month
    region: RegionCode = Field(description="the region the notice is for")
    counterparts: list[CounterpartAmounts]
    payable_total: Money = Field(description="C-05: what the region owes (the ``amount`` of its lines owed payable)")
    receivable_total: Money = Field(description="C-05: what is owed to it (lines owed receivable, reverse included)")
    net_payable: Money = Field(description="payable − receivable; negative means money comes in")
    issued_at: AwareDatetime
    submit_to_finance_by: AwareDatetime = Field(description="C-03: 5 working days after the notice")
    transfer_by: AwareDatetime = Field(description="C-03: finance transfers within 10 working days")
    receipt_feedback_by: AwareDatetime = Field(description="C-03: receipt fed back within 5 working days")
    institutions_paid_by: AwareDatetime = Field(description="C-07: 20 working days after the notice")
    calendar: str = Field(description="working calendar used (M-02)")


class ReportRow(Contract):
    """One line of a clearing table: a counterpart region (none on the total line 合计) and its amounts,
    in the order of the table's columns after 地区."""

    region: RegionCode | None = Field(None, description="the counterpart; null on the total line")
    label: str = Field(description="地区 as printed: the region's name (with * in reverse clearing), or 合  计")
    values: list[Money]
    reverse_clearing: bool = Field(
        False,
        description=(
            "C-05 (004 第五十一条): money coming back, listed on the other side's table with * beside the name"
        ),
    )


class ReportTable(Contract):
    """C-04: one table of 000 附件15-1..15-6 / 16-1 for one region, month and scope. Its last row is the
    total line, equal to the sum of the lines above it, column by column (M-01)."""

    code: str = Field(description="the source's number, e.g. 附件15-2", examples=["附件15-2"])
    title: str = Field(examples=["芜湖市跨省异地就医职工医保基金应付明细表"])
    columns: list[str] = Field(description="headings as in the source; the first is 地区")
    rows: list[ReportRow]

    @model_validator(mode="after")
    def _sums(self) -> ReportTable:
        if not self.rows or self.rows[-1].region is not None:
            raise ValueError("the last row of a clearing table is its total line")
        width = len(self.columns) - 1
        if any(len(row.values) != width for row in self.rows):
            raise ValueError(f"every row has {width} values (the columns after 地区)")
        sums = [sum((row.values[i] for row in self.rows[:-1]), Decimal("0.00")) for i in range(width)]
        if sums != list(self.rows[-1].values):
            raise ValueError(f"M-01: the total line {self.rows[-1].values} is not the sum of the lines {sums}")
        return self


class ClearingReportIssued(Contract):
    """C-04 (000 附件15-1..15-6, 16-1): the month's clearing tables of one region and scope, issued with its
    notice; receivable and payable per counterpart, employee and resident, per fund, audit deductions apart."""

    report_id: uuid.UUID
    clearing_month: Month
    region: RegionCode
    scope: str = Field(
        pattern="^(cross_province|intra_province)$",
        description=("C-01: cross-province (跨省) and intra-province (省内) are reported apart"),
    )
    tables: list[ReportTable]
    issued_at: AwareDatetime


class Obligation(StrEnum):
    """What a region must do after its month-end notice, in order (C-03, 000 第六十四条; C-07, 第六十九条)."""

    SUBMITTED_TO_FINANCE = "submitted_to_finance"  # 5 working days after the notice
    TRANSFERRED = "transferred"  # finance: 10 working days after the submission
    RECEIPT_FED_BACK = "receipt_fed_back"  # 5 working days after the transfer
    INSTITUTIONS_PAID = "institutions_paid"  # C-07: 20 working days after the notice


class RecordClearingObligation(Contract):
    """C-03/C-07: the region's agency records that it did one step of its notice's obligations."""

    region: RegionCode = Field(description="the region of the notice")
    clearing_month: Month
    obligation: Obligation
    done_at: AwareDatetime = Field(description="claimed; the receipt time decides whether it was in time")


class ClearingObligationRecorded(Contract):
    region: RegionCode
    clearing_month: Month
    obligation: Obligation
    done_at: AwareDatetime
    recorded_at: AwareDatetime = Field(description="receipt time: what the due date is measured against")
    due_at: AwareDatetime
    late: bool = Field(description="recorded after its due time (its breach was published then)")
    rule: str


class ClearingObligationBreached(Contract):
    """C-03/C-07: a step not recorded by its due time, published when it falls due (for P-09 sanctions)."""

    breach_id: uuid.UUID
    region: RegionCode
    clearing_month: Month
    obligation: Obligation
    due_at: AwareDatetime
    breached_at: AwareDatetime
    notice_id: uuid.UUID
    rule: str
    calendar: str = Field(description="working calendar used (M-02)")


class DailyTotalLine(Contract):
    """R-01/R-02: one medical type's part of an institution's day: how many settlements, and what each fund paid."""

    medical_type: MedicalType
    settlements: int = Field(ge=0, le=1_000_000)
    funds: dict[Fund, NonNegativeMoney] = Field(
        default_factory=dict, examples=[{"pooling": "1000.00", "personal_account": "200.00"}]
    )


class DailyReconciliation(Contract):
    """R-01/R-02 (000 第五十四、五十五条): an institution's totals of one day's cross-region settlements
    (completed that Asia/Shanghai day, refunds not netted), for the platform to match against the treating
    place's and the insured place's records of the same day."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    day: date
    settlements: int = Field(ge=0, le=1_000_000, description="number of settlements completed that day")
    fund_total: NonNegativeMoney = Field(description="基金支付 of those settlements (personal account included)")
    lines: list[DailyTotalLine] = Field(
        default_factory=list,
        max_length=4,
        description=(
            "R-01: the same totals per medical type and fund (at most one line per type). Optional so that senders "
            "from before the field still validate; given, the lines must add up to settlements and fund_total, and "
            "they are matched cell by cell"
        ),
    )
    sent_at: AwareDatetime

    @model_validator(mode="after")
    def _lines_add_up(self) -> DailyReconciliation:
        if not self.lines:
            return self
        types = [line.medical_type for line in self.lines]
        if len(set(types)) != len(types):
            raise ValueError("one line per medical type")
        count = sum(line.settlements for line in self.lines)
        amount = sum((a for line in self.lines for a in line.funds.values()), Decimal("0.00"))
        if (count, amount) != (self.settlements, self.fund_total):
            raise ValueError(
                f"the lines add up to {count} settlements and {amount}, not {self.settlements} and {self.fund_total}"
            )
        return self


class InsuredDailyTotals(Contract):
    """R-01 (000 第五十四条): the insured place's record of one day's settlements of its insured at one
    institution (参保地每日完成当日结算信息对账), the third party of the daily reconciliation."""

    insured_region: RegionCode
    institution_code: InstitutionCode
    treating_region: RegionCode
    day: date
    lines: list[DailyTotalLine] = Field(max_length=4, description="per medical type; no line: none that day")
    sent_at: AwareDatetime


class MismatchLine(Contract):
    """R-01/R-02: one cell of an institution's day where the records differ, with the settlements in it."""

    medical_type: MedicalType | None = Field(None, description="null: all medical types (totals without lines)")
    fund: Fund | None = Field(None, description="null on a count line")
    measure: str = Field(pattern="^(settlements|amount)$", description="settlements: a count; amount: yuan")
    his: Decimal = Field(description="what the institution's HIS reported")
    treating: Decimal = Field(description="the treating place's record: the settlements clearing received")
    insured: Decimal | None = Field(None, description="the insured places' record, when they reported the day")
    settlement_ids: list[str] = Field(
        default_factory=list,
        description=("the treating place's settlements in this cell (at most 500; settlement_count says how many)"),
    )
    settlement_count: int = 0


class DeclaredLine(Contract):
    medical_type: MedicalType
    settlements: int = Field(ge=0)
    fund_total: NonNegativeMoney


class MonthlyDeclaration(Contract):
    """R-03 (000 第五十六条): an institution declares last month's reconciled settlements by the 16th, inpatient,
    general and chronic outpatient together (a pharmacy: its purchases); at most two months late."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    month: Month = Field(description="the month the settlements were made in")
    lines: list[DeclaredLine] = Field(min_length=1, max_length=4)
    declared_at: AwareDatetime


class DeclarationRecorded(Contract):
    """R-03: a declaration accepted (on time or late), each line beside the platform's own count."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    month: Month
    late: bool = Field(description="received after the end of the 16th of the next month")
    due_by: AwareDatetime
    latest_by: AwareDatetime = Field(description="the end of the 16th two months after due_by's month")
    lines: list[DeclaredLine]
    platform: list[DeclaredLine] = Field(description="what clearing archived for the institution that month")
    matched: bool
    version: int = Field(description="1 for the first declaration; a new record replaces it (M-03)")
    recorded_at: AwareDatetime


class ReconciliationStatus(StrEnum):
    MATCHED = "matched"
    MISMATCHED = "mismatched"  # to be resolved within 5 working days
    RESOLVED = "resolved"  # matched after a mismatch
    OVERDUE = "overdue"  # still mismatched when its 5 working days ran out


class ReconciliationChecked(Contract):
    """R-02: the result of one check of an institution's day (on its HIS's totals, or at the due time)."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    day: date
    status: ReconciliationStatus
    his_settlements: int
    his_fund_total: Money
    platform_settlements: int
    platform_fund_total: Money
    resolve_by: AwareDatetime | None = Field(None, description="R-02: 5 working days after the first mismatch")
    checked_at: AwareDatetime
    calendar: str = ""
    lines: list[MismatchLine] = Field(default_factory=list, description="R-01: the cells that differ, line by line")


# ---------------------------------------------------------------- query answers (GET /clearing/…)
class PeriodSide(Contract):
    """One side of a pair's period: its region, how it confirmed, its objections (C-02)."""

    side: ClearingSide
    region: RegionCode
    confirmed: PeriodConfirmedBy | None = Field(None, description="null: not confirmed yet")
    objections: list[ObjectionView] = Field(default_factory=list)


class PeriodCounterpart(Contract):
    """One pair's ledger in a region's period, seen from that region (C-04)."""

    insured_region: RegionCode
    treating_region: RegionCode
    counterpart_region: RegionCode
    direction: str = Field(
        pattern="^(payable|receivable)$",
        description=(
            "what the line is to the asking region after C-05: a payer's negative net is a receivable (reverse)"
        ),
    )
    reverse_clearing: bool = Field(False, description="C-05 反向清算 (004 第五十一条: marked * beside the name)")
    status: str = Field(pattern="^(open|generated|confirmed)$")
    entry_count: int
    settled: Money
    deducted: Money
    net: Money = Field(description="settled − deducted, payable by the insured region (negative: reverse)")
    amount: NonNegativeMoney = Field(description="|net|: what moves in ``direction``")
    sides: list[PeriodSide]


class PeriodDeadlines(Contract):
    """The period's dates (C-02) and, from its notice, the money's (C-03, C-07)."""

    generation_at: AwareDatetime
    confirm_by: AwareDatetime
    notice_at: AwareDatetime
    submit_to_finance_by: AwareDatetime
    transfer_by: AwareDatetime
    receipt_feedback_by: AwareDatetime
    institutions_paid_by: AwareDatetime
    calendar: str = Field(description="working calendar used (M-02)")


class ObligationState(Contract):
    """C-03/C-07: a step after the notice: due, done (receipt time) or breached."""

    obligation: Obligation
    due_at: AwareDatetime | None = Field(None, description="null: not armed yet (the step before is not done)")
    done_at: AwareDatetime | None = None
    breached: bool = False


class ClearingPeriodView(Contract):
    """A region's clearing period of one month and scope, as the agencies' console shows it."""

    region: RegionCode
    clearing_month: Month
    scope: str = Field(pattern="^(cross_province|intra_province)$")
    state: str = Field(
        pattern="^(open|generated|confirmed|notified)$",
        description=(
            "open: taking entries until the 21st; generated: to be confirmed by the 25th; confirmed: every side "
            "confirmed; notified: the month-end notice issued"
        ),
    )
    deadlines: PeriodDeadlines
    payable_total: NonNegativeMoney
    receivable_total: NonNegativeMoney
    net_payable: Money = Field(description="payable − receivable")
    counterparts: list[PeriodCounterpart]
    obligations: list[ObligationState] = Field(default_factory=list, description="empty before the notice")


class ClearingPeriodsAnswer(Contract):
    """``GET /clearing/periods``: every period of the region, newest month first."""

    region: RegionCode
    as_of: AwareDatetime
    periods: list[ClearingPeriodView]


class ReconciliationMismatch(Contract):
    """R-01/R-02: one institution's day that did not match, line by line, until resolved."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    day: date
    status: ReconciliationStatus
    resolve_by: AwareDatetime | None = Field(None, description="R-02: 5 working days after the first mismatch")
    overdue: bool
    insured_regions: list[RegionCode] = Field(description="the insured regions of the settlements involved")
    lines: list[MismatchLine] = Field(description="the cells that differ (empty once resolved)")
    last_mismatch: list[MismatchLine] = Field(default_factory=list, description="the cells as they last differed")
    checked_at: AwareDatetime | None = None


class MismatchesAnswer(Contract):
    """``GET /clearing/mismatches``: the region's reconciliation mismatches, oldest day first."""

    region: RegionCode
    status: str = Field(pattern="^(open|resolved|all)$")
    as_of: AwareDatetime
    mismatches: list[ReconciliationMismatch]


class UnreconciledDay(Contract):
    """R-01: an institution's day of the month not reconciled when the month closed."""

    institution_code: InstitutionCode
    day: date
    status: ReconciliationStatus | None = Field(None, description="null: its HIS never sent the day's totals")
    resolve_by: AwareDatetime | None = None


class ReconciliationMonthClosed(Contract):
    """R-01 (000 第五十四条 "每月3日前作为参保地完成上月所有结算费用的对账"): an insured region's reconciliation of
    last month, closed at the end of the 3rd: every institution-day with settlements of its insured, and those
    still open (mismatched, overdue or never reported by the HIS)."""

    insured_region: RegionCode
    month: Month = Field(description="the month the settlements were made in")
    due_by: AwareDatetime = Field(description="the end of the 3rd of the next month")
    closed_at: AwareDatetime
    institution_days: int = Field(ge=0)
    reconciled: int = Field(ge=0, description="institution-days matched or resolved")
    open: list[UnreconciledDay]
    complete: bool = Field(description="every institution-day reconciled")


# ---------------------------------------------------------------- an institution's money (R-01..R-04, C-07)
class AppealOutcome(StrEnum):
    """How the treating place answers an appeal 申诉 of an audit deduction (R-04)."""

    UPHELD = "upheld"  # the deduction stands (维持扣款)
    WITHDRAWN = "withdrawn"  # the deduction is withdrawn (撤销扣款): paid back to the institution (R-05 补支)


class AppealDeduction(Contract):
    """R-04 (申诉): an institution appeals an audit deduction of one of its own settlements, with its reason.
    The deduction named must be the record in force (not corrected by a later one); one appeal per record.
    The seeds fix no appeal deadline, so none is applied."""

    appeal_id: str = Field(min_length=1, max_length=64, examples=["AP-H42010200001-0001"])
    institution_code: InstitutionCode = Field(
        description="the appealing institution: it must have signed the "
        "command and the deduction's settlement must be its own"
    )
    treating_region: RegionCode
    settlement_id: str = Field(min_length=1, max_length=128)
    deduction_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=2000, description="申诉理由 (no personal data: name no patient)")
    appealed_at: AwareDatetime


class AnswerDeductionAppeal(Contract):
    """R-04: the treating place's agency (or its province, the national level) answers an appeal: the
    deduction is upheld, or withdrawn — then paid back in the deduction's own period if it is not generated
    yet, else in the first period not yet generated (R-05 补支)."""

    appeal_id: str = Field(min_length=1, max_length=64)
    institution_code: InstitutionCode
    treating_region: RegionCode
    settlement_id: str = Field(min_length=1, max_length=128)
    deduction_id: str = Field(min_length=1, max_length=128)
    outcome: AppealOutcome
    reason: str = Field(min_length=1, max_length=2000, examples=["经复核，该项目符合限定支付范围，撤销扣款"])
    answered_at: AwareDatetime


class AppealStatus(StrEnum):
    LODGED = "lodged"  # 已申诉, waiting for the answer
    UPHELD = "upheld"
    WITHDRAWN = "withdrawn"


class DeductionAppealRecorded(Contract):
    """R-04: an appeal accepted (lodged) or answered (keyed by the institution's code). The institution reads its
    own in ``GET /clearing/institution/owed`` (sealed to it), as this topic is not sealed per institution."""

    appeal_id: str
    institution_code: InstitutionCode
    treating_region: RegionCode
    insured_region: RegionCode
    settlement_id: str
    deduction_id: str
    status: AppealStatus
    deducted: FundAmounts = Field(description="what the appealed deduction took, per fund")
    reason: str = Field(description="the institution's reason")
    answer: str | None = Field(None, description="the agency's reason, once answered")
    paid_back_in: Month | None = Field(None, description="withdrawn: the clearing month the pay-back enters")
    recorded_at: AwareDatetime


class DayReconciliation(StrEnum):
    """R-01/R-02: where an institution's day stands."""

    MATCHED = "matched"
    MISMATCHED = "mismatched"
    RESOLVED = "resolved"
    OVERDUE = "overdue"
    NOT_RECONCILED = "not_reconciled"  # its HIS has not sent the day's totals


class InstitutionDay(Contract):
    """One day of an institution's cross-region settlements as clearing archived them, and its reconciliation."""

    day: date
    settlements: int = Field(ge=0)
    total: Money | None = Field(None, description="医疗费总额; null if a line was archived before totals were kept")
    fund: Money = Field(description="基金支付 (the funds' amounts, personal account included)")
    personal_cash: Money | None = Field(None, description="个人现金支付; null as for total")
    reconciliation: DayReconciliation
    resolve_by: AwareDatetime | None = Field(None, description="R-02: when a mismatch must be resolved")


class InstitutionSettlementsAnswer(Contract):
    """``GET /clearing/institution/settlements``: an institution's settlements of a month, by day."""

    institution_code: InstitutionCode
    month: Month = Field(description="the month the settlements were made in")
    as_of: AwareDatetime
    days: list[InstitutionDay]
    settlements: int
    total: Money | None
    fund: Money
    personal_cash: Money | None


class OwedDeduction(Contract):
    """One audit deduction line of the clearing month (or the pay-back of one withdrawn on appeal)."""

    deduction_id: str
    settlement_id: str
    amount: Money = Field(description="what the line takes from the amount owed (negative: a pay-back 补支)")
    reason: str = Field(description="the audit's reason (empty for lines archived before reasons were kept)")
    rule: str = Field(description="R-04 a deduction; R-05 a correction or pay-back")
    corrects: str | None = Field(None, description="the deduction this record corrects or withdraws")
    appeal: DeductionAppealRecorded | None = Field(None, description="the appeal of this deduction, if any")


class InstitutionPayment(Contract):
    """C-07 (000 第六十九条): the city pays its institutions within 20 working days of the clearing notice.
    Clearing records the city's payment of its institutions as one step, not institution by institution."""

    notice_issued_at: AwareDatetime | None = Field(None, description="null: the month's notice not issued yet")
    pay_by: AwareDatetime | None = None
    paid_recorded_at: AwareDatetime | None = Field(None, description="when the agency recorded the payment")
    breached: bool = False


class InstitutionOwedAnswer(Contract):
    """``GET /clearing/institution/owed``: what the treating place owes an institution for a clearing month:
    its settlements' fund amounts, less refunds and the audit deductions the month carries (M-01: to the fen)."""

    institution_code: InstitutionCode
    treating_region: RegionCode
    clearing_month: Month
    as_of: AwareDatetime
    settled: Money = Field(description="the funds' amounts of its settlements cleared this month")
    refunded: Money = Field(description="the funds' amounts of refunds and cancellations cleared this month")
    deductions: list[OwedDeduction]
    deducted: Money = Field(description="Σ deductions' amounts")
    net_owed: Money = Field(description="settled − refunded − deducted")
    payment: InstitutionPayment


class AppealsAnswer(Contract):
    """``GET /clearing/appeals``: the appeals of a treating region's institutions (for its agency)."""

    region: RegionCode
    status: str = Field(pattern="^(open|all)$")
    as_of: AwareDatetime
    appeals: list[DeductionAppealRecorded]


def _institution(payload: object) -> str:
    return str(payload.institution_code)  # type: ignore[attr-defined]


def _insured(payload: object) -> str:
    return str(payload.insured_region)  # type: ignore[attr-defined]


def _notice_region(payload: object) -> str:
    return str(payload.region)  # type: ignore[attr-defined]


_KEY_DOC = "insured_region: one payer's clearing facts stay in order"

TOPICS: list[TopicSpec] = [
    TopicSpec(
        "clearing.record-audit-deduction.v1",
        RecordAuditDeduction,
        _insured,
        _KEY_DOC,
        "agency",
        ("clearing", "supervision"),
        kind="command",
        description="R-04/R-05 audit deductions (supervision closes the flag a deduction was made from)",
    ),
    TopicSpec(
        "clearing.confirm-period.v1",
        ConfirmClearingPeriod,
        _insured,
        _KEY_DOC,
        "agency",
        ("clearing",),
        kind="command",
        description="C-02 confirmation of one side (insured: payable, treating: receivable)",
    ),
    TopicSpec(
        "clearing.object-period.v1",
        ObjectClearingPeriod,
        _insured,
        _KEY_DOC,
        "agency",
        ("clearing",),
        kind="command",
        description="C-02 one side does not confirm a period, with its reasons (by the 25th)",
    ),
    TopicSpec(
        "clearing.resolve-objection.v1",
        ResolveClearingObjection,
        _insured,
        _KEY_DOC,
        "agency",
        ("clearing",),
        kind="command",
        description="C-02 the coordinating level resolves an objection",
    ),
    TopicSpec(
        "clearing.objection-recorded.v1",
        ClearingObjectionRecorded,
        _insured,
        _KEY_DOC,
        "clearing",
        (),
        description="C-02 an objection accepted; the side is held until it is resolved",
    ),
    TopicSpec(
        "clearing.objection-resolved.v1",
        ClearingObjectionResolved,
        _insured,
        _KEY_DOC,
        "clearing",
        (),
        description="C-02 an objection's outcome, to the objector",
    ),
    TopicSpec(
        "clearing.insured-daily-totals.v1",
        InsuredDailyTotals,
        _institution,
        "institution_code: one hospital's days stay in order",
        "agency",
        ("clearing",),
        kind="command",
        description="R-01 the insured place's record of a day at one institution (three-party reconciliation)",
    ),
    TopicSpec(
        "clearing.entry.v1", ClearingEntryRecorded, _insured, _KEY_DOC, "clearing", (), description="C-04 ledger lines"
    ),
    TopicSpec(
        "clearing.period-generated.v1",
        ClearingPeriodGenerated,
        _insured,
        _KEY_DOC,
        "clearing",
        (),
        description="C-02 the 21st's generation per pair",
    ),
    TopicSpec(
        "clearing.period-confirmed.v1",
        ClearingPeriodConfirmed,
        _insured,
        _KEY_DOC,
        "clearing",
        (),
        description="C-02 a side confirmed, explicitly or by silence",
    ),
    TopicSpec(
        "clearing.record-obligation.v1",
        RecordClearingObligation,
        _notice_region,
        "region of the notice",
        "agency",
        ("clearing",),
        kind="command",
        description="C-03/C-07 a step after a notice: submitted to finance, transferred, receipt fed back, "
        "institutions paid",
    ),
    TopicSpec(
        "clearing.obligation-recorded.v1",
        ClearingObligationRecorded,
        _notice_region,
        "region of the notice",
        "clearing",
        (),
        description="C-03/C-07 a step recorded, in time or late",
    ),
    TopicSpec(
        "clearing.obligation-breached.v1",
        ClearingObligationBreached,
        _notice_region,
        "region of the notice",
        "clearing",
        ("prepayment",),
        description="C-03/C-07 a step not done by its due time (for P-09 sanctions)",
    ),
    TopicSpec(
        "his.daily-reconciliation.v1",
        DailyReconciliation,
        _institution,
        "institution_code: one hospital's days stay in order",
        "his",
        ("clearing",),
        kind="command",
        description="R-02 an institution's daily totals, matched against the settlements clearing saw",
    ),
    TopicSpec(
        "clearing.reconciliation.v1",
        ReconciliationChecked,
        _institution,
        "institution_code",
        "clearing",
        (),
        description="R-02 matched, mismatched (due in 5 working days), resolved or overdue",
    ),
    TopicSpec(
        "clearing.reconciliation-closed.v1",
        ReconciliationMonthClosed,
        _insured,
        _KEY_DOC,
        "clearing",
        (),
        description="R-01 an insured region's last month of reconciliation, closed at the end of the 3rd",
    ),
    TopicSpec(
        "his.monthly-declaration.v1",
        MonthlyDeclaration,
        _institution,
        "institution_code: one hospital's declarations stay in order",
        "his",
        ("clearing",),
        kind="command",
        description="R-03 last month's settlements declared by the 16th (at most two months late)",
    ),
    TopicSpec(
        "clearing.declaration.v1",
        DeclarationRecorded,
        _institution,
        "institution_code",
        "clearing",
        (),
        description="R-03 a declaration accepted, beside the platform's count",
    ),
    TopicSpec(
        "clearing.report.v1",
        ClearingReportIssued,
        _notice_region,
        "region of the report",
        "clearing",
        (),
        description="C-04 the month's clearing tables of a region and scope (附件15-1..15-6, 16-1)",
    ),
    TopicSpec(
        "clearing.notice.v1",
        ClearingNoticeIssued,
        _notice_region,
        "region of the notice (the insured region for its payable lines)",
        "clearing",
        ("prepayment",),
        description="C-02/C-03 month-end receivable/payable notices",
    ),
    TopicSpec(
        "his.deduction-appealed.v1",
        AppealDeduction,
        _institution,
        "institution_code: one hospital's appeals stay in order",
        "his",
        ("clearing",),
        kind="command",
        description="R-04 an institution appeals an audit deduction of its own settlement (申诉)",
    ),
    TopicSpec(
        "clearing.answer-appeal.v1",
        AnswerDeductionAppeal,
        _institution,
        "institution_code: answers follow the institution's appeals",
        "agency",
        ("clearing",),
        kind="command",
        description="R-04 the treating place upholds or withdraws an appealed deduction",
    ),
    TopicSpec(
        "clearing.appeal.v1",
        DeductionAppealRecorded,
        _institution,
        "institution_code: one institution's appeals stay in order",
        "clearing",
        (),
        description="R-04 an appeal lodged or answered (withdrawn: paid back in paid_back_in, R-05), for the "
        "agencies; not sealed per institution, so hospitals do not read it: each hears its own "
        "answers in GET /clearing/institution/owed, sealed to it",
    ),
]
