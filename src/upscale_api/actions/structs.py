"""Logged actions as the app sends and sees them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal, get_args
from uuid import UUID

import msgspec
from msgspec import Meta

from upscale_api.catalogue.structs import CODE_PATTERN, Category
from upscale_api.openapi import example
from upscale_api.validation import FieldError

MAX_BATCH = 500
Moment = Annotated[datetime, Meta(tz=True)]


class ActionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One action. ``id`` is chosen by the app (a UUID) so that retries are idempotent."""

    id: Annotated[UUID, Meta(description="Chosen by the app; sending it again returns the stored record")]
    action_type: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=64,
            extra_json_schema={"pattern": CODE_PATTERN},
            description="The action type's code, from the city's catalogue",
        ),
    ]
    quantity: Annotated[
        float,
        Meta(
            # Checked by the service with the other rules, so one answer names every bad field.
            extra_json_schema={"exclusiveMinimum": 0},
            description="In the action type's unit; within its per-entry range and per-day limit",
        ),
    ]
    performed_at: Annotated[
        datetime,
        Meta(
            tz=True,
            description="When it was done (RFC 3339 with offset); up to the back-dating window (7 days) in the "
            "past and at most 5 minutes in the future",
        ),
    ]


class FactorRef(msgspec.Struct):
    """Which emission factor version produced a saving."""

    code: Annotated[str, Meta(description="The emission factor's code")]
    version: Annotated[int, Meta(ge=1, description="Its version; a correction is a new version")]


class ActionOut(msgspec.Struct):
    """A logged action with its immediate estimate of what it saved."""

    id: Annotated[UUID, Meta(description="The id the app chose")]
    action_type: Annotated[str, Meta(description="The action type's code")]
    category: Annotated[
        str, Meta(extra_json_schema={"enum": list(get_args(Category))}, description="The action type's category")
    ]
    unit: Annotated[str, Meta(description="The unit of `quantity`, e.g. `km`")]
    quantity: Annotated[float, Meta(description="How much, in `unit`")]
    performed_at: Annotated[Moment, Meta(description="When it was done")]
    local_date: Annotated[date, Meta(description="The day it was done, in the resident's time zone")]
    recorded_at: Annotated[Moment, Meta(description="When the server stored it")]
    co2e_kg: Annotated[
        float, Meta(description="Immediate estimate of kg CO2e avoided: quantity x (baseline - option factor)")
    ]
    baseline_factor: Annotated[FactorRef, Meta(description="The factor of what was avoided (e.g. driving)")]
    option_factor: Annotated[
        FactorRef | None, Meta(description="The factor of what was done instead; null when it emits nothing")
    ]
    deleted_at: Annotated[Moment | None, Meta(description="When it was deleted; null while it counts")] = None


class ActionBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Actions logged offline; each is answered on its own, so a bad action never rejects the others."""

    actions: Annotated[
        list[ActionIn], Meta(min_length=1, max_length=MAX_BATCH, description="1 to 500 actions, in the order done")
    ]


Status = Literal["stored", "duplicate", "conflict", "rejected"]


class Outcome(msgspec.Struct, omit_defaults=True):
    """What became of one action: ``stored`` (new), ``duplicate`` (same id and content were
    already stored; the stored record is returned), ``conflict`` (the id is taken by other
    content) or ``rejected`` (``errors`` say which fields and why)."""

    status: Status
    action: ActionOut | None = None
    errors: list[FieldError] | None = None


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What became of one action of a batch."""

    index: Annotated[int, Meta(ge=0, description="Position in the request's `actions`")]
    id: Annotated[UUID | None, Meta(description="The action's id; null when the item had no valid id")]
    status: Annotated[
        Status,
        Meta(
            description="`stored` (new), `duplicate` (this id with this content was stored before), `conflict` "
            "(the id is taken by other content) or `rejected` (see `errors`)"
        ),
    ]
    action: Annotated[
        ActionOut | None, Meta(description="The stored record, when stored or a duplicate; absent otherwise")
    ] = None
    errors: Annotated[
        list[FieldError] | None, Meta(description="Every bad field and why, when rejected or a conflict")
    ] = None


class BatchResult(msgspec.Struct):
    """The answer to a batch: counts, and every action's outcome in body order."""

    stored: Annotated[int, Meta(ge=0, description="How many were new and stored")]
    duplicates: Annotated[int, Meta(ge=0, description="How many were stored before (retries)")]
    conflicts: Annotated[int, Meta(ge=0, description="How many reuse an id taken by other content")]
    rejected: Annotated[int, Meta(ge=0, description="How many break a rule or their schema")]
    results: Annotated[list[BatchItemResult], Meta(description="One per action, in body order")]


class ActionPage(msgspec.Struct):
    """A page of the resident's actions, newest first."""

    items: Annotated[list[ActionOut], Meta(description="The actions of this page")]
    next_cursor: Annotated[
        str | None, Meta(description="Pass as `cursor` to get the next (older) page; null on the last page")
    ]


_ACTION_IN = example(
    ActionIn(
        id=UUID("6f1c6c58-6a3d-4b8e-9a0c-0b0b5a1b2c3d"),
        action_type="cycle-instead-of-car",
        quantity=7.5,
        performed_at=datetime(2026, 11, 25, 6, 40, tzinfo=UTC),
    )
)
_ACTION_OUT = example(
    ActionOut(
        id=_ACTION_IN.id,
        action_type="cycle-instead-of-car",
        category="mobility",
        unit="km",
        quantity=7.5,
        performed_at=_ACTION_IN.performed_at,
        local_date=date(2026, 11, 25),
        recorded_at=datetime(2026, 11, 25, 6, 41, 2, tzinfo=UTC),
        co2e_kg=1.29,
        baseline_factor=FactorRef("car-si-fleet", 1),
        option_factor=FactorRef("bicycle", 1),
    )
)
example(ActionBatch([_ACTION_IN]))
example(
    BatchResult(
        stored=1,
        duplicates=0,
        conflicts=0,
        rejected=1,
        results=[
            BatchItemResult(index=0, id=_ACTION_IN.id, status="stored", action=_ACTION_OUT),
            BatchItemResult(
                index=1,
                id=UUID("0b5e3f0e-2f0c-4f7e-8d0a-3c4a1d2e5f60"),
                status="rejected",
                errors=[FieldError("quantity", "must be at most 100 km per entry")],
            ),
        ],
    )
)
example(ActionPage(items=[_ACTION_OUT], next_cursor="eyJhdCI6IjIwMjYtMTEtMjVUMDY6NDA6MDBaIn0"))
