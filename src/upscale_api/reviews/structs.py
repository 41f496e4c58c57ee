"""Held entries as coordinators see and decide them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from upscale_api.openapi import example

Status = Literal["pending", "accepted", "rejected"]
MAX_NOTE = 1000
Moment = Annotated[datetime, Meta(tz=True)]


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Accept the day total (it counts again) or reject it (it stays out of every score)."""

    decision: Annotated[Literal["accept", "reject"], Meta(description="`accept` or `reject`")]
    note: Annotated[
        Annotated[str, Meta(min_length=1, max_length=MAX_NOTE)] | None,
        Meta(description="Why, for the record (up to 1000 characters); seen by coordinators and admins only"),
    ] = None


class DayAction(msgspec.Struct):
    """One live action of the held day."""

    id: Annotated[UUID, Meta(description="The action's id")]
    quantity: Annotated[float, Meta(description="How much, in the action type's unit")]
    performed_at: Annotated[Moment, Meta(description="When it was done")]
    recorded_at: Annotated[Moment, Meta(description="When it was logged")]


class DecisionOut(msgspec.Struct):
    """One decision on the entry; re-deciding adds one, so corrections stay on record."""

    status: Annotated[Literal["accepted", "rejected"], Meta(description="What was decided")]
    quantity: Annotated[float, Meta(description="The day total decided on")]
    note: Annotated[str | None, Meta(description="Why, if the coordinator said")]
    decided_by: Annotated[str, Meta(description="The Firebase uid of whoever decided")]
    decided_at: Annotated[Moment, Meta(description="When")]


class HeldEntry(msgspec.Struct, kw_only=True):
    """A resident's day total of one action type over its plausible limit, held out of scores."""

    id: Annotated[int, Meta(ge=1, description="The entry's id")]
    city: Annotated[str, Meta(description="The resident's city")]
    resident: Annotated[
        int, Meta(description="An opaque resident number, the same for all their entries; no names or sign-in ids")
    ]
    local_date: Annotated[date, Meta(description="The resident's local day")]
    action_type: Annotated[str, Meta(description="The action type's code")]
    unit: Annotated[str, Meta(description="The unit of the quantities")]
    quantity: Annotated[float, Meta(description="The day total when last flagged")]
    plausible_per_day: Annotated[
        float | None, Meta(description="The action type's limit now; null if the catalogue no longer sets one")
    ]
    status: Annotated[
        Status,
        Meta(
            description="`pending`: held until decided; `accepted`: counts up to decided_quantity; "
            "`rejected`: stays held"
        ),
    ]
    flagged_at: Annotated[Moment, Meta(description="When the scoring job last flagged the day")]
    decided_by: Annotated[str | None, Meta(description="The Firebase uid of whoever decided last")]
    decided_at: Annotated[Moment | None, Meta(description="When it was last decided; null while never decided")]
    decided_quantity: Annotated[
        float | None,
        Meta(description="The day total last accepted or rejected; more logged that day makes the entry pending"),
    ]
    note: Annotated[str | None, Meta(description="The note of the latest decision")]
    actions: Annotated[list[DayAction], Meta(description="The live actions of that day and type, oldest first")]
    decisions: Annotated[list[DecisionOut], Meta(description="Every decision, oldest first")]


class HeldEntryPage(msgspec.Struct):
    """A page of held entries, newest flagged first."""

    items: Annotated[list[HeldEntry], Meta(description="The entries of this page")]
    next_cursor: Annotated[
        str | None, Meta(description="Pass as `cursor` to get the next (earlier flagged) page; null on the last page")
    ]


example(DecisionIn(decision="accept", note="Club ride to Bled"))
_ENTRY = example(
    HeldEntry(
        id=812,
        city="kranj",
        resident=40213,
        local_date=date(2026, 11, 24),
        action_type="cycle-instead-of-car",
        unit="km",
        quantity=120,
        plausible_per_day=100,
        status="accepted",
        flagged_at=datetime(2026, 11, 24, 18, 2, 5, tzinfo=UTC),
        decided_by="coordinator-uid",
        decided_at=datetime(2026, 11, 25, 8, 40, 12, tzinfo=UTC),
        decided_quantity=120,
        note="Club ride to Bled",
        actions=[
            DayAction(
                id=UUID("6f1c6c58-6a3d-4b8e-9a0c-0b0b5a1b2c3d"),
                quantity=120,
                performed_at=datetime(2026, 11, 24, 8, 10, tzinfo=UTC),
                recorded_at=datetime(2026, 11, 24, 17, 55, 41, tzinfo=UTC),
            )
        ],
        decisions=[
            DecisionOut(
                status="accepted",
                quantity=120,
                note="Club ride to Bled",
                decided_by="coordinator-uid",
                decided_at=datetime(2026, 11, 25, 8, 40, 12, tzinfo=UTC),
            )
        ],
    )
)
example(HeldEntryPage(items=[_ENTRY], next_cursor=None))
