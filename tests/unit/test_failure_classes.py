"""Nothing lost silently: how the runtime reads a failure (runtime.failures.classify)."""

from __future__ import annotations

from decimal import InvalidOperation

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError, RequestTimedOutError
from pydantic import ValidationError
from pymongo.errors import AutoReconnect, DocumentTooLarge, NetworkTimeout, ServerSelectionTimeoutError, WriteError

from contracts.his import FeeLine
from runtime.failures import classify


@pytest.mark.parametrize(
    "exc, kind",
    [
        (AutoReconnect(), "transient"),
        (NetworkTimeout(), "transient"),
        (ServerSelectionTimeoutError(), "transient"),
        (KafkaConnectionError(), "transient"),
        (RequestTimedOutError(), "transient"),
        (ConnectionError(), "transient"),
        (TimeoutError(), "transient"),
        (InvalidOperation(), "poison"),
        (DocumentTooLarge("16 MB"), "poison"),
        (WriteError("refused", 121), "poison"),
        (MessageSizeTooLargeError(), "poison"),
        (KeyError("a bug"), "fault"),
        (RuntimeError("a bug"), "fault"),
    ],
)
def test_only_the_network_and_timeouts_are_transient(exc, kind):
    assert classify(exc) == kind


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("quantity", "1e30", "quantity_range"),
        ("unit_price", "1e30", "money_range"),
        ("amount", "20000000.00", "less_than_equal"),
    ],
)
def test_a_line_out_of_range_is_refused_before_any_arithmetic(field, value, error):
    line = {"line_no": 1, "item_code": "X", "item_name": "X", "quantity": "1", "unit_price": "1.00", "amount": "1.00"}
    with pytest.raises(ValidationError) as refused:
        FeeLine.model_validate({**line, field: value})
    assert error in {e["type"] for e in refused.value.errors()}


def test_the_same_id_with_another_payload_is_a_conflict_not_a_duplicate():
    """The inbox keeps each applied message's id with a fingerprint of its payload."""
    from datetime import UTC, datetime

    from contracts.parties import ChangeAction, ChangeParty
    from runtime.envelopes import envelope_for
    from runtime.failures import classify
    from runtime.inbox import ConflictingCopy, inbox_mark, inbox_verdict

    first = envelope_for(
        "parties.change.v2",
        ChangeParty(change_id="a", action=ChangeAction.REMOVE, version=1, code="X"),
        producer="A000000",
        now=datetime.now(UTC),
    )
    other = first.model_copy(
        update={"payload": ChangeParty(change_id="a", action=ChangeAction.REMOVE, version=1, code="Y")}
    )
    assert inbox_verdict([], first) == "new"
    assert inbox_verdict([inbox_mark(first)], first) == "duplicate"
    assert inbox_verdict([str(first.event_id)], first) == "duplicate"  # a mark kept before fingerprints
    assert inbox_verdict([inbox_mark(first)], other) == "conflict"
    assert classify(ConflictingCopy("x")) == "poison"
