"""JSON logs that carry the correlation id of the flow being handled, and never an ID number."""
from __future__ import annotations

import contextvars
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from contracts.values import mask_person_id

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def redact(text: str) -> str:
    """Mask 18-character citizen ID numbers wherever they appear."""
    return _ID_NUMBER.sub(lambda m: mask_person_id(m.group(0)), text)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str, instance: str) -> None:
        super().__init__()
        self.service, self.instance = service, instance

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.service, record.instance = self.service, self.instance
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def configure(service: str, instance: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                       rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"}))
    handler.addFilter(_ContextFilter(service, instance))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
    faststream = logging.getLogger("faststream")   # its own colour handler would bypass the JSON one
    faststream.handlers.clear()
    faststream.propagate = True
