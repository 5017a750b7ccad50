"""A command's form, generated from its pydantic contract (``contracts/*.py``), and the form's answers
read back into the contract (业务办理).

``fields(model)`` walks the model's fields and gives each an input by its type: text, an ID number, a
money amount, a whole number, a date, a moment, yes/no, one of an enum (a select with the enum's Chinese
names), several of an enum (checkboxes), a list of texts or regions (one per line), a dict keyed by an
enum (one amount per member), a nested model (its fields, prefixed ``parent.``), a list of nested models
(a few rows of them). ``read(model, form)`` builds the payload from the submitted form and validates it
with the contract itself; every error comes back beside its field, in Chinese (``errors_zh``).

Three kinds of field are not asked: the moment of sending (a required ``*_at``: the business clock's now),
an idempotency reference (filled with a fresh one, editable), and the sending agency's own code; nor is a
channel's statement that it authenticated the person (``authentication``: a channel's, never an agency's)."""

from __future__ import annotations

import enum
import re
import types
import typing
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, ValidationError

from contracts.values import RegionCode

ROWS = 3  # rows offered for a list of nested models (empty rows are dropped)
# references a sender picks to make a command idempotent: prefilled with a fresh one, editable
FRESH_REFS = frozenset({"request_ref", "lead_ref", "notice_ref", "objection_id", "deduction_id"})
SELF = frozenset({"publisher"})  # the sending agency's own code
CHANNEL_ONLY = frozenset({"authentication"})  # a channel's word for the person it authenticated (000 第九条)


@dataclass
class Field:
    """One input of a form. ``kind``: text | person | money | int | date | datetime | bool | enum |
    enums | lines | regions | region | enum_dict | pairs | group | rows | stamp | fresh | self."""

    name: str  # the dotted path in the payload (``stay.total``, ``lines.0.settlements``)
    key: str  # the label key: the path without row numbers (``lines.settlements``)
    kind: str
    required: bool
    description: str = ""
    choices: list[str] = field(default_factory=list)  # enum values (in declaration order)
    enum: str = ""  # the enum's class name (its labels)
    children: list[Field] = field(default_factory=list)  # a group's or a row's fields
    rows: list[list[Field]] = field(default_factory=list)
    in_row: bool = False  # part of a row of a list: required only when the row is used, so no HTML ``required``


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``Optional`` (and whether it was optional), ``Annotated`` peeled off."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            annotation = args[0] if len(args) == 1 else str
        else:
            return annotation, optional


def _is_person(info: Any) -> bool:
    from contracts.values import PersonalData

    return any(isinstance(m, PersonalData) for m in getattr(info, "metadata", ())) or any(
        isinstance(m, PersonalData) for m in _annotated_meta(info.annotation)
    )


def _annotated_meta(annotation: Any) -> list:
    found: list = []
    for arg in [annotation, *get_args(annotation)]:
        if get_origin(arg) is typing.Annotated:
            found += list(get_args(arg)[1:])
    return found


def fields(model: type[BaseModel], prefix: str = "", key_prefix: str = "") -> list[Field]:
    out = []
    for name, info in model.model_fields.items():
        if name in CHANNEL_ONLY:
            continue
        path, key = f"{prefix}{name}", f"{key_prefix}{name}"
        out.append(_field(path, key, info.annotation, info.is_required(), info.description or "", info, name))
    return out


def _field(
    path: str, key: str, annotation: Any, required: bool, description: str, info: Any = None, name: str = ""
) -> Field:
    kind_of, optional = _unwrap(annotation)
    required = required and not optional
    f = Field(path, key, "text", required, description)
    origin, args = get_origin(kind_of), get_args(kind_of)
    if name in SELF:
        f.kind = "self"
    elif name in FRESH_REFS or (name == "request_id" and kind_of is str):
        f.kind = "fresh"
    elif kind_of is AwareDatetime or kind_of is datetime:
        f.kind = "stamp" if required and name.endswith("_at") else "datetime"
    elif kind_of is RegionCode or (kind_of is str and name.endswith("_region")) or name == "region":
        f.kind = "region"
    elif name == "person_id" or (info is not None and _is_person(info)):
        f.kind = "person"
    elif isinstance(kind_of, type) and issubclass(kind_of, enum.Enum):
        f.kind, f.enum, f.choices = "enum", kind_of.__name__, [e.value for e in kind_of]
    elif kind_of is bool:
        f.kind = "bool"
    elif kind_of is int:
        f.kind = "int"
    elif kind_of is Decimal:
        f.kind = "money"
    elif kind_of is date:
        f.kind = "date"
    elif isinstance(kind_of, type) and issubclass(kind_of, BaseModel):
        f.kind, f.children = "group", fields(kind_of, f"{path}.", f"{key}.")
    elif origin in (list, tuple, set, frozenset):
        item, _ = _unwrap(args[0]) if args else (str, False)
        if isinstance(item, type) and issubclass(item, enum.Enum):
            f.kind, f.enum, f.choices = "enums", item.__name__, [e.value for e in item]
        elif item is RegionCode:
            f.kind = "regions"
        elif isinstance(item, type) and issubclass(item, BaseModel):
            f.kind = "rows"
            f.rows = [fields(item, f"{path}.{i}.", f"{key}.") for i in range(ROWS)]
            for row in f.rows:
                _mark_in_row(row)
            f.children = f.rows[0]
        else:
            f.kind = "lines"
    elif origin is dict:
        k, _ = _unwrap(args[0])
        if isinstance(k, type) and issubclass(k, enum.Enum):
            f.kind, f.enum, f.choices = "enum_dict", k.__name__, [e.value for e in k]
        else:
            f.kind = "pairs"
    return f


