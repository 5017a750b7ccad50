"""Filing service 备案: wiring only. Region policies are validated at start-up: a policy that
breaks a national bound stops the service with a message naming region, field and bound."""
from __future__ import annotations

from runtime.calendar import default_calendar
from runtime.service import Service
from services.filing.domain import load_policies
from services.filing.handlers import registry
from services.filing.authority import AUTHORITY
from services.wiring import build_service


def build(settings=None) -> Service:
    policies = load_policies()
    return build_service("filing", lambda service: registry(service, policies, default_calendar()), AUTHORITY, settings)


def main() -> None:
    build().run()
