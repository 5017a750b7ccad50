"""runtime/tracing.py with no OTLP endpoint (the default of ``make run`` and of this test process): no
SDK is installed, nothing is recorded, yet a record's trace context is read from hostile headers safely
and passed on to what its handling publishes, so services that do export keep one trace."""

from __future__ import annotations

from runtime import tracing

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_off_without_an_endpoint_and_on_with_one():
    assert not tracing.enabled({})
    assert not tracing.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "})
    assert tracing.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"})
    assert tracing.enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/v1/traces"})


def test_only_the_trace_headers_are_read_and_a_hostile_one_is_dropped():
    headers = [
        ("yidi-signature", b"eyJhbGciOi..."),
        ("traceparent", PARENT.encode()),
        ("tracestate", "供应商=\u00ff".encode()),  # not ASCII: dropped, the message still handled
        ("traceparent-extra", b"x"),
    ]
    assert tracing.from_record(headers) == {"traceparent": PARENT}
    assert tracing.from_record(None) == {}
    assert len(tracing.from_record([("traceparent", b"0" * 10_000)])["traceparent"]) == 512


def test_with_no_sdk_a_handled_message_passes_its_trace_on_and_records_nothing():
    assert tracing.carrier() == {}  # no current span: nothing to carry
    with tracing.handling("settlement", "his.settlement-requested.v1", {"traceparent": PARENT}) as span:
        assert not span.is_recording()
        tracing.mark("applied")  # no effect on a span that does not record
        carried = tracing.with_context({"content-type": "application/json"})
        assert carried["traceparent"].split("-")[1] == PARENT.split("-")[1]  # the same trace
        kept = tracing.with_context({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"})
        assert kept["traceparent"].split("-")[1] == "1" * 32  # an outbox entry keeps its cause's trace
    assert tracing.carrier() == {}
    with tracing.handling("settlement", "his.settlement-requested.v1", {"traceparent": "garbage"}):
        assert tracing.carrier() == {}  # an unreadable parent: a message of no trace, handled all the same
