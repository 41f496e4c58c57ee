"""Held entries as coordinators see and decide them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

Status = Literal["pending", "accepted", "rejected"]
MAX_NOTE = 1000


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Accept the day total (it counts again) or reject it (it stays out of every score)."""

    decision: Literal["accept", "reject"]
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NOTE)] | None = None
    """Why, for the record; seen by coordinators and admins only."""


class DayAction(msgspec.Struct):
    """One live action of the held day."""

    id: UUID
    quantity: float
    performed_at: datetime
    recorded_at: datetime


class DecisionOut(msgspec.Struct):
    """One decision on the entry; re-deciding adds one, so corrections stay on record."""

    status: Literal["accepted", "rejected"]
    quantity: float
    """The day total decided on."""
    note: str | None
    decided_by: str
    decided_at: datetime


class HeldEntry(msgspec.Struct, kw_only=True):
    """A resident's day total of one action type over its plausible limit, held out of scores."""

    id: int
    city: str
    resident: int
    """An opaque resident number; no names or sign-in ids leave the server."""
    local_date: date
    """The resident's local day."""
    action_type: str
    unit: str
    quantity: float
    """The day total when last flagged."""
    plausible_per_day: float | None
    """The action type's limit now; null if the catalogue no longer sets one."""
    status: Status
    """pending: held until decided; accepted: counts up to decided_quantity; rejected: stays held."""
    flagged_at: datetime
    decided_by: str | None
    """The Firebase uid of whoever decided last."""
    decided_at: datetime | None
    decided_quantity: float | None
    """The day total last accepted or rejected; more logged that day makes the entry pending again."""
    note: str | None
    """The note of the latest decision."""
    actions: list[DayAction]
    """The live actions of that day and type, oldest first."""
    decisions: list[DecisionOut]
    """Every decision, oldest first."""


class HeldEntryPage(msgspec.Struct):
    items: list[HeldEntry]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (earlier flagged) page; null on the last page."""
