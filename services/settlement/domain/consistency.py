"""The treating place checks the insured place's answer against what it asked (S-01, S-02, S-07).

Only the settlement service may send the answer hops (its authority table), and the content is
checked too: an answer is taken only when it answers *this* request, keeps the treating place's
split of the bill (S-02, S-04: payability is the treating place's to decide, the money the insured
place's), and is a valid slip (S-07). The treating place cannot recompute the money itself (the
person's accumulations are the insured place's), so the bounds are those every decision of the
insured-place rules keeps: the funds other than the personal account pay at most the in-scope
amount, the primary fund at most the in-scope amount above the deductible (``domain.funds``).
Pure functions, no I/O: a list of what is wrong, empty when the answer may be used.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.settlement_hops import InsuredDecided, TreatingAssessed
from contracts.settlement_values import FUNDS_BY_INSURANCE, FundCode, SettlementSlip
from services.settlement.domain.accumulations import ACCOUNT_KEY
from services.settlement.domain.insured import settlement_year
from services.settlement.domain.rates import is_rate_basis

ZERO = Decimal("0.00")
SPLIT = ("total", "in_scope", "b_class_self_pay", "over_limit_self_pay", "self_paid")


@dataclass(frozen=True)
class Inconsistency:
    check: str  # request | year | split | slip | funds | ratio | accumulations: the metric's label
    message: str


def answer_problems(assessment: TreatingAssessed, answer: InsuredDecided) -> list[Inconsistency]:
    """What is wrong with ``answer`` as the insured place's answer to ``assessment``."""
    problems = _same_request(assessment, answer)
    if answer.settlement_year != settlement_year(assessment):
        problems.append(
            Inconsistency(
                "year",
                f"settlement year {answer.settlement_year}, the service date "
                f"{assessment.service_date} is in {settlement_year(assessment)} (S-14)",
            )
        )
    if answer.decided and answer.slip is not None:
        problems += slip_problems(assessment, answer.slip)
        problems += _ratio(answer) + _accumulations(answer)
    return problems


def _same_request(assessment: TreatingAssessed, answer: InsuredDecided) -> list[Inconsistency]:
    asked = (assessment.settlement_id, assessment.request_id, str(assessment.person_id))
    got = (answer.settlement_id, answer.request_id, str(answer.person_id))
    if asked == got:
        return []
    return [
        Inconsistency(
            "request",
            f"answers settlement {got[0]} / request {got[1]}, not the request asked "
            f"({asked[0]} / {asked[1]}) or not this person",
        )
    ]


def slip_problems(assessment: TreatingAssessed, slip: SettlementSlip) -> list[Inconsistency]:
    """The slip keeps the treating place's split and S-07, within the bounds of the insured-place rules."""
    problems = [
        Inconsistency(
            "split", f"{field} {getattr(slip, field)} ≠ the assessed {getattr(assessment.totals, field)} (S-02, S-04)"
        )
        for field in SPLIT
        if getattr(slip, field) != getattr(assessment.totals, field)
    ]
    problems += _s07(slip)
    problems += _funds(assessment, slip)
    return problems


def _s07(slip: SettlementSlip) -> list[Inconsistency]:
    """S-07 again, on values as received: a model built without validation must not pass either."""
    problems = []
    amounts = {
        "deductible_applied": slip.deductible_applied,
        "fund_total": slip.fund_total,
        "personal_account": slip.personal_account,
        "personal_cash": slip.personal_cash,
        **{f"fund {f.code.value}": f.amount for f in slip.funds},
    }
    for name, amount in amounts.items():
        if amount < 0 or amount != amount.quantize(Decimal("0.01")):
            problems.append(Inconsistency("slip", f"{name} {amount} is not a non-negative amount in fen (S-07, M-01)"))
    if sum((f.amount for f in slip.funds), ZERO) != slip.fund_total:
        problems.append(Inconsistency("slip", f"fund total {slip.fund_total} is not the sum of the funds (S-07)"))
    if slip.fund_total + slip.personal_cash != slip.total:
        problems.append(
            Inconsistency("slip", f"total {slip.total} ≠ funds {slip.fund_total} + cash {slip.personal_cash} (S-07)")
        )
    account = sum((f.amount for f in slip.funds if f.code is FundCode.PERSONAL_ACCOUNT), ZERO)
    if account != slip.personal_account:
        problems.append(Inconsistency("slip", f"personal account {slip.personal_account} ≠ its fund line {account}"))
    if slip.deductible_applied > slip.in_scope:
        problems.append(
            Inconsistency(
                "slip", f"deductible {slip.deductible_applied} above the in-scope amount {slip.in_scope} (S-05)"
            )
        )
    return problems


