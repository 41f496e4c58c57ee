"""``/v1/admin/campaigns``: coordinators manage their city's campaigns (admins: every city's)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter

from upscale_api.auth import COORDINATOR
from upscale_api.campaigns import service
from upscale_api.campaigns.structs import (
    AdminCampaignOut,
    AdminTeamOut,
    BroadcastIn,
    BroadcastOut,
    Campaign,
    CampaignStats,
    ContestOut,
    RecognitionOut,
)
from upscale_api.context import Context
from upscale_api.openapi import also, problem

CampaignCode = Annotated[str, PathParameter(description="The campaign's code")]
_FORBIDDEN = problem(("forbidden", "the campaign belongs to a city you do not coordinate"))


def _csv(text: str, name: str) -> Response[str]:
    return Response(
        text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


class AdminCampaignController(Controller):
    """Coordinators: the campaigns of the cities they coordinate; admins: all."""

    path = "/v1/admin/campaigns"
    tags = ["coordinators"]
    guards = [COORDINATOR]

    @get(
        "/",
        operation_id="listManagedCampaigns",
        summary="Campaigns of the cities you coordinate",
        response_description="The campaigns with their definitions",
    )
    async def list_campaigns(self, ctx: NamedDependency[Context]) -> list[AdminCampaignOut]:
        return await service.list_campaigns(ctx.pool, ctx.grants)

    @get(
        "/{code:str}",
        operation_id="getManagedCampaign",
        summary="One campaign's definition, phase and enrolment count",
        response_description="The campaign",
        responses={403: problem(("forbidden", "the campaign belongs to a city you do not coordinate"))},
    )
    async def campaign(self, code: CampaignCode, ctx: NamedDependency[Context]) -> AdminCampaignOut:
        return await service.get_campaign(ctx.pool, ctx.grants, code)

    @put(
        "/{code:str}",
        operation_id="putCampaign",
        summary="Create (201) or replace (200) a campaign, with the same checks as campaign files",
        description="The body has the format of a campaign file. Once a campaign has started, changes that would "
        "rewrite what residents earned are refused (409); see docs/campaigns.md.",
        status_code=200,
        response_description="Replaced",
        responses={
            **also(201, AdminCampaignOut, "Created"),
            403: problem(("forbidden", "the campaign's first city is one you do not coordinate")),
            409: problem(("rule-violation", "the campaign has started and the change would rewrite what was earned")),
        },
    )
    async def put_campaign(
        self, code: CampaignCode, data: JSONBody[Campaign], ctx: NamedDependency[Context]
    ) -> Response[AdminCampaignOut]:
        snapshot = await ctx.catalogue.current()
        campaign, created = await service.put_campaign(ctx.pool, snapshot, ctx.grants, code, data)
        return Response(campaign, status_code=201 if created else 200)

    @get(
        "/{code:str}/teams",
        operation_id="listCampaignTeams",
        summary="Teams with their invite codes and members",
        response_description="The campaign's teams",
        responses={403: problem(("forbidden", "the campaign belongs to a city you do not coordinate"))},
    )
    async def teams(self, code: CampaignCode, ctx: NamedDependency[Context]) -> list[AdminTeamOut]:
        return await service.teams(ctx.pool, ctx.grants, code)

    @get(
        "/{code:str}/stats",
        operation_id="getCampaignStats",
        summary="Participation and savings: enrolled, active per day and week, by action type, retention, teams",
        description="As the scoring jobs last counted them (a few seconds old); held entries count once accepted.",
        response_description="The campaign's statistics",
        responses={403: problem(("forbidden", "the campaign belongs to a city you do not coordinate"))},
    )
    async def stats(self, code: CampaignCode, ctx: NamedDependency[Context]) -> CampaignStats:
        return await service.stats(ctx.pool, ctx.grants, code)

    @get(
        "/{code:str}/recognition",
        operation_id="getTeamRecognition",
        summary="Which teams and institutions are recognised: per team challenge, every team's members, "
        "members meeting the member rule, share, met and since when",
        description="As the scoring jobs last counted them (`scored_at`). The same as CSV: `recognition.csv`.",
        response_description="Each team challenge with every team",
        responses={403: _FORBIDDEN},
    )
    async def recognition(self, code: CampaignCode, ctx: NamedDependency[Context]) -> RecognitionOut:
        return await service.recognition(ctx.pool, ctx.grants, code)

    @get(
        "/{code:str}/recognition.csv",
        operation_id="getTeamRecognitionCsv",
        summary="Team recognition as CSV: one line per team challenge and team",
        response_description="CSV with a header line",
        media_type="text/csv",
        responses={403: _FORBIDDEN},
    )
    async def recognition_csv(self, code: CampaignCode, ctx: NamedDependency[Context]) -> Response[str]:
        recognised = await service.recognition(ctx.pool, ctx.grants, code)
        return _csv(service.recognition_csv(recognised), f"{code}-recognition.csv")

    @get(
        "/{code:str}/contest",
        operation_id="getCampaignContest",
        summary="Cities and teams ranked by the campaign's measure, with their totals, and its collective goals",
        description="The measure is the campaign's `ranking` (points per member unless declared otherwise), as "
        "the standings last ranked them (`computed_at`). The same as CSV: `contest.csv`.",
        response_description="Cities and teams by the measure, and the collective goals",
        responses={403: _FORBIDDEN},
    )
    async def contest(self, code: CampaignCode, ctx: NamedDependency[Context]) -> ContestOut:
        snapshot = await ctx.catalogue.current()
        return await service.contest(ctx.pool, snapshot, ctx.grants, code, "en")

    @get(
        "/{code:str}/contest.csv",
        operation_id="getCampaignContestCsv",
        summary="Cities and teams by the campaign's measure as CSV: one line each",
        response_description="CSV with a header line",
        media_type="text/csv",
        responses={403: _FORBIDDEN},
    )
    async def contest_csv(self, code: CampaignCode, ctx: NamedDependency[Context]) -> Response[str]:
        snapshot = await ctx.catalogue.current()
        standing = await service.contest(ctx.pool, snapshot, ctx.grants, code, "en")
        return _csv(service.contest_csv(standing), f"{code}-contest.csv")

    @post(
        "/{code:str}/broadcasts",
        summary="Message a segment of the campaign (all, a team, inactive for N days); dry_run counts and previews",
        operation_id="broadcastToCampaign",
        description="Messages go through the outbox: each resident's language (English fallback), quiet hours, "
        "daily cap and opt-outs apply; every message also lands in the residents' inbox.",
        status_code=200,
        response_description="Scheduled (or, with dry_run, counted and previewed)",
        responses={403: problem(("forbidden", "the campaign belongs to a city you do not coordinate"))},
    )
    async def broadcast(
        self, code: CampaignCode, data: JSONBody[BroadcastIn], ctx: NamedDependency[Context]
    ) -> BroadcastOut:
        return await service.broadcast(ctx.pool, ctx.grants, code, data, datetime.now(UTC))