def _mark_in_row(row: list[Field]) -> None:
    """A row left empty is dropped (``_one``), so none of its inputs may be required by the browser."""
    for f in row:
        f.in_row = True
        _mark_in_row(f.children)
        for inner in f.rows:
            _mark_in_row(inner)


def visible(form_fields: list[Field]) -> list[Field]:
    """The fields a clerk fills in (not the stamps nor the agency's own code)."""
    return [f for f in form_fields if f.kind not in ("stamp", "self")]


def label_keys(form_fields: list[Field]) -> set[str]:
    """Every label key a form needs (nested ones included)."""
    keys: set[str] = set()
    for f in form_fields:
        if f.kind in ("stamp", "self"):
            continue
        keys.add(f.key)
        keys |= label_keys(f.children)
    return keys


# ------------------------------------------------------------------ reading a submitted form
def read(
    model: type[BaseModel], form: typing.Mapping[str, Any], *, now: datetime, agency: str
) -> tuple[BaseModel | None, dict[str, Any], dict[str, str]]:
    """The payload the form describes, validated by the contract; else None and the errors by field
    path (in Chinese). Also the raw values, to fill the form again."""
    form_fields = fields(model)
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    data = _collect(form_fields, form, values, errors, now=now, agency=agency)
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        found = {_row_path(path, values): text for path, text in errors_zh(exc).items()}
        return None, values, {**found, **errors}  # the form's own words first (必填…)
    return (None, values, errors) if errors else (payload, values, {})


def _collect(form_fields: list[Field], form, values: dict, errors: dict, *, now: datetime, agency: str) -> dict:
    data: dict[str, Any] = {}
    for f in form_fields:
        value = _one(f, form, values, errors, now=now, agency=agency)
        if value is not None:
            data[f.name.rsplit(".", 1)[-1]] = value
    return data


ROW_MAP = "__rows__:"


def _row_path(path: str, values: dict) -> str:
    """An error's path in the payload as the form's field name (empty rows are not in the payload)."""
    for key, kept in values.items():
        prefix = key.removeprefix(ROW_MAP) + "."
        if key.startswith(ROW_MAP) and path.startswith(prefix):
            index, _, rest = path[len(prefix) :].partition(".")
            if index.isdigit() and int(index) < len(kept):
                return f"{prefix}{kept[int(index)]}" + (f".{rest}" if rest else "")
    return path


def _text(form, name: str) -> str:
    return str(form.get(name, "") or "").strip()


def _one(f: Field, form, values: dict, errors: dict, *, now: datetime, agency: str) -> Any:
    if f.kind == "stamp":
        return now
    if f.kind == "self":
        return agency
    if f.kind == "group":
        return _collect(f.children, form, values, errors, now=now, agency=agency)
    if f.kind == "rows":
        rows, kept = [], []
        for number, row in enumerate(f.rows):
            filled = any(_text(form, c.name) for c in row if c.kind not in ("stamp", "self", "bool"))
            if filled:
                rows.append(_collect(row, form, values, errors, now=now, agency=agency))
                kept.append(number)
            else:
                for c in row:
                    values[c.name] = ""
        values[f"{ROW_MAP}{f.name}"] = kept  # the payload's row i is the form's row kept[i]
        return rows if rows or f.required else None
    if f.kind in ("enums", "regions"):  # checkboxes, or a multiple select of the regions offered
        chosen = [
            str(v)
            for v in (form.getlist(f.name) if hasattr(form, "getlist") else form.get(f.name, []))
            if str(v).strip()
        ]
        values[f.name] = chosen
        if f.kind == "regions":
            return chosen if chosen or f.required else None
        return [c for c in chosen if c in f.choices] if chosen or f.required else None
    if f.kind == "enum_dict":
        amounts = {}
        for choice in f.choices:
            text = _text(form, f"{f.name}.{choice}")
            values[f"{f.name}.{choice}"] = text
            if text:
                amounts[choice] = text
        return amounts if amounts or f.required else None
    text = _text(form, f.name)
    values[f.name] = text
    if not text:
        if f.required and f.kind not in ("bool", "lines"):
            errors[f.name] = "必填"
        return False if f.kind == "bool" and f.required else ([] if f.kind == "lines" and f.required else None)
    if f.kind == "bool":
        return text in ("1", "true", "on", "yes")
    if f.kind == "person":
        return text.upper()
    if f.kind == "lines":
        return [line.strip() for line in text.replace("，", ",").replace(",", "\n").splitlines() if line.strip()]
    if f.kind == "pairs":
        pairs = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            k, sep, v = line.replace("：", "=").replace(":", "=").partition("=")
            if not sep:
                errors[f.name] = "每行写成“键=值”，例如 1=12000.00"
                return None
            pairs[k.strip()] = v.strip()
        return pairs
    if f.kind == "datetime":
        try:
            from contracts.values import SHANGHAI

            return (
                datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
                if "T" in text or " " in text
                else datetime.fromisoformat(text + "T00:00").replace(tzinfo=SHANGHAI)
            )
        except ValueError:
            errors[f.name] = "时间格式应为 年-月-日 时:分"
            return None
    return text


