"""Opaque page cursors: a small msgspec Struct (the sort key of the last item
shown), JSON-encoded and URL-safe base64 without padding."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

from upscale_api.errors import Problem

T = TypeVar("T", bound=msgspec.Struct)


def encode_cursor(position: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(cursor: str, type_: type[T]) -> T:
    """The position in ``cursor``; a 400 problem naming ``cursor`` when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=type_)
    except (ValueError, msgspec.DecodeError):
        raise Problem.field("cursor", "is not a cursor returned by this endpoint") from None
