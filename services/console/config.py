"""The console's settings: the shared ones (``runtime.config.Settings``: broker, database, keys, clock)
and its own, each read from ``YIDI_CONSOLE_<NAME>``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.config import Settings

PORT = 9106
SERVICES = ("filing", "settlement", "clearing", "prepayment", "collab", "supervision")


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIDI_CONSOLE_", extra="ignore")

    port: int = Field(PORT, description="the console's HTTP port")
    host: str = "0.0.0.0"
    cookie_secure: bool = Field(
        True,
        description=(
            "Secure cookies always (the default, for a console served over https); `make run` sets false for "
            "http://127.0.0.1, and cookies are then still Secure on any request that came over https"
        ),
    )
    trust_forwarded_proto: bool = Field(
        False,
        description=(
            "behind a proxy that terminates TLS: take its X-Forwarded-Proto as the scheme, so cookies are Secure "
            "whenever the browser spoke https (set only when the proxy overwrites that header)"
        ),
    )
    session_hours: float = Field(8, gt=0, description="a session ends this long after login")
    idle_minutes: float = Field(30, gt=0, description="… or after this long without a request")
    max_failures: int = Field(5, ge=1, description="failed logins in a row before the account is locked")
    lockout_minutes: float = Field(15, gt=0, description="how long a locked account stays locked")
    outcome_wait_seconds: float = Field(8, gt=0, description="how long an action waits for its outcome")
    filing_url: str = "http://127.0.0.1:9101"
    settlement_url: str = "http://127.0.0.1:9102"
    clearing_url: str = "http://127.0.0.1:9103"
    prepayment_url: str = "http://127.0.0.1:9104"
    collab_url: str = "http://127.0.0.1:9105"
    supervision_url: str = "http://127.0.0.1:9107"

    def url(self, service: str) -> str:
        return getattr(self, f"{service}_url").rstrip("/")


def shared() -> Settings:
    """The settings every deployable reads (database ``yidi_console`` unless YIDI_MONGODB_DATABASE)."""
    return Settings(service="console")