def _funds(assessment: TreatingAssessed, slip: SettlementSlip) -> list[Inconsistency]:
    """Funds of the person's insurance type, each once, paying no more than the rules can (S-05, S-06)."""
    allowed = FUNDS_BY_INSURANCE[assessment.insurance_type]
    codes = [f.code for f in slip.funds]
    problems = [
        Inconsistency(
            "funds", f"fund {c.value} does not pay for insurance type {assessment.insurance_type.value} (S-06)"
        )
        for c in codes
        if c not in allowed
    ]
    if len(set(codes)) != len(codes):
        problems.append(Inconsistency("funds", "a fund is listed twice on one slip (S-06)"))
    pooled = sum((f.amount for f in slip.funds if f.code is not FundCode.PERSONAL_ACCOUNT), ZERO)
    if pooled > slip.in_scope:
        problems.append(
            Inconsistency("funds", f"the funds pay {pooled}, more than the in-scope amount {slip.in_scope} (S-05)")
        )
    primary = slip.funds[0].amount if slip.funds and slip.funds[0].code is not FundCode.PERSONAL_ACCOUNT else ZERO
    if primary > slip.in_scope - slip.deductible_applied:
        problems.append(
            Inconsistency(
                "funds",
                f"the primary fund pays {primary}, more than in-scope "
                f"{slip.in_scope} − deductible {slip.deductible_applied} (S-05)",
            )
        )
    return problems


def _ratio(answer: InsuredDecided) -> list[Inconsistency]:
    """A decision names the ratio it applied and its basis (S-08..S-10): the completed settlement
    carries both, so an answer without them could not be completed and is not taken either."""
    ratio, problems = answer.ratio_applied, []
    if ratio is None:
        problems.append(Inconsistency("ratio", "a decided answer without the ratio it applied (S-08, S-09)"))
    elif not ZERO <= ratio <= 1:
        problems.append(Inconsistency("ratio", f"ratio {ratio} outside 0..1 (S-08, S-09)"))
    if not is_rate_basis(answer.rate_basis):
        problems.append(
            Inconsistency(
                "ratio",
                f"rate basis {answer.rate_basis!r} is none of the rules' "
                "(local, referral_emergency, other_temporary, trauma; S-08..S-10)",
            )
        )
    return problems


def _accumulations(answer: InsuredDecided) -> list[Inconsistency]:
    """A settlement only adds to the counters of its own year, and spends from the personal account
    exactly what the slip shows (the balance is debited by it, S-06)."""
    problems = [
        Inconsistency(
            "accumulations",
            f"counter {e.counter} of {e.year} {e.amount}: a settlement adds "
            f"to {answer.settlement_year} only, never a negative amount",
        )
        for e in answer.accumulation_delta
        if e.year != answer.settlement_year or e.amount < 0
    ]
    spent = sum((e.amount for e in answer.accumulation_delta if e.counter == ACCOUNT_KEY), ZERO)
    if answer.slip is not None and spent != answer.slip.personal_account:
        problems.append(
            Inconsistency(
                "accumulations",
                f"personal account counted {spent}, the slip pays {answer.slip.personal_account} from it",
            )
        )
    return problems
