"""The contract bounds of a HIS request are derived from the broker's message limit
(``contracts.envelope.BROKER_MESSAGE_LIMIT``): the largest request the contract allows causes no
message the broker would refuse. A request of 5,000 lines once derived a 1.07 MB
``settlement.treating-assessed``, which the producer refused, and its person's outbox was stuck.
Here the largest allowed requests go through the treating place's real step (S-02..S-04, S-15,
S-18) and every message they cause is measured as it goes on the wire (envelope and signature)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from contracts.envelope import BROKER_MESSAGE_LIMIT
from contracts.his import BILL_LIMIT, LINE_LIMIT, LINE_SPLIT_BYTES, MAX_LINE_NO, MAX_LINES, FeeLine, RefundRequested
from contracts.settlement_hops import RefundAssessed
from contracts.settlement_values import CatalogueClass, LineSplit, MajorFeeCategory
from contracts.values import EligibilityBasis, FilingCategory
from runtime.envelopes import encode, envelope_for
from runtime.parties import init_keys, signer_for
from services.settlement.domain.rates import Entitlement
from services.settlement.domain.treating import assess, fee_detail

from .settlement_support import catalogue_for, discharge, outpatient, policies

NOW = datetime(2025, 3, 12, 1, 0, tzinfo=UTC)
FILED = Entitlement(EligibilityBasis.LONG_TERM, FilingCategory.LONG_TERM_RESIDENT)
CODE = "Z" * 50  # the longest item code, not in any catalogue: split as self-paid, sent unclassified


def largest_lines() -> list[FeeLine]:
    """MAX_LINES lines with the largest line numbers and codes, and amounts as long as the bill allows."""
    amount = (BILL_LIMIT / MAX_LINES).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
    first = MAX_LINE_NO - MAX_LINES + 1
    return [
        FeeLine(
            line_no=first + i,
            item_code=CODE,
            item_name="项" * 200,
            quantity="1",
            unit_price=str(amount),
            amount=str(amount),
        )
        for i in range(MAX_LINES)
    ]


def on_the_wire(topic: str, payload, keys) -> int:
    value = encode(envelope_for(topic, payload, producer="settlement", now=NOW))
    headers = signer_for(keys, "settlement").headers(value)
    return len(value) + sum(len(k) + len(v) for k, v in headers.items()) + 64  # key and record framing


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, ["settlement"])
    return root


def test_the_largest_split_line_fits_its_budget():
    worst = LineSplit(
        line_no=MAX_LINE_NO,
        item_code=CODE,
        catalogue_class=CatalogueClass.A,
        major_category=max(MajorFeeCategory, key=len),
        total=LINE_LIMIT * 5,
        in_scope=LINE_LIMIT,
        b_class_self_pay=LINE_LIMIT,
        over_limit_self_pay=LINE_LIMIT,
        self_paid=LINE_LIMIT * 2,
        quantity=Decimal("999999.9999"),
        occurred_on=date(2026, 10, 12),
    )
    assert len(worst.model_dump_json().encode()) + 1 <= LINE_SPLIT_BYTES  # and the comma between lines


def test_a_request_over_the_bounds_is_refused_naming_the_field():
    with pytest.raises(ValidationError, match="fee_lines"):
        outpatient(largest_lines() + largest_lines()[:1])
    with pytest.raises(ValidationError, match="item_code"):
        FeeLine(line_no=1, item_code="\x00" * 50, item_name="x", quantity="1", unit_price="1.00", amount="1.00")
    with pytest.raises(ValidationError, match="line_no"):
        FeeLine(line_no=MAX_LINE_NO + 1, item_code="A", item_name="x", quantity="1", unit_price="1.00", amount="1.00")


def test_every_message_the_largest_outpatient_request_causes_fits_the_broker(keys):
    request = outpatient(largest_lines())
    policy = policies().select(request.insured_region, request.visit_date)
    assessed = assess(request, FILED, catalogue_for(request, policy))
    assert len(assessed.lines) == MAX_LINES
    assert on_the_wire("settlement.treating-assessed.v1", assessed, keys) <= BROKER_MESSAGE_LIMIT
    refund = RefundRequested(
        request_id="R" * 64,
        person_id=request.person_id,
        settlement_id="S" * 64,
        institution_code=request.institution_code,
        kind="ordinary",
        line_nos=[assessed.lines[0].line_no],
    )
    rest = assess(
        request.model_copy(update={"fee_lines": request.fee_lines[1:]}), FILED, catalogue_for(request, policy)
    )  # the remaining lines, assessed again (S-15)
    partial = RefundAssessed(
        reversal_id="R-" + "f" * 62,
        settlement_id=refund.settlement_id,
        person_id=request.person_id,
        line_nos=refund.line_nos or [],
        assessment=rest,
    )
    assert on_the_wire("settlement.refund-assessed.v1", partial, keys) <= BROKER_MESSAGE_LIMIT


def test_every_message_the_largest_stay_causes_fits_the_broker(keys):
    request = discharge(
        largest_lines(),
        admitted=date(2025, 3, 1),
        discharged=date(2025, 3, 10),
        insured_region="340200",
        treating_region="420100",
    )
    policy = policies().select(request.insured_region, request.discharge_date)
    catalogue = catalogue_for(request, policy)
    assessed = assess(request, FILED, catalogue)
    assert on_the_wire("settlement.treating-assessed.v1", assessed, keys) <= BROKER_MESSAGE_LIMIT
    detail = fee_detail(request, catalogue, assessed.settlement_id, date(2025, 3, 10))  # S-18: every line
    assert len(detail.lines) == MAX_LINES
    assert on_the_wire("settlement.fee-detail.v1", detail, keys) <= BROKER_MESSAGE_LIMIT
