"""Shared value types: money, region codes, identity numbers and the domain enums.

Invalid values are refused at the boundary with a message that says what is wrong.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import AfterValidator, BeforeValidator, GetCoreSchemaHandler, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError, core_schema
from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric

SHANGHAI = ZoneInfo("Asia/Shanghai")  # business time zone of every date the rules name (M-02)


def business_date(moment: datetime) -> date:
    """The date an agency in China sees at an aware ``moment`` (Asia/Shanghai): the day every rule counts in."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no timezone; business time must be aware")
    return moment.astimezone(SHANGHAI).date()


def at_business_start(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``."""
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)


CENT = Decimal("0.01")
MONEY_LIMIT = Decimal("10000000000000")
"""No amount on the platform reaches ten trillion yuan (the whole national fund spends about three a
year); beyond it an amount is refused as out of range, and decimal arithmetic (28 digits) stays exact
for every sum of such amounts. Bills and lines have tighter bounds (contracts.his)."""


# ---------------------------------------------------------------- money (M-01)
def to_money(value: Any) -> Decimal:
    """Parse yuan with at most two decimals; never accept a binary float (M-01)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise PydanticCustomError(
            "money_float", "money must be a decimal string such as '12.30', not a float ({value})", {"value": value}
        )
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise PydanticCustomError("money_syntax", "'{value}' is not an amount in yuan", {"value": value})
    if not amount.is_finite():
        raise PydanticCustomError("money_syntax", "'{value}' is not an amount in yuan", {"value": value})
    if abs(amount) >= MONEY_LIMIT:
        raise PydanticCustomError(
            "money_range", "amount {value} is out of range (under 10,000,000,000,000.00 yuan)", {"value": str(value)}
        )
    exponent = amount.as_tuple().exponent  # an int: the amount is finite (checked above)
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(CENT):
        raise PydanticCustomError(
            "money_precision", "amount {value} has more than two decimals (yuan, to the fen)", {"value": value}
        )
    return amount.quantize(CENT)


def round_fen(amount: Decimal) -> Decimal:
    """Round a computed amount to the fen, half up, as the settlement slip shows it."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _non_negative(value: Any) -> Decimal:
    amount = to_money(value)
    if amount < 0:
        raise PydanticCustomError("money_negative", "amount {value} must not be negative", {"value": str(amount)})
    return amount


MONEY_JSON_SCHEMA = {
    "type": "string",
    "pattern": r"^-?\d+(\.\d{1,2})?$",
    "description": "yuan with two decimals, as a string (M-01)",
    "examples": ["1234.50"],
}
"""The JSON Schema of every amount, for a field whose type needs it given again (an optional override)."""
_MONEY_JSON = WithJsonSchema(MONEY_JSON_SCHEMA)
_MONEY_SER = PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="always")

Money = Annotated[Decimal, BeforeValidator(to_money), _MONEY_SER, _MONEY_JSON]
"""Yuan, two decimals, any sign (negative amounts appear in clearing, C-05, S-15)."""
NonNegativeMoney = Annotated[Decimal, BeforeValidator(_non_negative), _MONEY_SER, _MONEY_JSON]
"""Yuan, two decimals, never negative (S-07)."""


def money(value: str | int | Decimal) -> Decimal:
    """Convenience for code and tests: ``money("12.3")`` → ``Decimal('12.30')``."""
    return to_money(value)


# ---------------------------------------------------------------- dates a person can be treated on
EARLIEST_DATE, LATEST_DATE = date(2000, 1, 1), date(2099, 12, 31)


def _sane_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            "date_range", "date {value} lies outside 2000-01-01..2099-12-31", {"value": value.isoformat()}
        )
    return value


BusinessDate = Annotated[date, AfterValidator(_sane_date)]
"""A date of care, filing or upload: refused outside 2000–2099 before any calendar arithmetic."""


# ---------------------------------------------------------------- region codes (GB/T 2260)
PROVINCE_CODES: frozenset[str] = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
    ]
)
"""Province-level prefixes of GB/T 2260; 66 is the Xinjiang Production and Construction Corps
as the national medical-insurance platform numbers it."""

PROVINCIAL_POOLING: frozenset[str] = frozenset({"110000", "120000", "310000", "500000", "460000", "540000", "660000"})
"""Regions pooled at province level (F-06): Beijing, Tianjin, Shanghai, Chongqing, Hainan, Tibet, XPCC."""

_REGION_RE = re.compile(r"^\d{6}$")
POOLING_REGIONS_FILE = Path(__file__).parent / "data" / "pooling_regions.yaml"


def _load_regions(path: Path) -> dict[str, dict]:
    """The allow-list of regions (generated from GB/T 2260, see the file's header), checked at
    import: a broken list must stop every service, not let regions through."""
    regions = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("regions") or {}
    for code, info in regions.items():
        if not (
            isinstance(code, str)
            and _REGION_RE.match(code)
            and code[:2] in PROVINCE_CODES
            and isinstance(info, dict)
            and info.get("name")
            and info.get("province")
        ):
            raise ValueError(f"{path.name}: bad entry {code!r}: {info!r}")
    pools = {code for code, info in regions.items() if info.get("provincial_pool")}
    if pools != PROVINCIAL_POOLING:
        raise ValueError(f"{path.name}: provincial pools {sorted(pools)} differ from F-06 {sorted(PROVINCIAL_POOLING)}")
    return regions


POOLING_REGIONS: dict[str, dict] = _load_regions(POOLING_REGIONS_FILE)
"""code → {name, province, provincial_pool?}: every province and prefecture-level city RegionCode accepts."""


class UnknownRegion(ValueError):
    """Six digits of the right shape that name no region of the allow-list (e.g. 349900)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"region code {code} is not a pooling region of GB/T 2260 (UNKNOWN_REGION)")
        self.code = code


class RegionCode(str):
    """A region 统筹区 of GB/T 2260 from the allow-list (``POOLING_REGIONS``): a city, e.g.
    ``340200`` Wuhu, or a province (provincial pools, F-06, and province-wide catalogues). An
    unknown code is refused (``unknown_region``), never mapped to a default policy."""

    __slots__ = ()

    def __new__(cls, value: str) -> RegionCode:
        text = str(value).strip()
        if not _REGION_RE.match(text):
            raise ValueError(f"region code '{value}' must be 6 digits (GB/T 2260), e.g. 340200")
        if text[:2] not in PROVINCE_CODES:
            raise ValueError(f"region code '{value}' has no province '{text[:2]}' in GB/T 2260")
        if text[2:] != "0000" and text[4:] != "00":
            raise ValueError(f"region code '{value}' is a county; a pooling region is a city (ending 00) or province")
        if text not in POOLING_REGIONS:
            raise UnknownRegion(text)
        return super().__new__(cls, text)

    @property
    def name(self) -> str:
        """The region's name in GB/T 2260, e.g. 芜湖市."""
        return POOLING_REGIONS[str(self)]["name"]

    @property
    def province(self) -> str:
        """The province's code, e.g. ``340000`` for Wuhu."""
        return self[:2] + "0000"

    @property
    def is_provincial_pool(self) -> bool:
        return str(self) in PROVINCIAL_POOLING

    def is_cross_province(self, other: RegionCode | str) -> bool:
        """Cross-province 跨省 when the first two digits differ."""
        return self[:2] != str(other)[:2]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> RegionCode:
            try:
                return cls(value)
            except UnknownRegion as exc:
                raise PydanticCustomError(
                    "unknown_region",
                    "region code {code} is not a pooling region of GB/T 2260 (UNKNOWN_REGION)",
                    {"code": exc.code},
                ) from None
            except ValueError as exc:
                raise PydanticCustomError("region_code", str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
            json_schema_input_schema=core_schema.str_schema(pattern=r"^\d{6}$"),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict:
        return {
            "type": "string",
            "pattern": r"^\d{6}$",
            "description": "GB/T 2260 pooling region code",
            "examples": ["340200"],
        }


def is_cross_province(a: str, b: str) -> bool:
    return RegionCode(a).is_cross_province(b)


# ---------------------------------------------------------------- personal ID (never logged)
def _validate_person_id(value: Any) -> str:
    """GB 11643 citizen ID number, checked with python-stdnum's ``cn.ric``: length and digits, the
    check digit, and a real birth date. Not the birth place: stdnum refuses a county code that did
    not exist in the birth year, which refuses real numbers (people born before their county got
    its current code, e.g. 340202 镜湖区 since 1983, were numbered with it later) as well as the
    synthetic ones of the tests and the simulator."""
    text = ric.compact(str(value))
    if not re.fullmatch(r"\d{17}[\dX]", text):
        raise PydanticCustomError("person_id", "ID number must be 18 characters: 17 digits and a check digit or X")
    if text[17] != ric.calc_check_digit(text):
        raise PydanticCustomError("person_id", "ID number check digit is wrong (GB 11643)")
    try:
        ric.get_birth_date(text)
    except stdnum_errors.ValidationError:
        raise PydanticCustomError("person_id", "ID number has no valid birth date (digits 7-14, YYYYMMDD)") from None
    return text


def mask_person_id(person_id: str) -> str:
    """What logs may show of an ID number: region prefix and last character only."""
    return person_id[:4] + "*" * 13 + person_id[-1:] if len(person_id) == 18 else "*" * len(person_id)


class PersonalData:
    """Marks a value that identifies an insured person: a payload that carries one travels sealed
    (``TopicSpec.sealed``; ``runtime.wire``), never in clear on the broker (003 §5 (三))."""


PERSONAL = PersonalData()

PersonName = Annotated[
    str,
    PERSONAL,
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 60,
            "description": "a person's name: personal, travels sealed",
            "examples": ["张三"],
        }
    ),
]
SocialSecurityCard = Annotated[
    str,
    PERSONAL,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9A-Za-z]{6,32}$",
            "description": "社会保障卡号: personal, travels sealed",
            "examples": ["A12345678"],
        }
    ),
]

