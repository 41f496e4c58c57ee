"""``/v1/admin/cities/{code}/impact``: what a city's residents avoided, for its coordinators."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import PathParameter, QueryParameter

from upscale_api.auth import COORDINATOR
from upscale_api.context import Context
from upscale_api.openapi import problem
from upscale_api.reports import service
from upscale_api.reports.structs import CityImpact

_MONTH_DOC = "A month as YYYY-MM, in the city's time zone"
# The service checks the month and names the parameter; the document states the format.
_MONTH = {"pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}


class CityReportController(Controller):
    """Coordinators: the cities they coordinate; admins: every city."""

    path = "/v1/admin/cities"
    tags = ["coordinators"]
    guards = [COORDINATOR]

    @get(
        "/{code:str}/impact",
        operation_id="getCityImpact",
        response_description="The city's report over the months asked for",
        responses={403: problem(("forbidden", "you do not coordinate this city"))},
        summary="The city's impact: kg CO2e avoided per month and category, participants, share of its target",
        description="Every month from `from` to `to` (both included; by default the last 12 months) is listed, "
        "zeros included. Figures are those of the scoring job's last run (`computed_at`); entries held for "
        "review do not count. A bad month, `from` after `to` or a range over 10 years is a 422 problem naming "
        "the parameter.",
    )
    async def impact(
        self,
        code: Annotated[str, PathParameter(description="The city's code")],
        ctx: NamedDependency[Context],
        start: Annotated[
            str | None, QueryParameter(name="from", description=f"First month. {_MONTH_DOC}", schema_extra=_MONTH)
        ] = None,
        to: Annotated[
            str | None, QueryParameter(description=f"Last month (included). {_MONTH_DOC}", schema_extra=_MONTH)
        ] = None,
    ) -> CityImpact:
        snapshot = await ctx.catalogue.current()
        return await service.city_impact(ctx.pool, snapshot, ctx.grants, code, start, to, datetime.now(UTC))
