"""Collab service 业务协同: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.service import Service
from services.collab.handlers import CollabHandlers


def build(settings: Settings | None = None) -> Service:
    service = Service(settings or Settings(service="collab"))
    service.register(CollabHandlers(service, default_calendar()).registry())
    return service


def main() -> None:
    build().run()
