"""Public reference data: the cities and the action catalogue each offers."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, PathParameter

from upscale_api.auth import PUBLIC
from upscale_api.catalogue.service import City
from upscale_api.catalogue.structs import ActionTypeOut, CityOut, ClimateTargetOut, DistrictOut
from upscale_api.context import Context
from upscale_api.errors import Problem
from upscale_api.i18n import negotiate, pick

AcceptLanguage = Annotated[
    str | None,
    HeaderParameter(
        name="Accept-Language",
        required=False,
        description="Preferred languages, e.g. `sl, en;q=0.8`; texts fall back to English",
    ),
]


def _city_out(city: City, language: str) -> CityOut:
    return CityOut(
        code=city.code,
        name=pick(city.name, language),
        country=city.country,
        time_zone=city.time_zone,
        languages=city.languages,
        districts=[DistrictOut(d.code, pick(d.name, language)) for d in city.districts.values()],
        climate_target=msgspec.convert(city.climate_target, ClimateTargetOut) if city.climate_target else None,
    )


class CatalogueController(Controller):
    path = "/v1/cities"
    tags = ["catalogue"]
    guards = [PUBLIC]

    @get(
        "/",
        operation_id="listCities",
        summary="Cities served, with their districts",
        response_description="Every city, its districts and climate target; `Content-Language` says the language",
        media_type=MediaType.JSON,
        opt={"documented_body": list[CityOut]},
    )
    async def list_cities(self, ctx: NamedDependency[Context], accept_language: AcceptLanguage) -> Response[bytes]:
        language = negotiate(accept_language)
        snapshot = await ctx.catalogue.current()
        # Every app start asks for it: encoded once per catalogue revision and language, not per request.
        key = f"cities:{language}"
        body = snapshot.rendered.get(key)
        if body is None:
            body = snapshot.rendered[key] = msgspec.json.encode(
                [_city_out(city, language) for city in snapshot.cities.values()]
            )
        return Response(
            body,
            media_type=MediaType.JSON,
            headers={"Content-Language": language, "Cache-Control": "public, max-age=60"},
        )

    @get(
        "/{city:str}/action-types",
        operation_id="listActionTypes",
        summary="The actions a resident of the city can log, with factors and sources",
        response_description="The city's action types; `Content-Language` says the language",
    )
    async def list_action_types(
        self,
        city: Annotated[str, PathParameter(description="The city's code")],
        ctx: NamedDependency[Context],
        accept_language: AcceptLanguage,
    ) -> Response[list[ActionTypeOut]]:
        snapshot = await ctx.catalogue.current()
        found = snapshot.cities.get(city)
        if found is None:
            raise Problem.field("city", f"no city with code {city!r}", status=404, kind="not-found")
        language = negotiate(accept_language, [*found.languages, "en"])
        types = [t.localized(language) for t in snapshot.offered_in(found)]
        return Response(types, headers={"Content-Language": language, "Cache-Control": "public, max-age=60"})
