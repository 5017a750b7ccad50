"""JSON logs that carry the correlation id of the flow being handled, and no personal data.

Redaction happens in the formatter (003 §5 (三)), on everything a line is made of: the message
with its arguments, the exception text and traceback, the stack, extra fields, and once more on
the serialised line. A filter would only see the message: an exception's text (a validation
error quoting a payload, a traceback) would leave unmasked. Masked: citizen ID numbers (18
characters: replaced by the person's pseudonym, so a line still names the aggregate and partition
key it is about; the old 15-digit ones masked), values of name and address fields
(``"name": "张三"``, ``name='张三'``, ``姓名：张三``), mobile and landline phone numbers.

``redact`` is the one redaction of the platform: log lines, and every detail text that leaves a
service (dead letters, refusals, ``runtime.consuming``) go through it.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from runtime.privacy import pseudonym

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_OLD_ID_NUMBER = re.compile(r"(?<!\d)\d{15}(?!\d)")  # 15-digit numbers issued before 1999
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")  # area code, then the number
# Fields whose value is a person's name or address, in JSON, Python reprs and key=value text;
# the quotes may be escaped (a JSON document quoted inside a message).
_FIELDS = (
    r"(?:patient_|insured_|person_|full_|contact_)?name|address|"
    r"参保人姓名|患者姓名|姓名|住址|地址"
)
_QUOTED_FIELD = re.compile(
    rf"(?P<key>(?<![A-Za-z_])(?:{_FIELDS})\\*[\"']?\s*[:=：]\s*)(?P<q>\\*[\"'])"
    r"(?P<value>(?:[^\"'\\]|\\u[0-9a-fA-F]{4}){1,200})(?P=q)"
)
_NAME_TEXT = re.compile(
    r"(?P<key>(?:姓名|患者|参保人|(?<![A-Za-z_])(?:patient|name))\s*[=:：]\s*)"
    r"(?P<value>[\u4e00-\u9fff·]{2,4})"
)


def mask_old_id(number: str) -> str:
    return number[:4] + "*" * 10 + number[-1:]


def mask_phone(number: str) -> str:
    digits = number.replace("-", "").replace(" ", "")
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def _mask_value(value: str) -> str:
    """The first character, so a line stays readable (``张**``); escaped text entirely."""
    return "***" if value.startswith("\\") else value[0] + "**"


def redact(text: str) -> str:
    """``text`` with ID numbers replaced by their pseudonym, names, addresses and phone numbers masked."""
    text = _ID_NUMBER.sub(lambda m: pseudonym(m.group(0)), text)
    text = _OLD_ID_NUMBER.sub(lambda m: mask_old_id(m.group(0)), text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)
    text = _LANDLINE.sub(lambda m: mask_phone(m.group(0)), text)
    text = _QUOTED_FIELD.sub(lambda m: f"{m['key']}{m['q']}{_mask_value(m['value'])}{m['q']}", text)
    return _NAME_TEXT.sub(lambda m: m["key"] + _mask_value(m["value"]), text)


def _redact_data(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_data(v) for v in value]
    return value  # anything else is serialised by str(): the pass over the whole line catches it


class RedactingJsonFormatter(JsonFormatter):
    """The JSON formatter, with every part of the line redacted (message, arguments, exception
    text and traceback, stack, extra fields), then the serialised line once more."""

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return _redact_data(super().process_log_record(log_data))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def formatter() -> RedactingJsonFormatter:
    # Chinese written as itself, not \\uXXXX escapes: readable, and names are recognised
    return RedactingJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


class _ContextFilter(logging.Filter):
    """Adds the flow's correlation id and the instance to every record (redaction is the formatter's)."""

    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service, self.instance = service, instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.service, record.instance = self.service, self.instance
        return True


def configure(service: str, instance: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    handler.addFilter(_ContextFilter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
    faststream = logging.getLogger("faststream")  # its own colour handler would bypass the JSON one
    faststream.handlers.clear()
    faststream.propagate = True
