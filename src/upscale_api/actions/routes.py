"""``/v1/me/actions``: logging (one, or an offline batch), listing and deleting own actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from upscale_api.actions import service
from upscale_api.actions.structs import ActionBatch, ActionIn, ActionOut, ActionPage, BatchItemResult, BatchResult
from upscale_api.auth import SIGNED_IN, Identity
from upscale_api.body import item_errors
from upscale_api.catalogue.service import Catalogue
from upscale_api.db import Pool
from upscale_api.errors import Problem


class ActionController(Controller):
    path = "/v1/me/actions"
    tags = ["actions"]
    guards = [SIGNED_IN]

    @post(
        "/",
        summary="Log one action",
        description="201 when stored; 200 with the stored record when the same id was already logged with the "
        "same content; 409 when the id was logged with other content; 422 when a rule is broken.",
    )
    async def log_action(
        self,
        data: JSONBody[ActionIn],
        identity: NamedDependency[Identity],
        pool: NamedDependency[Pool],
        catalogue: NamedDependency[Catalogue],
        policy: NamedDependency[service.Policy],
    ) -> Response[ActionOut]:
        snapshot = await catalogue.current()
        (outcome,) = await service.log_actions(pool, snapshot, policy, identity.uid, [data], _now())
        if outcome.status == "conflict":
            assert outcome.errors
            raise Problem(409, "conflict", f"id: {outcome.errors[0].reason}", errors=outcome.errors)
        if outcome.status == "rejected":
            raise Problem.invalid(outcome.errors or [])
        assert outcome.action is not None
        return Response(outcome.action, status_code=201 if outcome.status == "stored" else 200)

    @post(
        "/batch",
        summary="Log up to 500 actions recorded offline",
        description="Each action is answered on its own (stored, duplicate, conflict or rejected with the reason); "
        "a bad action never rejects the others.",
        status_code=200,
        opt={"item_errors": "actions"},
    )
    async def log_batch(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ActionBatch],
        identity: NamedDependency[Identity],
        pool: NamedDependency[Pool],
        catalogue: NamedDependency[Catalogue],
        policy: NamedDependency[service.Policy],
    ) -> BatchResult:
        positions, undecodable = item_errors(request)
        snapshot = await catalogue.current()
        outcomes = await service.log_actions(pool, snapshot, policy, identity.uid, data.actions, _now())
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
        count = {
            status: sum(r.status == status for r in results)
            for status in ("stored", "duplicate", "conflict", "rejected")
        }
        return BatchResult(
            stored=count["stored"],
            duplicates=count["duplicate"],
            conflicts=count["conflict"],
            rejected=count["rejected"],
            results=results,
        )

    @get("/", summary="Own actions, newest first")
    async def list_actions(
        self,
        identity: NamedDependency[Identity],
        pool: NamedDependency[Pool],
        limit: Annotated[int, QueryParameter(ge=1, le=200, description="Page size")] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=200, description="From next_cursor")] = None,
    ) -> ActionPage:
        return await service.list_actions(pool, identity.uid, limit, cursor)

    @delete("/{action_id:uuid}", summary="Delete an own action within the grace period")
    async def delete_action(
        self,
        action_id: FromPath[UUID],
        identity: NamedDependency[Identity],
        pool: NamedDependency[Pool],
        policy: NamedDependency[service.Policy],
    ) -> None:
        await service.delete_action(pool, policy, identity.uid, action_id, _now())


def _now() -> datetime:
    return datetime.now(UTC)
