"""Logged actions as the app sends and sees them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from upscale_api.validation import FieldError

MAX_BATCH = 500


class ActionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One action. ``id`` is chosen by the app (a UUID) so that retries are idempotent."""

    id: UUID
    action_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["cycle-instead-of-car"])]
    quantity: float
    """In the action type's unit; within its per-entry range and per-day limit."""
    performed_at: Annotated[datetime, msgspec.Meta(tz=True)]
    """When it was done (RFC 3339 with offset); up to the back-dating window in the past."""


class FactorRef(msgspec.Struct):
    """Which emission factor version produced a saving."""

    code: str
    version: int


class ActionOut(msgspec.Struct):
    id: UUID
    action_type: str
    category: str
    unit: str
    quantity: float
    performed_at: datetime
    local_date: date
    """The day in the resident's time zone."""
    recorded_at: datetime
    co2e_kg: float
    """Immediate estimate of kg CO2e avoided: quantity x (baseline - option factor)."""
    baseline_factor: FactorRef
    option_factor: FactorRef | None
    deleted_at: datetime | None = None


class ActionBatch(msgspec.Struct, forbid_unknown_fields=True):
    """Actions logged offline; each is answered on its own."""

    actions: Annotated[list[ActionIn], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


Status = Literal["stored", "duplicate", "conflict", "rejected"]


class Outcome(msgspec.Struct, omit_defaults=True):
    """What became of one action: ``stored`` (new), ``duplicate`` (same id and content were
    already stored; the stored record is returned), ``conflict`` (the id is taken by other
    content) or ``rejected`` (``errors`` say which fields and why)."""

    status: Status
    action: ActionOut | None = None
    errors: list[FieldError] | None = None


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    index: int
    """Position in the request's ``actions``."""
    id: UUID | None
    """Null when the item had no valid id."""
    status: Status
    action: ActionOut | None = None
    errors: list[FieldError] | None = None


class BatchResult(msgspec.Struct):
    stored: int
    duplicates: int
    conflicts: int
    rejected: int
    results: list[BatchItemResult]


class ActionPage(msgspec.Struct):
    items: list[ActionOut]
    next_cursor: str | None
    """Pass as ``cursor`` to get the next (older) page; null on the last page."""
