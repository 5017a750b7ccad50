"""Clearing service 清算: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.clearing.handlers import ClearingHandlers
from services.clearing.authority import AUTHORITY
from services.wiring import build_service


def build(settings=None) -> Service:
    return build_service("clearing", lambda service: ClearingHandlers(service, default_calendar()).registry(), AUTHORITY, settings)


def main() -> None:
    build().run()
