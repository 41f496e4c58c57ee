"""``/v1/me``: the signed-in resident's own profile."""

from __future__ import annotations

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from upscale_api.auth import SIGNED_IN
from upscale_api.context import Context
from upscale_api.residents import service
from upscale_api.residents.structs import ResidentIn, ResidentOut


class ResidentController(Controller):
    path = "/v1/me"
    tags = ["residents"]
    guards = [SIGNED_IN]

    @put("/", summary="Register or update the signed-in resident", status_code=200)
    async def register(self, data: JSONBody[ResidentIn], ctx: NamedDependency[Context]) -> Response[ResidentOut]:
        profile, created = await service.register(ctx.pool, await ctx.catalogue.current(), ctx.uid, data)
        return Response(profile, status_code=201 if created else 200)

    @get("/", summary="The signed-in resident's profile (404 until registered)")
    async def profile(self, ctx: NamedDependency[Context]) -> ResidentOut:
        return await service.profile(ctx.pool, ctx.uid)
