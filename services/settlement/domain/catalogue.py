"""The treating place's catalogue 就医地目录 (S-02) and which catalogue applies (S-03)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator

from contracts.settlement_values import CatalogueClass, MajorFeeCategory, RefusalCode
from contracts.values import RegionCode
from services.settlement.domain.refusal import Refused
from services.settlement.domain.values import Amount, Data, Ratio


class CatalogueItem(Data):
    """One drug, service or consumable of a catalogue: class, B self-pay share, price limit, fee category."""

    code: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1)
    catalogue_class: CatalogueClass = Field(alias="class")
    b_self_pay_ratio: Ratio | None = Field(default=None, description="乙类先行自付比例; B class only")
    price_limit: Amount | None = Field(default=None, description="支付标准/限价 per unit; none: no limit")
    major_category: MajorFeeCategory

    @model_validator(mode="after")
    def _b_ratio_only_for_b(self) -> CatalogueItem:
        is_b = self.catalogue_class is CatalogueClass.B
        if is_b != (self.b_self_pay_ratio is not None):
            raise ValueError(f"item {self.code}: b_self_pay_ratio is required for class B and only for class B")
        return self


class Catalogue(Data):
    """A province's unified catalogue or a region's own (S-02, S-03)."""

    id: str = Field(description="region code the catalogue belongs to, e.g. 420000 for Hubei")
    name: str
    region: RegionCode
    scope: Literal["province", "region"]
    valid_from: date
    sample: bool
    source: str
    items: tuple[CatalogueItem, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        if self.id != str(self.region):
            raise ValueError(f"catalogue id {self.id} must equal its region {self.region}")
        if (self.scope == "province") != (self.region.province == str(self.region)):
            raise ValueError(f"catalogue {self.id}: scope 'province' needs a province code (xx0000)")
        codes = [item.code for item in self.items]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"catalogue {self.id}: item codes listed twice: {duplicates}")
        return self

    def lookup(self, code: str) -> CatalogueItem | None:
        return self._by_code.get(code)

    @cached_property
    def _by_code(self) -> Mapping[str, CatalogueItem]:
        return {item.code: item for item in self.items}


@dataclass(frozen=True)
class CatalogueBook:
    """All loaded catalogues by region code."""

    by_region: Mapping[str, Catalogue]

    def for_region(self, region: str) -> Catalogue | None:
        """The region's own catalogue, else its province's."""
        code = RegionCode(region)
        return self.by_region.get(str(code)) or self.by_region.get(code.province)


def choose_catalogue(
    book: CatalogueBook,
    treating_region: str,
    insured_region: str,
    intra_province_catalogue: Literal["province", "insured_place"],
) -> Catalogue:
    """Cross-province: the treating place's catalogue (S-02). Intra-province: the province's unified
    catalogue (S-03), unless the insured place's policy applies its own (Wuhu, 001 第十九条)."""
    treating = RegionCode(treating_region)
    if treating.is_cross_province(insured_region):
        found = book.for_region(treating)
    elif intra_province_catalogue == "insured_place":
        found = book.for_region(insured_region)
    else:
        found = book.by_region.get(treating.province)
    if found is None:
        raise Refused(
            RefusalCode.CATALOGUE_UNAVAILABLE,
            f"no catalogue loaded for treating region {treating_region} (insured {insured_region})",
        )
    return found


def price_excess(unit_price: Decimal, limit: Decimal | None) -> Decimal:
    """Per-unit amount above the price limit 超限价 (S-04); zero without a limit."""
    return max(unit_price - limit, Decimal(0)) if limit is not None else Decimal(0)
