"""``/v1/me/actions``: logging (one, or an offline batch), listing and deleting own actions."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from upscale_api.actions import service
from upscale_api.actions.structs import ActionBatch, ActionIn, ActionOut, ActionPage, BatchItemResult, BatchResult
from upscale_api.auth import SIGNED_IN
from upscale_api.body import item_errors
from upscale_api.context import Context
from upscale_api.errors import Problem
from upscale_api.openapi import NOT_REGISTERED, also, problem
from upscale_api.settings import Settings


@functools.cache
def _policy(settings: Settings) -> service.Policy:
    return service.Policy(
        backdate=timedelta(days=settings.upscale_backdate_days),
        delete_grace=timedelta(hours=settings.upscale_delete_grace_hours),
    )


class ActionController(Controller):
    path = "/v1/me/actions"
    tags = ["actions"]
    guards = [SIGNED_IN]

    @post(
        "/",
        operation_id="logAction",
        summary="Log one action",
        description="201 when stored; 200 with the stored record when the same id was already logged with the "
        "same content; 409 when the id was logged with other content; 422 when a rule is broken.",
        response_description="Stored: the record with its immediate kg CO2e estimate",
        responses={
            **also(200, ActionOut, "Already stored with this id and content (a retry): the stored record"),
            404: problem(NOT_REGISTERED),
            409: problem(("conflict", "the id was logged before with other content")),
        },
    )
    async def log_action(self, data: JSONBody[ActionIn], ctx: NamedDependency[Context]) -> Response[ActionOut]:
        snapshot = await ctx.catalogue.current()
        policy = _policy(ctx.settings)
        (outcome,) = await service.log_actions(ctx.pool, snapshot, policy, ctx.uid, [data], _now())
        if outcome.status == "conflict":
            assert outcome.errors
            raise Problem(409, "conflict", f"id: {outcome.errors[0].reason}", errors=outcome.errors)
        if outcome.status == "rejected":
            raise Problem.invalid(outcome.errors or [])
        assert outcome.action is not None
        return Response(outcome.action, status_code=201 if outcome.status == "stored" else 200)

    @post(
        "/batch",
        operation_id="logActionBatch",
        summary="Log up to 500 actions recorded offline",
        description="Each action is answered on its own (stored, duplicate, conflict or rejected with the reason); "
        "a bad action never rejects the others.",
        status_code=200,
        response_description="Every action's outcome, in body order",
        responses={404: problem(NOT_REGISTERED)},
        opt={"item_errors": "actions", "rate_limit": "batch"},
    )
    async def log_batch(
        self, request: Request[Any, Any, Any], data: JSONBody[ActionBatch], ctx: NamedDependency[Context]
    ) -> BatchResult:
        positions, undecodable = item_errors(request)
        snapshot = await ctx.catalogue.current()
        outcomes = await service.log_actions(ctx.pool, snapshot, _policy(ctx.settings), ctx.uid, data.actions, _now())
        results = [
            BatchItemResult(index=i, id=None, status="rejected", errors=errors) for i, errors in undecodable.items()
        ]
        for position, item, outcome in zip(positions, data.actions, outcomes, strict=True):
            results.append(
                BatchItemResult(
                    index=position, id=item.id, status=outcome.status, action=outcome.action, errors=outcome.errors
                )
            )
        results.sort(key=lambda r: r.index)
        count = {s: sum(r.status == s for r in results) for s in ("stored", "duplicate", "conflict", "rejected")}
        return BatchResult(
            stored=count["stored"],
            duplicates=count["duplicate"],
            conflicts=count["conflict"],
            rejected=count["rejected"],
            results=results,
        )

    @get(
        "/",
        operation_id="listActions",
        summary="Own actions, newest first",
        response_description="A page of actions and the cursor of the next",
        responses={404: problem(NOT_REGISTERED)},
    )
    async def list_actions(
        self,
        ctx: NamedDependency[Context],
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="Page size")] = 50,
        cursor: Annotated[
            str | None, QueryParameter(max_length=200, description="The `next_cursor` of the previous page")
        ] = None,
    ) -> ActionPage:
        return await service.list_actions(ctx.pool, ctx.uid, limit, cursor)

    @delete(
        "/{action_id:uuid}",
        operation_id="deleteAction",
        summary="Delete an own action within the grace period",
        response_description="Deleted (also when it was deleted before)",
        responses={409: problem(("rule-violation", "the grace period for deleting it is over"))},
    )
    async def delete_action(
        self, action_id: Annotated[UUID, PathParameter(description="The action's id")], ctx: NamedDependency[Context]
    ) -> None:
        await service.delete_action(ctx.pool, _policy(ctx.settings), ctx.uid, action_id, _now())


def _now() -> datetime:
    return datetime.now(UTC)
