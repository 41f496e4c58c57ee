"""``/v1/me``: the signed-in resident's own profile."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.openapi import NOT_REGISTERED, also, problem
from upscale_api.privacy import service as privacy
from upscale_api.residents import service
from upscale_api.residents.structs import ResidentIn, ResidentOut


class ResidentController(Controller):
    path = "/v1/me"
    tags = ["residents"]
    guards = [SIGNED_IN]

    @put(
        "/",
        operation_id="registerResident",
        summary="Register (201) or update (200) the signed-in resident",
        status_code=200,
        response_description="Updated: the profile",
        responses=also(201, ResidentOut, "Registered: the new profile"),
    )
    async def register(self, data: JSONBody[ResidentIn], ctx: NamedDependency[Context]) -> Response[ResidentOut]:
        profile, created = await service.register(ctx.pool, await ctx.catalogue.current(), ctx.uid, data)
        return Response(profile, status_code=201 if created else 200)

    @get(
        "/",
        operation_id="getProfile",
        summary="The signed-in resident's profile (404 until registered)",
        response_description="Your profile",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def profile(self, ctx: NamedDependency[Context]) -> ResidentOut:
        return await service.profile(ctx.pool, ctx.uid)

    @delete(
        "/",
        operation_id="deleteMyAccount",
        summary="Erase your account and your data (GDPR Art. 17)",
        description="At once and for good: your profile, actions' link to you, devices, messages and "
        "preferences; staff roles of the same account. What you logged stays in your city's, teams' and "
        "campaigns' totals, anonymously, so they do not change. Your sign-in then counts as not registered "
        "(`PUT /v1/me` registers you anew, as a new person). Repeating the call does nothing more. The app "
        "deletes the Firebase account itself.",
        response_description="Erased (or nothing was held)",
    )
    async def erase(self, ctx: NamedDependency[Context]) -> None:
        await privacy.erase_account(ctx.pool, ctx.settings, ctx.uid, datetime.now(UTC))
