"""Collab service 业务协同: wiring only."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.collab.handlers import registry
from services.collab.authority import AUTHORITY
from services.wiring import build_service


def build(settings=None) -> Service:
    return build_service("collab", lambda service: registry(service, default_calendar()), AUTHORITY, settings)


def main() -> None:
    build().run()
