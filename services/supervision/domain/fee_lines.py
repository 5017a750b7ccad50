"""The rules that read a stay's fee lines (明细审核, R-04; 000 第五十七条, 004 第五十七条): the same item
billed twice on one day, a day's quantity above the item's limit, an item for a sex or an age the person
is not. They run on the full fee detail the treating place uploads after a stay (S-18,
``settlement.fee-detail.v1``). The person's sex and age come from their ID number (GB 11643: the birth
date in digits 7-14, the sex in digit 17), read in memory for the check and never kept: a
:class:`Person` is built by the handler, given to :func:`audit_lines`, and dropped; the evidence says
which restriction was not met, not the person's sex or age. Pure: no I/O, no clock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from stdnum.cn import ric

from contracts.settlement_values import LineSplit
from services.supervision.domain.audit import AuditedSettlement, Hit
from services.supervision.domain.rules import (
    FEE_LINE_KINDS,
    AuditRule,
    DailyLimit,
    OnceADay,
    PersonRestriction,
    RuleBase,
    SexAgeRestricted,
)


@dataclass(frozen=True, slots=True, repr=False)
class Person:
    """What the sex and age rules need of a person, from the ID number; in memory only (no repr, so it never
    reaches a log or a traceback)."""

    sex: Literal["female", "male"]
    birth_date: date

    def age_on(self, day: date) -> int:
        """Age in whole years on ``day`` (a birthday counts on the day)."""
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - (1 if before_birthday else 0)


def person_of(person_id: str) -> Person:
    """Sex and birth date of a validated ID number (``contracts.values.PersonId``): digit 17 odd is male."""
    return Person(sex="male" if int(person_id[16]) % 2 else "female", birth_date=ric.get_birth_date(person_id))


@dataclass(frozen=True, slots=True)
class FeeDetail:
    """A stay's fee detail as the rules read it: the settlement's facts (the person as a pseudonym) and
    its split lines with their quantities and dates."""

    settlement: AuditedSettlement
    lines: tuple[LineSplit, ...]


def _by_day_and_item(lines: Iterable[LineSplit], codes: Iterable[str]) -> dict[tuple[date, str], list[LineSplit]]:
    """The dated lines of the given items, grouped by day and item; an undated line cannot be put on a day."""
    wanted, out = set(codes), defaultdict(list)
    for line in lines:
        if line.occurred_on is not None and line.item_code in wanted:
            out[(line.occurred_on, line.item_code)].append(line)
    return dict(sorted(out.items()))


def _quantity(line: LineSplit) -> Decimal:
    return line.quantity if line.quantity is not None else Decimal(1)


def _numbers(lines: Iterable[LineSplit]) -> str:
    return "、".join(str(line.line_no) for line in lines)


def once_a_day(rule: AuditRule, p: OnceADay, d: FeeDetail, person: Person) -> Hit | None:
    twice = [
        (day, code, lines)
        for (day, code), lines in _by_day_and_item(d.lines, p.items).items()
        if sum(_quantity(line) for line in lines) > 1
    ]
    if not twice:
        return None
    day, code, lines = twice[0]
    return Hit(
        rule_id=rule.id,
        rule_name=rule.name,
        evidence={
            "项目编码": code,
            "项目名称": p.items[code],
            "日期": day.isoformat(),
            "当日数量": str(sum(_quantity(line) for line in lines)),
            "明细行号": _numbers(lines),
            "其他重复": "、".join(f"{c}@{x.isoformat()}" for x, c, _ in twice[1:]) or "无",
        },
    )


def daily_limit(rule: AuditRule, p: DailyLimit, d: FeeDetail, person: Person) -> Hit | None:
    over = [
        (day, code, lines, total)
        for (day, code), lines in _by_day_and_item(d.lines, p.limits).items()
        if (total := sum((_quantity(line) for line in lines), Decimal(0))) > p.limits[code].per_day
    ]
    if not over:
        return None
    day, code, lines, total = over[0]
    limit = p.limits[code]
    return Hit(
        rule_id=rule.id,
        rule_name=rule.name,
        evidence={
            "项目编码": code,
            "项目名称": limit.name,
            "日期": day.isoformat(),
            "当日数量": f"{total}{limit.unit}",
            "每日限量": f"{limit.per_day}{limit.unit}",
            "明细行号": _numbers(lines),
            "其他超量": "、".join(f"{c}@{x.isoformat()}" for x, c, _, _ in over[1:]) or "无",
        },
    )


def _excluded(r: PersonRestriction, person: Person, day: date) -> str | None:
    """Which restriction ``person`` fails on ``day``, in words that do not say the person's sex or age."""
    if r.sex is not None and person.sex != r.sex:
        return f"限{'女' if r.sex == 'female' else '男'}性使用，与参保人身份证号所示性别不符"
    age = person.age_on(day)
    if (r.min_age is not None and age < r.min_age) or (r.max_age is not None and age > r.max_age):
        return f"限{_ages(r)}使用，参保人年龄（按身份证号出生日期）不在此范围"
    return None


def _ages(r: PersonRestriction) -> str:
    if r.max_age is None:
        return f"{r.min_age}周岁及以上"
    if r.min_age is None:
        return f"{r.max_age}周岁及以下"
    return f"{r.min_age}至{r.max_age}周岁"


def sex_age_restricted(rule: AuditRule, p: SexAgeRestricted, d: FeeDetail, person: Person) -> Hit | None:
    for line in d.lines:
        restriction = p.items.get(line.item_code)
        if restriction is None:
            continue
        day = line.occurred_on or d.settlement.settled_on
        why = _excluded(restriction, person, day)
        if why is not None:
            return Hit(
                rule_id=rule.id,
                rule_name=rule.name,
                evidence={
                    "项目编码": line.item_code,
                    "项目名称": restriction.name,
                    "日期": day.isoformat(),
                    "明细行号": str(line.line_no),
                    "判定": why,
                },
            )
    return None


LINE_CHECKS: dict[str, Callable[..., Hit | None]] = {
    "once_a_day": once_a_day,
    "daily_limit": daily_limit,
    "sex_age_restricted": sex_age_restricted,
}
assert set(LINE_CHECKS) == FEE_LINE_KINDS  # every fee-line kind of the rule base has its check


def audit_lines(d: FeeDetail, person: Person, rules: RuleBase) -> list[Hit]:
    """Every enabled fee-line rule's hit on the stay ``d``, in the rule base's order."""
    hits = [LINE_CHECKS[r.kind](r, r.settings, d, person) for r in rules.rules if r.enabled and r.kind in LINE_CHECKS]
    return [h for h in hits if h is not None]
