"""The composition root: what the app and the ``upscale`` command are made of, in one place.

:class:`ApplicationCore` is a Litestar plugin. As the app is built it registers
every route, the one request dependency (the :class:`~upscale_api.context.Context`),
the strict request body decoding, the exception handlers (RFC 9457 problems), the
middleware (request id, shutdown refusal and metrics; rate limits; the path and query
checks), observability (``/metrics`` when a token is set, structlog, tracing when an
endpoint is set), the OpenAPI document and the lifespan; as the command line is built
it adds every ``upscale`` command. A new domain or the dashboard plugs in here and
nowhere else.

At start-up the lifespan connects to PostgreSQL, refuses to run on an outdated
schema, applies the definition files under ``campaigns/`` (validated; a bad file
stops start-up with file, field and reason), loads the catalogue and, for
``upscale dev``, starts the worker's jobs in the same process. Outside
Auth-emulator mode (always in production) the app is not built at all without
usable Google credentials (:func:`upscale_api.auth.check_google_credentials`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import CLIPluginProtocol, InitPluginProtocol
from litestar.plugins.structlog import StructlogConfig, StructlogPlugin

from upscale_api import commands, db, migrations
from upscale_api.actions.routes import ActionController
from upscale_api.auth import TokenVerifier, check_google_credentials
from upscale_api.body import StrictRequest
from upscale_api.campaigns.routes import AdminCampaignController
from upscale_api.catalogue.routes import CatalogueController
from upscale_api.catalogue.service import Catalogue
from upscale_api.consents.routes import ConsentController
from upscale_api.context import provide_context
from upscale_api.dashboard.routes import configure_dashboard
from upscale_api.definitions.commands import campaigns_group
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.demo.commands import seed_demo_command
from upscale_api.errors import EXCEPTION_HANDLERS, database_unavailable
from upscale_api.health.routes import HealthController
from upscale_api.impact.routes import ImpactController
from upscale_api.input_guard import input_guard
from upscale_api.notifications.routes import DeviceController, NotificationController
from upscale_api.observability.logs import logging_config
from upscale_api.observability.routes import MetricsController
from upscale_api.observability.tracing import flush_spans, tracing_plugin
from upscale_api.openapi import ContractJsonRenderPlugin
from upscale_api.opendata.routes import OpenDataController
from upscale_api.participation.routes import CampaignController, MyCampaignController
from upscale_api.privacy.commands import privacy_group
from upscale_api.privacy.routes import PrivacyController
from upscale_api.ratelimit.middleware import rate_limits
from upscale_api.reports.commands import report_group
from upscale_api.reports.routes import CityReportController
from upscale_api.research.commands import research_group
from upscale_api.research.routes import StudyController, SurveyController
from upscale_api.residents.routes import ResidentController
from upscale_api.reviews.routes import HeldEntryController
from upscale_api.rewards.commands import rewards_group
from upscale_api.rewards.keys import PartnerKeys
from upscale_api.rewards.routes import (
    AdminRewardController,
    CityRewardController,
    MyRewardController,
    PartnerController,
)
from upscale_api.roles.commands import grant_command, revoke_command
from upscale_api.scoring.commands import rescore_command
from upscale_api.serving import ServingMiddleware, drain_on_sigterm
from upscale_api.settings import Settings, load_settings
from upscale_api.worker import Worker, pool_settings

if TYPE_CHECKING:
    import click
    from litestar.config.app import AppConfig
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from opentelemetry.sdk.trace.export import SpanExporter

ROUTES = [
    CatalogueController,
    ResidentController,
    ActionController,
    ImpactController,
    CampaignController,
    MyCampaignController,
    AdminCampaignController,
    HeldEntryController,
    DeviceController,
    NotificationController,
    CityReportController,
    ConsentController,
    SurveyController,
    StudyController,
    CityRewardController,
    MyRewardController,
    PartnerController,
    AdminRewardController,
    PrivacyController,
    OpenDataController,
    HealthController,
]

COMMANDS = [
    commands.dev,
    commands.serve,
    commands.worker,
    commands.migrate,
    commands.token,
    campaigns_group,
    seed_demo_command,
    rescore_command,
    grant_command,
    revoke_command,
    report_group,
    research_group,
    rewards_group,
    privacy_group,
]


class StartupError(Exception):
    """The service cannot start; the message says why and what to do."""


class ApplicationCore(InitPluginProtocol, CLIPluginProtocol):
    """Registers the app's parts (``on_app_init``) and the ``upscale`` commands (``on_cli_init``).

    ``settings`` default to the environment's; ``database_url`` overrides the one
    they lead to; ``with_worker`` runs the scheduled jobs in the API process too
    (``upscale dev``).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database_url: str | None = None,
        with_worker: bool = False,
        span_exporter: SpanExporter | None = None,
    ) -> None:
        self._settings = settings
        self.database_url = database_url
        self.with_worker = with_worker
        self.span_exporter = span_exporter
        """Where trace spans go instead of ``UPSCALE_OTEL_ENDPOINT`` (tests: an in-memory exporter)."""
        self._tracing: OpenTelemetryPlugin | None = None

    def on_cli_init(self, cli: click.Group) -> None:
        for command in COMMANDS:
            cli.add_command(command)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings = self.settings
        check_google_credentials(settings)
        app_config.route_handlers.extend(ROUTES)
        if settings.upscale_metrics_token:
            app_config.route_handlers.append(MetricsController)
        app_config.lifespan.append(self._lifespan)
        configure_dashboard(app_config, settings)  # /dashboard: its pages, templates, sessions, static files
        app_config.request_class = StrictRequest
        # Outermost first: every answer gets its id and is counted; every request counts against
        # its limits, bad values included.
        app_config.middleware.extend([ServingMiddleware(), *rate_limits(settings), input_guard])
        # Litestar runs the on_app_init of plugins added here too (it iterates the same list).
        app_config.plugins.append(
            StructlogPlugin(StructlogConfig(logging_config(settings), enable_middleware_logging=False))
        )
        self._tracing = tracing_plugin(settings, self.span_exporter)
        if self._tracing is not None:
            app_config.plugins.append(self._tracing)
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.dependencies["ctx"] = Provide(provide_context, sync_to_thread=False)
        app_config.openapi_config = _openapi_config()
        app_config.state.update(
            {"settings": settings, "token_verifier": TokenVerifier(settings), "partner_keys": PartnerKeys()}
        )
        app_config.debug = False
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self.settings
        url = self.database_url or await db.resolve_database_url(settings)
        try:
            pool = await db.create_pool(url, pool_settings(settings) if self.with_worker else settings)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            raise StartupError(f"DATABASE_URL: cannot connect to the database ({type(exc).__name__}: {exc})") from None
        try:
            async with pool.acquire() as conn:
                todo = await migrations.pending(conn)
            if todo:
                raise StartupError(f"the database schema is behind by {len(todo)} migration(s): run `upscale migrate`")
            await apply_definitions(pool, read_definitions(settings.campaigns_dir))
            catalogue = Catalogue(pool)
            await catalogue.reload()
            app.state.pool = pool
            app.state.catalogue = catalogue
            worker = Worker(pool, settings) if self.with_worker else None
            if worker is not None:
                worker.start()
            try:
                with drain_on_sigterm(settings.upscale_shutdown_drain_seconds):
                    yield
            finally:
                if worker is not None:
                    await worker.finish(settings.upscale_shutdown_timeout_seconds)
        finally:
            await pool.close()
            if self._tracing is not None:
                flush_spans(self._tracing)


def _openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="upscale-api",
        version="1",
        description="Residents log sustainable actions and see what they saved; cities run campaigns. "
        "Errors are RFC 9457 problem+json. Sign in with a Firebase ID token as a Bearer token.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(path="/"), ContractJsonRenderPlugin()],
        components=Components(
            security_schemes={
                "firebase": SecurityScheme(type="http", scheme="bearer", bearer_format="Firebase ID token"),
                "partnerKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="partner API key",
                    description="A partner's API key (`/v1/partner` routes); `X-Partner-Key: <key>` works too",
                ),
            }
        ),
    )
