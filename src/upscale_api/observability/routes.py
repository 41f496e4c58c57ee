"""``GET /metrics``: the Prometheus exposition, for a scraper holding ``UPSCALE_METRICS_TOKEN``.

Served only when the token is set. Not part of the API document: it is for the
operator's Prometheus, not for the app (``tests/observability/test_metrics.py``
checks who may read it).
"""

from __future__ import annotations

from litestar import Controller, Litestar, Response, get
from litestar.datastructures import State

from upscale_api.auth import SCRAPER
from upscale_api.errors import EXCEPTION_HANDLERS
from upscale_api.observability.metrics import CONTENT_TYPE, exposition
from upscale_api.settings import Settings


class MetricsController(Controller):
    path = "/metrics"
    guards = [SCRAPER]
    include_in_schema = False
    opt = {"rate_limit": "off"}  # like the probes: a scrape must not fail because users share its address

    @get(operation_id="readMetrics", summary="Prometheus metrics of this process (or of all, in multiprocess mode)")
    async def metrics(self) -> Response[bytes]:
        return Response(exposition(), media_type=CONTENT_TYPE)


def metrics_app(settings: Settings) -> Litestar:
    """An app serving only ``/metrics``: what ``upscale worker`` listens with."""
    return Litestar(
        route_handlers=[MetricsController],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"settings": settings}),
        openapi_config=None,
        logging_config=None,  # the worker's logging is configured already (observability.logs)
        debug=False,
    )
