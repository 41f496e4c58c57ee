"""``/v1/open``: each city's open aggregates (JSON and CSV) and their DCAT-AP metadata, for anyone.

No token: the figures are published under CC BY 4.0. Requests count against the
address's rate limit like any other. The figures' routes answer with an ETag and
``304 Not Modified`` to a matching ``If-None-Match``, so a harvester polls cheaply.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, PathParameter

from upscale_api.auth import PUBLIC
from upscale_api.catalogue.service import City
from upscale_api.context import Context
from upscale_api.errors import Problem
from upscale_api.opendata import dcat, service
from upscale_api.opendata.structs import Catalogue, CityStats, Dataset

CityCode = Annotated[str, PathParameter(description="The city's code (see `GET /v1/cities`)", max_length=64)]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        max_length=1000,
        description="The ETag of the copy you have: answered 304 without a body while it is current",
    ),
]
CACHE_CONTROL = "public, max-age=300"
_ETAG = [
    ResponseHeader(name="ETag", documentation_only=True, description="The figures' version: send it as If-None-Match"),
    ResponseHeader(name="Last-Modified", documentation_only=True, description="When a figure last changed"),
]
_NOT_MODIFIED = {
    304: ResponseSpec(data_container=None, description="Not modified: the copy your If-None-Match names is current")
}


class OpenDataController(Controller):
    path = "/v1/open"
    tags = ["open data"]
    guards = [PUBLIC]

    @get(
        "/cities/{city:str}/stats",
        operation_id="getOpenCityStats",
        summary="A city's open aggregates: per ISO week, by district and category, and per campaign",
        description="Participants, actions and kg CO2e avoided, from the scoring jobs' totals, for every final ISO "
        "week of the last two years. A cell describing fewer than `min_participants` (10) residents is withheld, "
        "and so are the cells that would reveal it by subtraction from a total. CC BY 4.0. Not found before the "
        "worker first published the city.",
        response_description="The figures",
        media_type="application/json",
        response_headers=_ETAG,
        responses=_NOT_MODIFIED,
        opt={"documented_body": CityStats},
    )
    async def stats(
        self,
        city: CityCode,
        ctx: NamedDependency[Context],
        request: Request[Any, Any, Any],
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        return await _published(ctx, request, city, "json", if_none_match)

    @get(
        "/cities/{city:str}/stats.csv",
        operation_id="downloadOpenCityStats",
        summary="A city's open aggregates as CSV (the same rows and columns as the JSON)",
        description="UTF-8, comma-separated, a header row; a withheld cell's figures are empty and `suppressed` "
        "says why. CC BY 4.0.",
        response_description="The figures as CSV",
        media_type="text/csv",
        response_headers=_ETAG,
        responses=_NOT_MODIFIED,
        opt={"documented_body": str},
    )
    async def stats_csv(
        self,
        city: CityCode,
        ctx: NamedDependency[Context],
        request: Request[Any, Any, Any],
        if_none_match: IfNoneMatch = None,
    ) -> Response[bytes]:
        return await _published(ctx, request, city, "csv", if_none_match)

    @get(
        "/cities/{city:str}/dataset",
        operation_id="getOpenDataset",
        summary="The DCAT-AP metadata of a city's open aggregates (JSON-LD), for a data portal to harvest",
        response_description="The dataset",
        media_type="application/ld+json",
    )
    async def dataset(self, city: CityCode, ctx: NamedDependency[Context], request: Request[Any, Any, Any]) -> Dataset:
        found = await _city(ctx, city)
        covered = await service.coverage_of(ctx.pool, found.id)
        return dcat.dataset(found, covered, _base(ctx, request), _contact(ctx), context=True)

    @get(
        "/catalog",
        operation_id="getOpenCatalog",
        summary="The DCAT-AP catalogue of every city's open aggregates (JSON-LD)",
        response_description="The catalogue",
        media_type="application/ld+json",
    )
    async def catalog(self, ctx: NamedDependency[Context], request: Request[Any, Any, Any]) -> Catalogue:
        snapshot = await ctx.catalogue.current()
        coverage = await service.coverage(ctx.pool)
        base = _base(ctx, request)
        datasets = [
            dcat.dataset(city, coverage.get(city.id, dcat.Coverage()), base, _contact(ctx), context=False)
            for city in sorted(snapshot.cities.values(), key=lambda c: c.code)
        ]
        return dcat.catalogue(datasets, base)


async def _city(ctx: Context, code: str) -> City:
    city = (await ctx.catalogue.current()).cities.get(code)
    if city is None:
        raise Problem(404, "not-found", f"city: no city with code {code!r}")
    return city


async def _published(
    ctx: Context, request: Request[Any, Any, Any], code: str, kind: service.Kind, if_none_match: str | None
) -> Response[bytes]:
    city = await _city(ctx, code)
    gzip = service.accepts_gzip(request.headers.get("accept-encoding"))
    found = await service.published(ctx.pool, city.id, city.code, kind, if_none_match, gzip=gzip)
    headers = {
        "ETag": found.etag,
        "Last-Modified": found.modified_at.strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if found.gzip and found.body is not None:
        headers["Content-Encoding"] = "gzip"
    if found.body is None:
        return Response(content=b"", status_code=304, headers=headers)
    if kind == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{city.code}-open-stats.csv"'
    return Response(content=found.body, headers=headers)


def _base(ctx: Context, request: Request[Any, Any, Any]) -> str:
    return (ctx.settings.upscale_public_url or str(request.base_url)).rstrip("/")


def _contact(ctx: Context) -> str | None:
    return ctx.settings.upscale_open_data_contact
