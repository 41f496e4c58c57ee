"""The Litestar application: routes, dependencies, errors, OpenAPI, and start-up.

At start-up the app connects to PostgreSQL, refuses to run on an outdated
schema, applies the definition files under ``campaigns/`` (validated; a bad
file stops start-up with file, field and reason) and loads the catalogue.
Outside Auth-emulator mode (always in production) it first checks that Google
Application Default Credentials are usable, and refuses to be built without
them: firebase-admin needs them to verify any ID token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from upscale_api import db, migrations
from upscale_api.actions.routes import ActionController
from upscale_api.auth import TokenVerifier
from upscale_api.body import StrictRequest
from upscale_api.campaigns.routes import AdminCampaignController
from upscale_api.catalogue.routes import CatalogueController
from upscale_api.catalogue.service import Catalogue
from upscale_api.context import provide_context
from upscale_api.definitions.files import read_definitions
from upscale_api.definitions.service import apply_definitions
from upscale_api.errors import EXCEPTION_HANDLERS, database_unavailable
from upscale_api.health.routes import HealthController
from upscale_api.impact.routes import ImpactController
from upscale_api.input_guard import input_guard
from upscale_api.notifications.routes import DeviceController, NotificationController
from upscale_api.openapi import ContractJsonRenderPlugin
from upscale_api.participation.routes import CampaignController, MyCampaignController
from upscale_api.ratelimit.middleware import rate_limits
from upscale_api.reports.routes import CityReportController
from upscale_api.residents.routes import ResidentController
from upscale_api.reviews.routes import HeldEntryController
from upscale_api.settings import Settings, SettingsError
from upscale_api.worker import Worker, pool_settings

log = logging.getLogger(__name__)

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
    HealthController,
]


class StartupError(Exception):
    """The service cannot start; the message says why and what to do."""


def check_google_credentials(settings: Settings) -> None:
    """Raise :class:`SettingsError` naming ``GOOGLE_APPLICATION_CREDENTIALS`` unless
    Application Default Credentials load (a key file, gcloud's, or a metadata server).

    Without them the service would start and report ready, then answer 500 to every
    signed-in request. In Auth-emulator mode nothing is needed. Google's own
    ``NO_GCE_CHECK=true`` skips asking for a metadata server where there is none.
    """
    if settings.auth_emulated:
        return
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        reason = str(exc).split(". ")[0].rstrip(".")
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS: no usable Google credentials to verify Firebase ID tokens "
            f"({reason}); set it to a service account key file, or run where Application Default "
            "Credentials exist"
        ) from None


def create_app(settings: Settings, database_url: str | None = None, *, with_worker: bool = False) -> Litestar:
    """Build the app. ``database_url`` overrides the one derived from ``settings``;
    ``with_worker`` runs the scheduled jobs in this process too (``upscale dev``)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        url = database_url or await db.resolve_database_url(settings)
        try:
            pool = await db.create_pool(url, pool_settings(settings) if with_worker else settings)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            raise StartupError(f"DATABASE_URL: cannot connect to the database ({type(exc).__name__}: {exc})") from None
        try:
            async with pool.acquire() as conn:
                todo = await migrations.pending(conn)
            if todo:
                raise StartupError(f"the database schema is behind by {len(todo)} migration(s): run `upscale migrate`")
            definitions = read_definitions(settings.campaigns_dir)
            await apply_definitions(pool, definitions)
            catalogue = Catalogue(pool)
            await catalogue.reload()
            app.state.pool = pool
            app.state.catalogue = catalogue
            worker = Worker(pool, settings) if with_worker else None
            if worker is not None:
                worker.start()
            try:
                yield
            finally:
                if worker is not None:
                    worker.stop()
        finally:
            await pool.close()

    check_google_credentials(settings)
    app = Litestar(
        route_handlers=ROUTES,
        lifespan=[lifespan],
        request_class=StrictRequest,
        # Outermost first: every request counts against its limits, bad values included.
        middleware=[*rate_limits(settings), input_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.upscale_max_body_bytes,
        dependencies={"ctx": Provide(provide_context, sync_to_thread=False)},
        openapi_config=OpenAPIConfig(
            title="upscale-api",
            version="1",
            description="Residents log sustainable actions and see what they saved; cities run campaigns. "
            "Errors are RFC 9457 problem+json. Sign in with a Firebase ID token as a Bearer token.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin(path="/"), ContractJsonRenderPlugin()],
            components=Components(
                security_schemes={
                    "firebase": SecurityScheme(type="http", scheme="bearer", bearer_format="Firebase ID token")
                }
            ),
        ),
        debug=False,
    )
    app.state.token_verifier = TokenVerifier(settings)
    app.state.settings = settings
    _declare_security(app)
    return app


def _declare_security(app: Litestar) -> None:
    """Mark signed-in routes in the OpenAPI document (their guard says who may call)."""
    from upscale_api.auth import Access

    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            access = [g for g in handler.resolve_guards() if isinstance(g, Access)]
            if access and access[0].signed_in:
                handler.security = [{"firebase": []}]
