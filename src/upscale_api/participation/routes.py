"""Campaigns for residents: ``/v1/campaigns`` and ``/v1/me/campaigns``.

Texts come in the resident's locale (English when a text lacks it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.openapi import NOT_REGISTERED, also, problem
from upscale_api.participation import service
from upscale_api.participation.structs import (
    CampaignOut,
    CampaignSummary,
    EnrolmentIn,
    EnrolmentOut,
    MyCampaignOut,
    TeamIn,
)
from upscale_api.scoring.structs import SCOPES, LeaderboardOut

CampaignCode = Annotated[str, PathParameter(description="The campaign's code")]
_CLOSED = ("rule-violation", "the campaign has ended or is archived: enrolment is closed")


class CampaignController(Controller):
    path = "/v1/campaigns"
    tags = ["campaigns"]
    guards = [SIGNED_IN]

    @get(
        "/",
        operation_id="listCampaigns",
        summary="Campaigns open to residents of your city (scheduled, active, ended)",
        response_description="The campaigns, each with whether you are enrolled",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def list_campaigns(self, ctx: NamedDependency[Context]) -> list[CampaignSummary]:
        return await service.list_campaigns(ctx.pool, ctx.uid)

    @get(
        "/{code:str}",
        operation_id="getCampaign",
        summary="One campaign: actions and points, teams, questions, challenges, badges",
        response_description="The campaign in your language",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def campaign(self, code: CampaignCode, ctx: NamedDependency[Context]) -> CampaignOut:
        return await service.campaign(ctx.pool, ctx.uid, code)

    @post(
        "/{code:str}/enrolment",
        operation_id="enrol",
        summary="Enrol (201), or change team and answers (200)",
        description="Give a team (its code or invite code) when the campaign enrols by team, the invite code when "
        "it enrols by invitation, and an answer to every baseline question.",
        response_description="Enrolled",
        responses={
            **also(200, EnrolmentOut, "Already enrolled: the team and answers are changed"),
            404: problem(NOT_REGISTERED),
            409: problem(_CLOSED),
        },
        opt={"rate_limit": "invite"},
    )
    async def enrol(
        self, code: CampaignCode, data: JSONBody[EnrolmentIn], ctx: NamedDependency[Context]
    ) -> Response[EnrolmentOut]:
        enrolment, created = await service.enrol(ctx.pool, ctx.uid, code, data)
        return Response(enrolment, status_code=201 if created else 200)

    @post(
        "/{code:str}/teams",
        operation_id="startTeam",
        summary="Start a team and join it (where the campaign lets residents start teams)",
        description="The answer's team is the new team's code; others join it with that code.",
        response_description="The team is started and you are enrolled in it",
        responses={
            403: problem(("forbidden", "the campaign's teams are set up by its coordinators")),
            404: problem(NOT_REGISTERED),
            409: problem(_CLOSED),
        },
        opt={"rate_limit": "invite"},
    )
    async def start_team(
        self, code: CampaignCode, data: JSONBody[TeamIn], ctx: NamedDependency[Context]
    ) -> EnrolmentOut:
        return await service.start_team(ctx.pool, ctx.uid, code, data)

    @get(
        "/{code:str}/leaderboard",
        operation_id="getLeaderboard",
        response_description="The top entries and your own",
        responses={404: problem(NOT_REGISTERED)},
        summary="Standings: the top N and your own entry and rank",
        description="Individual standings rank points; team, district and city standings rank the campaign's "
        "ranking measure (points per member unless it declares another) and show the share of members taking "
        "part. Ties share a rank. Standings are recomputed by the worker shortly after scores change; "
        "`computed_at` says when.",
    )
    async def leaderboard(
        self,
        code: CampaignCode,
        ctx: NamedDependency[Context],
        board: Annotated[
            str,
            QueryParameter(
                name="scope",
                description="Who is ranked: individual, team, district or city",
                schema_extra={"enum": list(SCOPES)},
            ),
        ] = "individual",
        limit: Annotated[int, QueryParameter(ge=1, le=100, description="How many from the top")] = 10,
    ) -> LeaderboardOut:
        return await service.leaderboard(ctx.pool, ctx.uid, code, board, limit)

    @delete(
        "/{code:str}/enrolment",
        operation_id="leaveCampaign",
        summary="Leave the campaign",
        response_description="You left (also when you were not enrolled)",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def leave(self, code: CampaignCode, ctx: NamedDependency[Context]) -> None:
        await service.leave(ctx.pool, ctx.uid, code)


class MyCampaignController(Controller):
    path = "/v1/me/campaigns"
    tags = ["campaigns"]
    guards = [SIGNED_IN]

    @get(
        "/{code:str}",
        operation_id="getCampaignProgress",
        summary="Your progress in every challenge of a campaign you are enrolled in",
        response_description="Your score, rank, challenges and badges",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def progress(self, code: CampaignCode, ctx: NamedDependency[Context]) -> MyCampaignOut:
        snapshot = await ctx.catalogue.current()
        return await service.my_campaign(ctx.pool, snapshot, ctx.uid, code, datetime.now(UTC))
