"""Validated number types for policy and catalogue data: ratios and amounts, Decimal only (M-01)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from contracts.values import to_money

ZERO = Decimal("0.00")


def _ratio(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError(f"ratio {value!r} must be a decimal (the loader reads YAML numbers as Decimal), not a float")
    try:
        ratio = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a ratio") from None
    if not ratio.is_finite() or not Decimal(0) <= ratio <= Decimal(1):
        raise ValueError(f"ratio {value} must lie in [0, 1], e.g. 0.85 for 85%")
    if ratio != ratio.quantize(Decimal("0.0001")):
        raise ValueError(f"ratio {value} has more than 4 decimals")
    return ratio


def _amount(value: Any) -> Decimal:
    if isinstance(value, float):
        raise ValueError(f"amount {value!r} must be a decimal, not a float (M-01)")
    amount = to_money(value)
    if amount < 0:
        raise ValueError(f"amount {value} must not be negative")
    return amount


Ratio = Annotated[Decimal, BeforeValidator(_ratio)]
"""A share in [0, 1], e.g. a payment ratio 支付比例 or a B-class self-pay ratio."""
Amount = Annotated[Decimal, BeforeValidator(_amount)]
"""Yuan, two decimals, not negative."""


class Data(BaseModel):
    """Base of reference-data models: frozen and strict about unknown keys (typos fail at load)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
