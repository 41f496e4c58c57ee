"""``/v1/admin/held-entries``: day totals held out of scores as implausible, for coordinators to decide."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from upscale_api.auth import COORDINATOR
from upscale_api.context import Context
from upscale_api.openapi import problem
from upscale_api.reviews import service
from upscale_api.reviews.structs import DecisionIn, HeldEntry, HeldEntryPage, Status

EntryId = Annotated[int, PathParameter(description="The held entry's id")]


class HeldEntryController(Controller):
    """Coordinators: the held entries of the cities they coordinate; admins: all.

    Another city's entry answers 404, as if it did not exist.
    """

    path = "/v1/admin/held-entries"
    tags = ["coordinators"]
    guards = [COORDINATOR]

    @get(
        "/",
        operation_id="listHeldEntries",
        response_description="A page of held entries and the cursor of the next",
        responses={403: problem(("forbidden", "`city` is a city you do not coordinate"))},
        summary="Day totals held out of scores as implausible, newest flagged first",
        description="A resident's day total of an action type above its plausible_per_day counts in no score "
        "or total until accepted. Each entry lists the day's actions.",
    )
    async def list_entries(
        self,
        ctx: NamedDependency[Context],
        city: Annotated[
            str | None, QueryParameter(max_length=64, description="Only this city (default: all you coordinate)")
        ] = None,
        status: Annotated[
            Status | None, QueryParameter(description="Only entries in this state (default: all)")
        ] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="Page size")] = 50,
        cursor: Annotated[
            str | None, QueryParameter(max_length=200, description="The `next_cursor` of the previous page")
        ] = None,
    ) -> HeldEntryPage:
        return await service.list_entries(ctx.pool, ctx.grants, city, status, limit, cursor)

    @get(
        "/{entry_id:int}",
        operation_id="getHeldEntry",
        summary="One held entry with the day's actions and every decision",
        response_description="The entry",
    )
    async def entry(self, entry_id: EntryId, ctx: NamedDependency[Context]) -> HeldEntry:
        return await service.get_entry(ctx.pool, ctx.grants, entry_id)

    @post(
        "/{entry_id:int}/decision",
        operation_id="decideHeldEntry",
        response_description="The entry with the decision",
        summary="Accept (it counts from the next scoring run) or reject (it stays out) a held day total",
        description="The decision covers the day total as flagged; more logged that day makes the entry pending "
        "again. A decision can be changed by deciding again; every decision is kept.",
        status_code=200,
    )
    async def decide(self, entry_id: EntryId, data: JSONBody[DecisionIn], ctx: NamedDependency[Context]) -> HeldEntry:
        return await service.decide(ctx.pool, ctx.grants, ctx.uid, entry_id, data, datetime.now(UTC))
