"""Prepayment service 预付金: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.prepayment.handlers import registry
from services.prepayment.authority import AUTHORITY
from services.wiring import build_service


def build(settings=None) -> Service:
    return build_service("prepayment", lambda service: registry(service, default_calendar()), AUTHORITY, settings)


def main() -> None:
    build().run()