PersonId = Annotated[
    str,
    BeforeValidator(_validate_person_id),
    PERSONAL,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d{17}[\dX]$",
            "description": "citizen ID number (GB 11643); never written to logs",
            "examples": ["11010519491231002X"],
        }
    ),
]


def make_person_id(first17: str) -> str:
    """Complete 17 digits with their GB 11643 check digit (simulator and tests)."""
    return first17 + ric.calc_check_digit(first17 + "0")  # stdnum expects the number with a check place


# ---------------------------------------------------------------- institution code
def _validate_institution(value: Any) -> str:
    text = str(value).strip().upper()
    if not re.fullmatch(r"[HP]\d{11}", text):
        raise PydanticCustomError(
            "institution_code",
            "institution code '{value}' must be H or P followed by 11 digits, e.g. H42010200001",
            {"value": value},
        )
    return text


InstitutionCode = Annotated[
    str,
    BeforeValidator(_validate_institution),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[HP]\d{11}$",
            "description": "national code of a designated institution "
            "(H hospital, P pharmacy); its digits 2-7 are its region",
            "examples": ["H42010200001"],
        }
    ),
]


# ---------------------------------------------------------------- enums
class InsuranceType(StrEnum):
    """险种: employee 职工医保 (310) or resident 城乡居民医保 (390)."""

    EMPLOYEE = "310"
    RESIDENT = "390"


