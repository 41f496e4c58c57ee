"""Opaque page cursors: a small msgspec Struct (the sort key of the last item
shown), JSON-encoded and URL-safe base64 without padding.

A cursor comes back from the client, so it is input like any other: one that does
not decode, or that holds a value SQL cannot take (a time that leaves years 1 to
9999 once in UTC, an integer past 64 bits, text PostgreSQL cannot store), is a 422
naming ``cursor`` before any query runs.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TypeVar

import msgspec

from upscale_api.errors import Problem
from upscale_api.validation import unstorable_reason

T = TypeVar("T", bound=msgspec.Struct)

_BIGINT = range(-(2**63), 2**63)


def encode_cursor(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """The position in ``cursor``; a 422 problem naming ``cursor`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=type_)
    except (ValueError, msgspec.DecodeError, RecursionError):  # binascii and Unicode errors are ValueErrors
        position = None
    if position is None or not all(_usable(value) for value in msgspec.structs.astuple(position)):
        raise Problem.field("cursor", "is not a cursor returned by this endpoint")
    return position


def _usable(value: object) -> bool:
    if isinstance(value, datetime):
        try:
            value.astimezone(UTC)  # what the driver does; past year 1 or 9999 it overflows
        except OverflowError:
            return False
        return True
    if isinstance(value, int):
        return value in _BIGINT
    if isinstance(value, str):
        return unstorable_reason(value) is None
    return True
