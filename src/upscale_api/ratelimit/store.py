"""Counting: GCRA per key, in this process or shared through PostgreSQL."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from litestar.connection import ASGIConnection

from upscale_api.db import Pool
from upscale_api.ratelimit import queries

MICROSECONDS = 1_000_000
_SWEEP_EVERY_US = 60 * MICROSECONDS


@dataclass(frozen=True)
class Limit:
    """A policy: ``quota`` units at once, given back at ``quota`` per ``window`` seconds."""

    name: str
    quota: int
    window: int
    by_items: bool = False
    """Counted in the items of a batch rather than in requests."""

    @classmethod
    def parse(cls, name: str, text: str, *, by_items: bool = False) -> Limit:
        quota, _, window = text.partition("/")
        return cls(name, int(quota), int(window), by_items)

    @functools.cached_property
    def step_us(self) -> int:
        """Microseconds that one unit takes to come back."""
        return max(1, self.window * MICROSECONDS // self.quota)

    @functools.cached_property
    def capacity_us(self) -> int:
        return self.step_us * self.quota

    @property
    def policy_item(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window}'


@dataclass(frozen=True)
class Check:
    """Charge ``cost`` units of ``limit`` to ``key``."""

    key: str
    limit: Limit
    cost: int

    @property
    def increment_us(self) -> int:
        # A request dearer than the whole quota costs the whole quota: it can pass once the key is full.
        return min(self.cost, self.limit.quota) * self.limit.step_us


@dataclass(frozen=True)
class Verdict:
    limit: Limit
    allowed: bool
    remaining: int
    """Units left after this request."""
    reset_us: int
    """Until one more unit comes back (0: the quota is whole)."""
    retry_us: int
    """Until this request would pass (0 when it passed)."""

    def item(self, later_us: int = 0) -> str:
        """This verdict as an item of the RateLimit field, told ``later_us`` after it was reached."""
        return f'"{self.limit.name}";r={self.remaining};t={_seconds(self.reset_us - later_us)}'

    def retry_after(self, later_us: int = 0) -> int:
        """Retry-After in whole seconds, at least 1, told ``later_us`` after the verdict."""
        return max(1, _seconds(self.retry_us - later_us))


def verdict(check: Check, tat_us: int, now_us: int, allowed: bool) -> Verdict:
    """What a key's theoretical arrival time ``tat_us`` means at ``now_us`` (after the charge, if any)."""
    step, capacity = check.limit.step_us, check.limit.capacity_us
    used = max(tat_us - now_us, 0)
    remaining = max(capacity - used, 0) // step
    reset = 0 if used == 0 else used - (capacity - (remaining + 1) * step)
    retry = 0 if allowed else used + check.increment_us - capacity
    return Verdict(check.limit, allowed, remaining, reset, retry)


def _seconds(microseconds: int) -> int:
    return max(0, math.ceil(microseconds / MICROSECONDS))


# --- Stores --------------------------------------------------------------------


class Store(Protocol):
    async def hit(self, connection: ASGIConnection[Any, Any, Any, Any], checks: Sequence[Check]) -> list[Verdict]:
        """Charge each key that has room; a verdict per check, in order."""
        ...


class MemoryStore:
    """Counts in this process: right for one API process, N times too lenient for N."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}
        self._next_sweep = 0

    async def hit(self, connection: ASGIConnection[Any, Any, Any, Any], checks: Sequence[Check]) -> list[Verdict]:
        return self.hit_at(time.monotonic_ns() // 1000, checks)

    def hit_at(self, now_us: int, checks: Sequence[Check]) -> list[Verdict]:
        if now_us >= self._next_sweep:
            # Keys whose quota is whole again are the same as absent ones: forget them.
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now_us}
            self._next_sweep = now_us + _SWEEP_EVERY_US
        verdicts = []
        for check in checks:
            tat = max(self._tats.get(check.key, now_us), now_us) + check.increment_us
            allowed = tat - now_us <= check.limit.capacity_us
            if allowed:
                self._tats[check.key] = tat
            else:
                tat = self._tats[check.key]
            verdicts.append(verdict(check, tat, now_us, allowed))
        return verdicts


# One statement for all of a request's keys, on the database's clock. A key without
# a row is inserted; an existing one is locked and charged only where the WHERE of
# DO UPDATE finds room, evaluated on its latest version, so concurrent requests in
# any number of processes are counted exactly. Keys not charged are not RETURNed:
# their time (for Retry-After) is read from the statement's snapshot.
class PostgresStore:
    """Counts in the ``rate_limits`` table, shared by every API process on the database."""

    async def hit(self, connection: ASGIConnection[Any, Any, Any, Any], checks: Sequence[Check]) -> list[Verdict]:
        pool: Pool = connection.app.state.pool
        rows = await pool.fetch(
            queries.HIT,
            [c.key for c in checks],
            [c.increment_us for c in checks],
            [c.limit.capacity_us for c in checks],
        )
        return [verdict(c, row["tat"], row["now"], row["allowed"]) for c, row in zip(checks, rows, strict=True)]


async def forget_expired(pool: Pool) -> int:
    """Delete the rows of keys whose quota is whole again (the worker runs this every minute)."""
    status = await pool.execute(queries.FORGET_EXPIRED)
    return int(status.split()[-1])


# --- Who is asking -------------------------------------------------------------
