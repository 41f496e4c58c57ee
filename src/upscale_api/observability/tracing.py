"""OpenTelemetry tracing, off unless ``UPSCALE_OTEL_ENDPOINT`` names an OTLP/HTTP traces endpoint.

When on, every request becomes a server span (Litestar's OpenTelemetry plugin,
named by method and route template) exported in batches over OTLP/HTTP, with the
service's resource (``service.name`` ``upscale-api``; ``OTEL_RESOURCE_ATTRIBUTES``
adds more). Off, nothing is imported beyond the API and no span is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from upscale_api.settings import Settings

if TYPE_CHECKING:
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

SERVICE_NAME = "upscale-api"


def tracer_provider(exporter: SpanExporter) -> TracerProvider:
    """A tracer provider sending every finished span to ``exporter`` in batches."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def tracing_plugin(settings: Settings, exporter: SpanExporter | None = None) -> OpenTelemetryPlugin | None:
    """Litestar's OpenTelemetry plugin exporting to ``UPSCALE_OTEL_ENDPOINT`` (or to ``exporter``), or None when off."""
    if exporter is None and not settings.upscale_otel_endpoint:
        return None
    from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.upscale_otel_endpoint)
    # No header is captured: Authorization and the request id stay out of spans' attributes.
    return OpenTelemetryPlugin(
        OpenTelemetryConfig(tracer_provider=tracer_provider(exporter), exclude_spans=["receive", "send"])
    )


def flush_spans(plugin: OpenTelemetryPlugin) -> None:
    """Export the spans still buffered and stop the plugin's tracer provider (at the end of the lifespan)."""
    provider = plugin.config.tracer_provider
    shutdown = getattr(provider, "shutdown", None)
    if shutdown is not None:
        shutdown()
