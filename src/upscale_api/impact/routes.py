"""``/v1/me/impact``: what the signed-in resident's actions saved."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get
from litestar.di import NamedDependency

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.impact.service import impact_of
from upscale_api.impact.structs import ImpactOut
from upscale_api.openapi import NOT_REGISTERED, problem


class ImpactController(Controller):
    path = "/v1/me/impact"
    tags = ["impact"]
    guards = [SIGNED_IN]

    @get(
        "/",
        operation_id="getImpact",
        summary="Own totals: kg CO2e avoided, actions, active days, streaks, by category and ISO week",
        response_description="Your impact as the scoring jobs last computed it",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def impact(self, ctx: NamedDependency[Context]) -> ImpactOut:
        return await impact_of(ctx.pool, ctx.uid, datetime.now(UTC))
