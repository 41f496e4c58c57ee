"""The Litestar application, as :class:`~upscale_api.core.ApplicationCore` composes it."""

from __future__ import annotations

from litestar import Litestar

from upscale_api.core import ApplicationCore
from upscale_api.settings import Settings


def create_app(settings: Settings, database_url: str | None = None, *, with_worker: bool = False) -> Litestar:
    """The app. ``database_url`` overrides the one derived from ``settings``;
    ``with_worker`` runs the scheduled jobs in this process too (``upscale dev``)."""
    core = ApplicationCore(settings, database_url=database_url, with_worker=with_worker)
    # Litestar 2 takes the body limit from its own argument only, not from what a plugin sets.
    return Litestar(plugins=[core], request_max_body_size=settings.upscale_max_body_bytes)
