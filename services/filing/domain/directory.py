"""The directory of networked institutions 定点医疗机构查询 (002 第十二条: the national agency records
and publishes the institutions opened for cross-region settlement; 001 五(四): what the channels publish
must be accurate and complete, so people can choose where to be treated). Pure: the registry's
institutions in, the matching page out.

An institution is in the directory on a day when it is opened that day for at least one settlement
(``Institution.open_on``); an entry never opened, or opened only from a later day, is not (yet).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, ConfigDict

from contracts.directory import InstitutionCategory, SettlementKind
from contracts.parties import Institution
from contracts.values import HospitalLevel, RegionCode

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class DirectoryFilter:
    """What the asker wants listed: every field None matches all. ``region`` a city matches that city,
    a province (…0000) every region of it; ``open`` an institution opened for that settlement on ``on``."""

    on: date
    region: RegionCode | None = None
    level: HospitalLevel | None = None
    category: InstitutionCategory | None = None
    open: SettlementKind | None = None

    def matches(self, institution: Institution) -> bool:
        open_now = institution.open_on(self.on)
        return (
            bool(open_now)
            and self._in_region(str(institution.region))
            and (self.level is None or institution.hospital_level is self.level)
            and (self.category is None or institution.category is self.category)
            and (self.open is None or self.open in open_now)
        )

    def _in_region(self, region: str) -> bool:
        if self.region is None or region == self.region:
            return True
        return self.region.endswith("0000") and region[:2] == self.region[:2]


class DirectoryEntry(BaseModel):
    """One institution as the directory shows it: no keys, nothing personal."""

    model_config = ConfigDict(frozen=True)
    code: str
    name: str
    region: str
    region_name: str
    hospital_level: HospitalLevel
    category: InstitutionCategory | None
    category_zh: str | None
    address: str | None
    opened: dict[SettlementKind, date]
    open_on: list[SettlementKind]

    @classmethod
    def of(cls, institution: Institution, on: date) -> DirectoryEntry:
        category = institution.category
        return cls(
            code=institution.code,
            name=institution.name,
            region=str(institution.region),
            region_name=institution.region.name,
            hospital_level=institution.hospital_level,
            category=category,
            category_zh=category.zh if category else None,
            address=institution.address,
            opened=dict(sorted(institution.opened.items())),
            open_on=list(institution.open_on(on)),
        )


@dataclass(frozen=True)
class DirectoryPage:
    entries: list[DirectoryEntry]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return -(-self.total // self.size)


def directory(institutions: Iterable[Institution], wanted: DirectoryFilter, *, page: int, size: int) -> DirectoryPage:
    """Page ``page`` (from 1) of ``size`` of the matching institutions, in a stable order (region, code),
    so that paging through a directory that does not change shows each institution once."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be ≥ 1 and size 1..{MAX_PAGE_SIZE}")
    found = sorted((i for i in institutions if wanted.matches(i)), key=lambda i: (str(i.region), i.code))
    start = (page - 1) * size
    return DirectoryPage([DirectoryEntry.of(i, wanted.on) for i in found[start : start + size]], len(found), page, size)
