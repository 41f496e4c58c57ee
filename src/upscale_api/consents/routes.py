"""``/v1/me/consents`` and ``/v1/me/demographics``: a resident's consent per purpose, and what it allows."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from upscale_api.auth import SIGNED_IN
from upscale_api.consents import service
from upscale_api.consents.structs import ConsentHistoryOut, ConsentsIn, ConsentsOut, DemographicsIn, DemographicsOut
from upscale_api.context import Context
from upscale_api.openapi import NOT_REGISTERED, problem


class ConsentController(Controller):
    path = "/v1/me"
    tags = ["consents"]
    guards = [SIGNED_IN]

    @get(
        "/consents",
        operation_id="getConsents",
        summary="Each purpose's consent document in force, in your language, and your decision",
        description="Research consent is off until granted. A new version of a document asks again: "
        "`needs_decision` is true and the consent is not current until granted again.",
        response_description="Every purpose",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def consents(self, ctx: NamedDependency[Context]) -> ConsentsOut:
        return await service.my_consents(ctx.pool, ctx.uid)

    @put(
        "/consents",
        operation_id="decideConsents",
        summary="Grant or withdraw purposes, each naming the document version you read",
        description="Purposes not listed stay as they are. Withdrawing research consent never stops you using "
        "the app: you leave the studies you were in, and the next export of each lists your pseudonym so that "
        "researchers delete your rows. Withdrawing demographics consent erases your demographics.",
        response_description="Every purpose after the change",
        status_code=200,
        responses={
            404: problem(NOT_REGISTERED),
            409: problem(("rule-violation", "a newer version of the document is in force: show it and ask again")),
        },
    )
    async def decide(self, data: JSONBody[ConsentsIn], ctx: NamedDependency[Context]) -> ConsentsOut:
        return await service.decide(ctx.pool, ctx.settings, ctx.uid, data, datetime.now(UTC))

    @get(
        "/consents/history",
        operation_id="getConsentHistory",
        summary="Every consent decision you made, with its time and document version",
        response_description="Newest first",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def history(self, ctx: NamedDependency[Context]) -> ConsentHistoryOut:
        return await service.history(ctx.pool, ctx.uid)

    @get(
        "/demographics",
        operation_id="getDemographics",
        summary="Your birth year and gender, if you gave them",
        response_description="What you gave",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def demographics(self, ctx: NamedDependency[Context]) -> DemographicsOut:
        return await service.demographics(ctx.pool, ctx.uid)

    @put(
        "/demographics",
        operation_id="putDemographics",
        summary="Give your birth year and gender for research (needs the demographics consent)",
        description="Used only in research exports, as 10-year age bands.",
        response_description="What is stored",
        status_code=200,
        responses={
            404: problem(NOT_REGISTERED),
            409: problem(("rule-violation", "the demographics consent is not granted")),
        },
    )
    async def put_demographics(self, data: JSONBody[DemographicsIn], ctx: NamedDependency[Context]) -> DemographicsOut:
        return await service.put_demographics(ctx.pool, ctx.uid, data, datetime.now(UTC).year)