class MedicalType(StrEnum):
    """医疗类别."""

    GENERAL_OUTPATIENT = "general_outpatient"  # 普通门诊
    CHRONIC_OUTPATIENT = "chronic_outpatient"  # 门诊慢特病
    INPATIENT = "inpatient"  # 住院
    PHARMACY = "pharmacy"  # 药店购药


class FilingCategory(StrEnum):
    """备案类别 (F-01)."""

    RESETTLED_RETIREE = "resettled_retiree"  # 异地安置退休
    LONG_TERM_RESIDENT = "long_term_resident"  # 异地长期居住
    POSTED_WORKER = "posted_worker"  # 常驻异地工作
    REFERRAL = "referral"  # 异地转诊
    EMERGENCY = "emergency"  # 异地急诊抢救
    OTHER_TEMPORARY = "other_temporary"  # 其他临时外出

    @property
    def is_long_term(self) -> bool:
        return self in _LONG_TERM


_LONG_TERM = {FilingCategory.RESETTLED_RETIREE, FilingCategory.LONG_TERM_RESIDENT, FilingCategory.POSTED_WORKER}


# Why a visit may settle directly (F-01, F-04, F-05): the answer of kernel.eligibility, carried by
# the settlement messages. (No docstring: it would enter every published schema.)
class EligibilityBasis(StrEnum):
    LONG_TERM = "long_term"  # F-01 long-term filing (S-08 local rates)
    TEMPORARY = "temporary"  # F-01 temporary filing (S-09 reduced rates)
    DEEMED_EMERGENCY = "deemed_emergency"  # F-04 / S-11 视同已备案
    NO_FILING_NEEDED = "no_filing_needed"  # F-05 general outpatient, pharmacy


class HospitalLevel(StrEnum):
    """Institution level 医院等级, which sets deductible and ratio at the insured place."""

    LEVEL_1 = "1"
    LEVEL_2 = "2"
    LEVEL_3 = "3"
    COMMUNITY = "community"
    PHARMACY = "pharmacy"
