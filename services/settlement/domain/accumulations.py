"""Year-to-date accumulations 年度累计 of one person (S-05): counters keyed by name, per year.

Keys: ``deductible/<medical_type>`` (annual deductibles used), ``fund/<fund>/<cap group>`` (paid
by a fund against an annual cap), ``threshold/<fund>`` (personal in-scope burden counted towards
a threshold, 大病保险), ``account/personal_account`` (personal account spent). The lead stores one
document per person and year and applies a delta with one atomic increment; this module only computes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from contracts.settlement_values import AccumulationEntry, FundCode
from contracts.values import MedicalType

ZERO = Decimal("0.00")


def deductible_key(medical_type: MedicalType) -> str:
    return f"deductible/{medical_type.value}"


def fund_key(fund: FundCode, cap_group: str) -> str:
    return f"fund/{fund.value}/{cap_group}"


def threshold_key(fund: FundCode) -> str:
    return f"threshold/{fund.value}"


ACCOUNT_KEY = "account/personal_account"
COUNTER_ZH = {
    "deductible": "起付标准累计",
    "fund": "基金支付累计",
    "threshold": "大病保险起付累计",
    "account": "个人账户支付累计",
}


def counter_rows(counters: Mapping[str, Decimal | str | float]) -> list[dict[str, str]]:
    """A year's counters as people read them: key, Chinese label, what it counts, yuan to the fen."""
    rows = []
    for key, amount in sorted(counters.items()):
        kind = key.split("/", 1)[0]
        rows.append(
            {
                "key": key,
                "label": COUNTER_ZH.get(kind, kind),
                "detail": key.split("/", 1)[-1],
                "amount": str(Decimal(str(amount)).quantize(Decimal("0.01"))),
            }
        )
    return rows


@dataclass(frozen=True)
class Accumulations:
    """A person's counters for one year."""

    year: int
    counters: Mapping[str, Decimal] = field(default_factory=dict)

    def get(self, key: str) -> Decimal:
        return self.counters.get(key, ZERO)

    def plus(self, delta: AccumulationDelta) -> Accumulations:
        if delta.year != self.year:
            raise ValueError(f"delta of {delta.year} applied to accumulations of {self.year} (S-14)")
        merged = dict(self.counters)
        for key, amount in delta.increments.items():
            merged[key] = merged.get(key, ZERO) + amount
        return Accumulations(self.year, {k: v for k, v in merged.items() if v != 0})


@dataclass(frozen=True)
class AccumulationDelta:
    """What one settlement adds to the counters of its settlement year."""

    year: int
    increments: Mapping[str, Decimal] = field(default_factory=dict)

    def negated(self) -> AccumulationDelta:
        return AccumulationDelta(self.year, {k: -v for k, v in self.increments.items()})

    def then(self, other: AccumulationDelta) -> AccumulationDelta:
        """This change followed by ``other`` (same year): the net change."""
        if other.year != self.year:
            raise ValueError("deltas of different years do not combine")
        net = dict(self.increments)
        for key, amount in other.increments.items():
            net[key] = net.get(key, ZERO) + amount
        return AccumulationDelta(self.year, {k: v for k, v in net.items() if v != 0})

    def entries(self) -> list[AccumulationEntry]:
        return [AccumulationEntry(year=self.year, counter=k, amount=v) for k, v in sorted(self.increments.items())]

    @classmethod
    def from_entries(cls, year: int, entries: list[AccumulationEntry]) -> AccumulationDelta:
        if any(e.year != year for e in entries):
            raise ValueError("entries of another year")
        return cls(year, {e.counter: e.amount for e in entries})
