"""Filing service 备案: wiring only. Region policies are validated at start-up: a policy that
breaks a national bound stops the service with a message naming region, field and bound."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.config import Settings
from runtime.service import Service
from services.filing.domain import load_policies
from services.filing.handlers import FilingHandlers


def build(settings: Settings | None = None) -> Service:
    service = Service(settings or Settings(service="filing"))
    service.register(FilingHandlers(service, load_policies(), default_calendar()).registry())
    return service


def main() -> None:
    build().run()
