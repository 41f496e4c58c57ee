"""Campaigns for residents: ``/v1/campaigns`` and ``/v1/me/campaigns``.

Texts come in the resident's locale (English when a text lacks it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from upscale_api.auth import SIGNED_IN
from upscale_api.campaigns import participation
from upscale_api.campaigns.structs import CampaignOut, CampaignSummary, EnrolmentIn, EnrolmentOut, MyCampaignOut
from upscale_api.context import Context


class CampaignController(Controller):
    path = "/v1/campaigns"
    tags = ["campaigns"]
    guards = [SIGNED_IN]

    @get("/", summary="Campaigns open to residents of your city (scheduled, active, ended)")
    async def list_campaigns(self, ctx: NamedDependency[Context]) -> list[CampaignSummary]:
        return await participation.list_campaigns(ctx.pool, ctx.uid)

    @get("/{code:str}", summary="One campaign: actions and points, teams, questions, challenges, badges")
    async def campaign(self, code: FromPath[str], ctx: NamedDependency[Context]) -> CampaignOut:
        return await participation.campaign(ctx.pool, ctx.uid, code)

    @post(
        "/{code:str}/enrolment",
        summary="Enrol (201), or change team and answers (200)",
        description="Give a team (its code or invite code) when the campaign enrols by team, the invite code when "
        "it enrols by invitation, and an answer to every baseline question.",
    )
    async def enrol(
        self, code: FromPath[str], data: JSONBody[EnrolmentIn], ctx: NamedDependency[Context]
    ) -> Response[EnrolmentOut]:
        enrolment, created = await participation.enrol(ctx.pool, ctx.uid, code, data)
        return Response(enrolment, status_code=201 if created else 200)

    @delete("/{code:str}/enrolment", summary="Leave the campaign")
    async def leave(self, code: FromPath[str], ctx: NamedDependency[Context]) -> None:
        await participation.leave(ctx.pool, ctx.uid, code)


class MyCampaignController(Controller):
    path = "/v1/me/campaigns"
    tags = ["campaigns"]
    guards = [SIGNED_IN]

    @get("/{code:str}", summary="Your progress in every challenge of a campaign you are enrolled in")
    async def progress(self, code: FromPath[str], ctx: NamedDependency[Context]) -> MyCampaignOut:
        snapshot = await ctx.catalogue.current()
        return await participation.my_campaign(ctx.pool, snapshot, ctx.uid, code, datetime.now(UTC))
