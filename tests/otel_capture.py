"""The OpenTelemetry SDK's in-memory exporter and metric reader, installed once per process
(the global providers can be set only once), for tests that read what the client reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_installed: tuple[InMemorySpanExporter, InMemoryMetricReader] | None = None


def installed() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    """The process's exporter and reader; spans and metrics from before are cleared."""
    global _installed
    if _installed is None:
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _installed = exporter, reader
    exporter, reader = _installed
    exporter.clear()
    reader.get_metrics_data()  # collecting resets nothing for cumulative sums: see `points`
    return exporter, reader


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """Every data point collected now, by metric name (cumulative since the process began)."""
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def texts(spans: tuple[ReadableSpan, ...], reader: InMemoryMetricReader) -> Iterator[str]:
    """Every name and value a span, span event or metric data point carries, as text."""
    for span in spans:
        yield span.name
        for key, value in (span.attributes or {}).items():
            yield f"{span.name} {key}={value}"
        for event in span.events:
            yield event.name
            for key, value in (event.attributes or {}).items():
                yield f"{span.name} event {event.name} {key}={value}"
    for name, found in points(reader).items():
        for point in found:
            yield f"{name} {dict(point.attributes or {})}"
