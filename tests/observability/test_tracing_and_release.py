"""Tracing is off unless asked for, and on it records a span per request; a stopping sender gives its claim back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Litestar
from litestar.plugins.opentelemetry import OpenTelemetryPlugin
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.factories import settings_for_tests
from tests.fakes.fcm import FakeFCM
from tests.observability.test_metrics import _due_message, outbox  # noqa: F401  (the fixture)
from upscale_api import db
from upscale_api.app import create_app
from upscale_api.core import ApplicationCore
from upscale_api.notifications import sender
from upscale_api.notifications.fcm import messaging_app


def test_tracing_is_off_by_default() -> None:
    app = create_app(settings_for_tests())

    assert not any(isinstance(plugin, OpenTelemetryPlugin) for plugin in app.plugins)


async def test_with_an_exporter_every_request_is_a_span_named_by_its_route(database_url: str) -> None:
    exporter = InMemorySpanExporter()
    core = ApplicationCore(settings_for_tests(), database_url=database_url, span_exporter=exporter)
    async with AsyncTestClient(app=Litestar(plugins=[core])) as traced:
        answer = await traced.get("/v1/cities/kranj/action-types", headers={"X-Request-ID": "traced-1"})
        plugin = traced.app.plugins.get(OpenTelemetryPlugin)
        assert plugin.config.tracer_provider is not None
        plugin.config.tracer_provider.force_flush()  # type: ignore[attr-defined]

    assert answer.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/cities/{city}/action-types"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/v1/cities/{city}/action-types"
    assert span.attributes["upscale.request_id"] == "traced-1"
    assert span.attributes["http.status_code"] == 200


async def test_a_stopping_sender_puts_its_unsent_claim_back_at_once(outbox: db.Pool) -> None:  # noqa: F811
    await _due_message(outbox, __import__("datetime").timedelta(0))
    now = datetime.now(UTC)
    await sender.plan_due(outbox, now)
    with FakeFCM() as fcm:
        app: Any = messaging_app("demo-upscale", endpoint=fcm.url)
        handled = await sender.send_batch(outbox, app, now, stopping=lambda: True)
        received = fcm.received
        then_sent = await sender.send_batch(outbox, app, now)

    assert handled == 0
    assert received == []
    assert then_sent == 1  # due at once: no timeout to wait out, and attempted once only
    row = await outbox.fetchrow("SELECT status, attempts FROM notification_deliveries")
    assert row is not None and (row["status"], row["attempts"]) == ("sent", 1)
