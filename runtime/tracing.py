"""Traces 链路追踪: one span per handled message, its context carried in the Kafka headers of every
record published while it is handled (W3C ``traceparent``/``tracestate``), so one settlement is one
trace across the HIS request, the treating place, the insured place and the answer.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: then
``configure`` installs the SDK's tracer provider, which exports over OTLP/HTTP in batches. Otherwise
no provider is installed and the OpenTelemetry API is a no-op: a span costs a function call, and a
record that arrives with a ``traceparent`` still passes it on (its span is not recorded here, but the
trace is not broken for the services that do export). The exporter's other settings are the
standard ``OTEL_*`` variables (``OTEL_BSP_SCHEDULE_DELAY``, ``OTEL_EXPORTER_OTLP_HEADERS``…)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

log = logging.getLogger(__name__)

HEADERS = ("traceparent", "tracestate")  # W3C Trace Context: the only headers read or written here
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_tracer = trace.get_tracer("yidi.runtime")


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an OTLP endpoint is configured (traces are exported)."""
    env = os.environ if environ is None else environ
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def configure(service: str, instance: str) -> bool:
    """Install the SDK's provider exporting to the configured OTLP endpoint, once per process;
    nothing when none is configured. Returns whether traces are exported."""
    if not enabled():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return True  # already installed (two services in one process share it)
    resource = Resource.create({"service.name": f"yidi-{service}", "service.instance.id": instance})
    provider = TracerProvider(resource=resource)  # flushed and shut down at exit (the SDK's atexit)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    log.info("traces exported over OTLP/HTTP as yidi-%s", service)
    return True


def from_record(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """The trace headers of a Kafka record (others ignored; one that is not text is dropped)."""
    found: dict[str, str] = {}
    for key, value in headers or ():
        if key in HEADERS and value:
            try:
                found[key] = value.decode("ascii")[:512]
            except UnicodeDecodeError:
                continue  # a hostile header: the message is handled in a trace of its own
    return found


def carrier() -> dict[str, str]:
    """The current span's context as headers, to travel with a record (empty when there is none)."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def with_context(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with the current trace context added, unless they carry one already (an outbox
    entry keeps the context of the message that caused it, whoever sweeps it out)."""
    if "traceparent" in headers:
        return headers
    return {**headers, **carrier()}


@contextmanager
def handling(service: str, topic: str, trace_headers: Mapping[str, str] | None) -> Iterator[Span]:
    """The span of one message handled by ``service``: a child of the span that published it, when
    its record carried one; current while the message is handled, so what it publishes carries it."""
    parent = propagate.extract(dict(trace_headers)) if trace_headers else otel_context.Context()
    with _tracer.start_as_current_span(
        f"{topic} process",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": topic,
            "yidi.service": service,
        },
        record_exception=False,  # a handler's error text may name a person: only its class is kept
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def mark(result: str) -> None:
    """How the message being handled ended (applied, duplicate, refused, dead_lettered, …), on its span."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("yidi.result", result)
    if result in ("dead_lettered", "unauthenticated", "failed"):
        span.set_status(Status(StatusCode.ERROR, result))
