"""One settlement is one trace (runtime.tracing): a general-outpatient visit sent by the hospital with
a span of its own, handled by a settlement process (the treating place, then the insured place,
then the treating place again with the insured place's decision) and by a prepayment process (the
completed settlement), every process exporting over OTLP/HTTP to a collector this test runs on a
free port. The hospital finds the trace on its answer's headers, and the collector holds one trace
with a span per hop, each the child of the hop that sent its message."""

from __future__ import annotations

import gzip
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiokafka import AIOKafkaConsumer
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind
from support import Bus, ServiceProcess, eventually, new_prefix
from test_settlement_wire import HOSPITAL, MARCH, OUTPATIENT, RESULT, ecg_bill, outpatient, person

from runtime import tracing

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str


class Collector(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver (protobuf, as the SDK's exporter sends): keeps every span."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self.lock:
            return [s for s in self.spans if s.trace_id == trace_id]


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.server.spans += [
                        ReceivedSpan(
                            s.trace_id.hex(),
                            s.span_id.hex(),
                            s.parent_span_id.hex(),
                            s.name,
                            attributes["service.name"],
                        )
                        for s in scope.spans
                    ]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        return None


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def answer_headers(bus: Bus, correlation_id: str) -> dict[str, str]:
    """The trace headers of the hospital's answer on settlement.result.v2, as its HIS reads them."""
    consumer = AIOKafkaConsumer(
        bus.prefix + RESULT, bootstrap_servers=bus.stack.bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    if json.loads(record.value).get("correlation_id") == correlation_id:
                        return tracing.from_record(record.headers)
        raise AssertionError("no answer on settlement.result.v2")
    finally:
        await consumer.stop()


async def test_one_settlement_is_one_trace_across_its_processes(stack, collector):
    prefix = new_prefix(stack, "tracing")
    otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    # the hospital's own tracer: not the process-wide provider, which the other tests leave alone
    his = TracerProvider(resource=Resource.create({"service.name": f"his:{HOSPITAL}"}))
    his.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{collector.endpoint}/v1/traces")))
    tracer = his.get_tracer("his")
    async with Bus(stack, prefix) as bus:
        await bus.set_clock(MARCH)
        settlement = ServiceProcess(stack, "settlement", prefix, YIDI_SETTLEMENT_INSURED_TIMEOUT_MS="20000", **otel)
        prepayment = ServiceProcess(stack, "prepayment", prefix, **otel)
        try:
            settlement.start()
            prepayment.start()
            correlation_id = uuid.uuid4()
            with tracer.start_as_current_span(f"{OUTPATIENT} send", kind=SpanKind.PRODUCER) as sent:
                await bus.publish(
                    OUTPATIENT,
                    outpatient(person(), "TRACE-1", ecg_bill("58.00"), date(2025, 3, 5)),
                    producer=f"his:{HOSPITAL}",
                    correlation_id=correlation_id,
                )
            trace_id = format(sent.get_span_context().trace_id, "032x")

            headers = await answer_headers(bus, str(correlation_id))
            assert headers["traceparent"].split("-")[1] == trace_id  # the answer belongs to the request's trace
            context = propagate.extract(headers)
            with tracer.start_as_current_span(f"{RESULT} receive", context=context, kind=SpanKind.CONSUMER):
                pass
            his.force_flush()

            hops = {
                (f"his:{HOSPITAL}", f"{OUTPATIENT} send"),
                ("yidi-settlement", f"{OUTPATIENT} process"),  # the treating place
                ("yidi-settlement", "settlement.treating-assessed.v1 process"),  # the insured place
                ("yidi-settlement", "settlement.insured-decided.v1 process"),  # the treating place: the answer
                ("yidi-prepayment", "settlement.completed.v1 process"),  # the insured place's fund
                (f"his:{HOSPITAL}", f"{RESULT} receive"),
            }

            def whole() -> list[ReceivedSpan]:
                spans = collector.of_trace(trace_id)
                assert hops <= {(s.service, s.name) for s in spans}, sorted((s.service, s.name) for s in spans)
                return spans

            spans = await eventually(whole, timeout=30)
            ids = {s.span_id for s in spans}
            roots = [s for s in spans if not s.parent_id]
            assert [r.name for r in roots] == [f"{OUTPATIENT} send"]  # one root: the hospital's request
            assert all(s.parent_id in ids for s in spans if s.parent_id)  # every hop is a child of one in the trace
            by_name, by_id = {s.name: s for s in spans}, {s.span_id: s for s in spans}
            assessed = by_name["settlement.treating-assessed.v1 process"]
            assert by_id[assessed.parent_id].name == f"{OUTPATIENT} process"
            decided = by_name["settlement.insured-decided.v1 process"]
            assert decided.parent_id == assessed.span_id
            assert by_name[f"{RESULT} receive"].parent_id == decided.span_id
            assert by_name["settlement.completed.v1 process"].parent_id == decided.span_id
        finally:
            settlement.stop()
            prepayment.stop()
            his.shutdown()
