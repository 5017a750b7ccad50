"""Clearing service 清算: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.service import Service
from services.clearing.handlers import ClearingHandlers


def build(settings: Settings | None = None) -> Service:
    service = Service(settings or Settings(service="clearing"))
    service.register(ClearingHandlers(service, default_calendar()).registry())
    return service


def main() -> None:
    build().run()