def fresh_values(model: type[BaseModel]) -> dict[str, str]:
    """Initial values: fresh references where the contract wants an idempotency key."""
    return {
        f.name: f"{f.name.split('_')[0].upper()[:3]}-{uuid.uuid4().hex[:12]}"
        for f in fields(model)
        if f.kind == "fresh"
    }


# ------------------------------------------------------------------ errors in Chinese
ERROR_ZH = {
    "missing": "必填",
    "string_too_short": "至少填写 {min_length} 个字符",
    "string_too_long": "内容过长",
    "string_pattern_mismatch": "格式不正确",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "decimal_parsing": "应为金额，如 1234.50",
    "decimal_max_places": "金额最多两位小数",
    "date_from_datetime_parsing": "日期格式应为 年-月-日",
    "date_parsing": "日期格式应为 年-月-日",
    "datetime_parsing": "时间格式不正确",
    "uuid_parsing": "应为编号（UUID，如 1b4e28ba-2fa1-11d2-883f-0016d3cca427）",
    "enum": "请从列表中选择",
    "bool_parsing": "请选择是或否",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than_equal": "应不大于 {le}",
    "less_than": "应小于 {lt}",
    "too_short": "至少填写 {min_length} 项",
    "too_long": "最多填写 {max_length} 项",
    "extra_forbidden": "多余的字段",
    "list_type": "应为列表",
    "dict_type": "格式不正确",
    "int_type": "应为整数",
    "string_type": "应为文字",
    "date_type": "应为日期",
    "datetime_type": "应为时间",
    # the contracts' own checks (``contracts.values``)
    "money_syntax": "应为金额（元），如 1234.50",
    "money_range": "金额超出范围",
    "money_negative": "金额不能为负",
    "date_range": "日期应在 2000-01-01 至 2099-12-31 之间",
    "clearing_month": "月份格式应为 年-月，如 2026-11",
    "region_code": "不是统筹区代码（应为地市或省级代码，以 00 结尾）",
    "person_id": "身份证号码不正确（18位，校验位须正确）",
    "quantity_syntax": "数量格式不正确",
    "quantity_range": "数量超出范围",
    "quantity_precision": "数量最多四位小数",
    "quantity_float": "数量格式不正确",
}
# the contracts' own words for a few checks (``value_error`` messages), and what a clerk reads instead
MESSAGE_ZH = (
    ("unknown_region", "不是国家统筹区名单中的区划代码"),
    ("region", "区划代码不正确"),
    ("check digit", "身份证号码校验位不正确"),
    ("id number", "身份证号码不正确"),
    ("person", "身份证号码不正确"),
    ("institution", "机构编码应为 H 或 P 加 11 位数字"),
    ("negative", "金额不能为负"),
    ("two decimals", "金额最多两位小数"),
    ("money", "金额格式不正确"),
    ("end", "结束日期不能早于开始日期"),
    ("before", "日期先后顺序不正确"),
    ("after", "日期先后顺序不正确"),
    ("month", "月份格式应为 年-月，如 2026-11"),
    ("planned outage", "计划停机公告须填写开始和结束时间"),
)


def errors_zh(exc: ValidationError) -> dict[str, str]:
    """Each validation error as a Chinese sentence, by the dotted path of its field ("" for the whole)."""
    out: dict[str, str] = {}
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"] if not str(p).startswith(("function-", "decimal", "str")))
        out.setdefault(path, error_zh(error))
    return out


def error_zh(error: Any) -> str:
    kind = error.get("type", "")
    if kind in ERROR_ZH:
        try:
            return ERROR_ZH[kind].format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            return ERROR_ZH[kind]
    message = str(error.get("msg", "")).lower()
    for needle, words in MESSAGE_ZH:
        if needle in message:
            return words
    rule = re.search(r"\b[a-z]-\d\d\b", message)  # the contract's rule id, for a rule with no words here yet
    return "填写不正确，请核对" + (f"（规则 {rule.group(0).upper()}）" if rule else "")
