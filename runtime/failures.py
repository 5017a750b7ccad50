"""What a failure says about the message that met it: transient (wait and try again), poison
(dead-lettered with its reason, the partition moves on) or a fault of ours (tried again until
someone fixes it; the offset never passes it)."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaConnectionError, KafkaError
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DocumentTooLarge,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WTimeoutError,
)

from runtime.inbox import ConflictingCopy


def classify(exc: BaseException) -> str:
    """What a failure says about the message. Only the network and timeouts are ``transient``: the
    message waits and is tried again. Failures that will recur with the same input (decimal
    arithmetic, a document or record over its size limit, a write the database refuses) are
    ``poison``: dead-lettered with their reason, the partition moves on. Anything else is a fault of
    ours (``fault``): the message is tried again and again with backoff, its offset never advances,
    and the handler-failing alert pages someone; nothing is skipped silently."""
    if isinstance(
        exc,
        (
            AutoReconnect,
            ConnectionFailure,
            ExecutionTimeout,
            WTimeoutError,
            ConnectionError,
            asyncio.TimeoutError,
            NotYet,
        ),
    ):
        return "transient"
    if isinstance(exc, KafkaError):
        return "transient" if getattr(exc, "retriable", False) or isinstance(exc, KafkaConnectionError) else "poison"
    if isinstance(exc, (ArithmeticError, DocumentTooLarge, OperationFailure, PyMongoError, ConflictingCopy)):
        return "poison"
    return "fault"


class NotYet(Exception):
    """What the message depends on is still on its way (another partition's message, fired at the
    same moment, not applied yet): transient, the message is tried again; a deadline's is armed
    again a moment later instead, so that its partition goes on (``runtime.consuming``)."""


class PoisonMessage(Exception):
    """A message that is well-formed JSON but can never be handled; dead-lettered with ``reason``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
