"""Prepayment service 预付金: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.service import Service
from services.prepayment.handlers import PrepaymentHandlers


def build(settings: Settings | None = None) -> Service:
    service = Service(settings or Settings(service="prepayment"))
    service.register(PrepaymentHandlers(service, default_calendar()).registry())
    return service


def main() -> None:
    build().run()
