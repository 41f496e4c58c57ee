"""Roles of staff: what a grant says."""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["coordinator", "researcher", "admin"]


class Grant(msgspec.Struct, frozen=True):
    """A role granted to a Firebase user; ``city`` is set for coordinators only, ``study`` for researchers."""

    role: Role
    city: str | None
    study: str | None = None
