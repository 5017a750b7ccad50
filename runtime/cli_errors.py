"""What ``yidi`` says when it cannot reach the platform: one line naming the address it tried and
how to set the right one, and a non-zero exit, instead of a traceback."""

from __future__ import annotations

import asyncio

RUN_ENV = "var/run.env"  # written by `yidi run`: the exports a second terminal needs

# what `yidi run` exports for the commands of a second terminal (README "Operating it")
EXPORTED = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "MONGODB_URI",
    "YIDI_KEYS_DIR",
    "YIDI_TOPIC_PREFIX",
    "YIDI_CLOCK",
    "YIDI_KAFKA_IDEMPOTENCE",
)


def unreachable(exc: BaseException) -> str | None:
    """The one line for a connection failure (None: not one, let it show as it is)."""
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError
    from pymongo.errors import ConnectionFailure

    from runtime.config import Settings

    settings = Settings()
    hint = f"is `make run` running? `. {RUN_ENV}` sets the addresses"
    if isinstance(exc, KafkaConnectionError | NodeNotReadyError | KafkaTimeoutError):
        return f"cannot reach Kafka at {settings.kafka_bootstrap_servers} — {hint}"
    if isinstance(exc, ConnectionFailure):
        return f"cannot reach MongoDB at {_without_password(settings.mongodb_uri)} — {hint}"
    if isinstance(exc, ConnectionError | asyncio.TimeoutError):
        return f"cannot reach the platform ({type(exc).__name__}) — {hint}"
    return None


def _without_password(uri: str) -> str:
    """A MongoDB URI fit to print: its credentials left out."""
    scheme, sep, rest = uri.partition("://")
    if "@" in rest:
        rest = "…@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest


def run_env_lines(env: dict[str, str]) -> list[str]:
    """The ``export NAME=value`` lines a second terminal sources to reach this ``yidi run``."""
    import os
    import shlex
    import sys

    lines = [f"export {name}={shlex.quote(env[name])}" for name in EXPORTED if name in env]
    # `yidi` itself: the virtualenv's scripts first on the PATH
    return lines + [f'export PATH={shlex.quote(os.path.dirname(sys.executable))}:"$PATH"']


async def started(client):
    """``await client.start()``, the client closed again when it fails (no 'Unclosed' warning after the line)."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise
    return client


def quiet_client_logs() -> None:
    """The Kafka client's own connection errors are said once, by ``unreachable``, not logged before it."""
    import logging

    for name in ("aiokafka", "kafka", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
