"""Rate limits per resident (the verified Firebase uid) and per client address.

Every route is limited unless its handler says ``opt={"rate_limit": "off"}``
(health checks). Each request is checked against keys, each with its limit:

- ``address``: the client's address (see :class:`Addresses`), always, and
  before a token is verified, so that floods of made-up tokens are limited too;
- ``resident``: the verified uid, on routes whose ``Access`` guard is signed-in;
- ``invite-*``: also per address and resident, lower, on routes marked
  ``opt={"rate_limit": "invite"}`` (enrolling with an invite code, starting a team);
- ``batch-*``: on routes marked ``opt={"rate_limit": "batch"}``, counted in
  items: a batch uses one unit per item of its ``item_errors`` list (an offline
  sync of 500 actions weighs 500, one of 3 weighs 3).

A limit is ``QUOTA/SECONDS``: a key may use QUOTA units at once and gets them
back at QUOTA per SECONDS (GCRA: a token bucket kept as one timestamp per key,
the theoretical arrival time). Each key is charged when it has room; the request
passes when every key had room, so a request refused by one limit still counts
against the others (what an address sends counts however it is answered).

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-
ratelimit-headers, structured fields); a refused request is a 429 problem with
``Retry-After``, answered after a short pause. Counts live in this process
(:class:`MemoryStore`) or in PostgreSQL, shared by every process
(:class:`PostgresStore`): one statement per request checks and charges all of
its keys (two when its token must be verified first: the address, then the
resident).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from upscale_api.auth import Access, TokenVerifier, authenticate
from upscale_api.db import Pool
from upscale_api.errors import Problem
from upscale_api.settings import Settings

MICROSECONDS = 1_000_000
_SWEEP_EVERY_US = 60 * MICROSECONDS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
RouteKind = Literal["default", "invite", "batch", "off"]


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
HIT = """
WITH clock AS (
    SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::bigint AS now
), checks AS (
    SELECT c.key, c.increment, c.capacity, c.n
    FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS c(key, increment, capacity, n)
), charged AS (
    INSERT INTO rate_limits AS r (key, tat)
    SELECT checks.key, clock.now + checks.increment FROM checks, clock
    ON CONFLICT (key) DO UPDATE
        SET tat = greatest(r.tat, (SELECT now FROM clock)) + excluded.tat - (SELECT now FROM clock)
        WHERE greatest(r.tat, (SELECT now FROM clock)) + excluded.tat - 2 * (SELECT now FROM clock)
              <= (SELECT capacity FROM checks WHERE checks.key = excluded.key)
    RETURNING r.key, r.tat
)
SELECT coalesce(charged.tat, kept.tat, clock.now) AS tat, charged.key IS NOT NULL AS allowed, clock.now
FROM checks CROSS JOIN clock
LEFT JOIN charged ON charged.key = checks.key
LEFT JOIN rate_limits kept ON kept.key = checks.key AND charged.key IS NULL
ORDER BY checks.n
"""

FORGET_EXPIRED = """
DELETE FROM rate_limits WHERE tat <= (extract(epoch FROM statement_timestamp()) * 1000000)::bigint
"""


class PostgresStore:
    """Counts in the ``rate_limits`` table, shared by every API process on the database."""

    async def hit(self, connection: ASGIConnection[Any, Any, Any, Any], checks: Sequence[Check]) -> list[Verdict]:
        pool: Pool = connection.app.state.pool
        rows = await pool.fetch(
            HIT,
            [c.key for c in checks],
            [c.increment_us for c in checks],
            [c.limit.capacity_us for c in checks],
        )
        return [verdict(c, row["tat"], row["now"], row["allowed"]) for c, row in zip(checks, rows, strict=True)]


async def forget_expired(pool: Pool) -> int:
    """Delete the rows of keys whose quota is whole again (the worker runs this every minute)."""
    status = await pool.execute(FORGET_EXPIRED)
    return int(status.split()[-1])


# --- Who is asking -------------------------------------------------------------


class Addresses:
    """Where requests come from, believing X-Forwarded-For from ``trusted`` proxies only."""

    def __init__(self, trusted: tuple[Network, ...]) -> None:
        self.trusted = trusted
        # Parsing an address costs more than the rest of a check; the same few come back all the time.
        self._classify = functools.lru_cache(maxsize=50_000)(self._classify_uncached)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The peer, or, when the peer is a trusted proxy, the right-most address of
        X-Forwarded-For that is not a trusted proxy (the left part is whatever the
        client wrote). IPv6 addresses count by their /64, which one subscriber
        usually holds whole."""
        address, is_trusted = self._classify(peer[:64])
        if forwarded_for and is_trusted:
            for hop in reversed(forwarded_for.split(",")):
                address, is_trusted = self._classify(hop.strip()[:64])
                if not is_trusted:
                    break
        return address

    def _classify_uncached(self, address: str) -> tuple[str, bool]:
        """The key ``address`` counts under, and whether it is a trusted proxy."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address, False
        is_trusted = any(ip in network for network in self.trusted)
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped), is_trusted
            return str(ipaddress.IPv6Network((ip, 64), strict=False)), is_trusted
        return str(ip), is_trusted


# --- The middleware ------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    resident: Limit
    address: Limit
    invite_resident: Limit
    invite_address: Limit
    batch_resident: Limit
    batch_address: Limit

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            resident=Limit.parse("resident", s.upscale_rate_limit_resident),
            address=Limit.parse("address", s.upscale_rate_limit_address),
            invite_resident=Limit.parse("invite-resident", s.upscale_rate_limit_invite_resident),
            invite_address=Limit.parse("invite-address", s.upscale_rate_limit_invite_address),
            batch_resident=Limit.parse("batch-resident", s.upscale_rate_limit_batch_resident, by_items=True),
            batch_address=Limit.parse("batch-address", s.upscale_rate_limit_batch_address, by_items=True),
        )


@dataclass(frozen=True)
class Route:
    """How one route handler is limited (worked out once per handler)."""

    kind: RouteKind
    signed_in: bool
    items: str | None
    """The body's list a batch is counted by."""
    by_address: tuple[Limit, ...]
    by_resident: tuple[Limit, ...]
    policy: bytes
    """The RateLimit-Policy field: every limit the route can apply."""

    def checks(self, limits: tuple[Limit, ...], subject: str, cost: int) -> list[Check]:
        return [Check(f"{limit.name}:{subject}", limit, cost if limit.by_items else 1) for limit in limits]


class RateLimitMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self.limits = Limits.from_settings(settings)
        self.addresses = Addresses(settings.trusted_proxies)
        self.pause_us = int(settings.upscale_rate_limit_pause_seconds * MICROSECONDS)
        self.store: Store = PostgresStore() if settings.upscale_rate_limit_store == "postgres" else MemoryStore()
        self._routes: dict[int, Route] = {}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler: BaseRouteHandler = scope["route_handler"]
        route = self._routes.get(id(handler)) or self._route(handler)
        if route.kind == "off":
            await next_app(scope, receive, send)
            return
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope, receive, send)
        cost = await _count_items(Request(scope, receive, send), route.items) if route.items else 1
        client = scope.get("client")
        peer = client[0] if client else ""
        address = self.addresses.client(peer, connection.headers.get("x-forwarded-for"))
        checks = route.checks(route.by_address, address, cost)
        verdicts: list[Verdict] = []
        token = _bearer(connection) if route.signed_in else None
        if token is not None:
            verifier: TokenVerifier = connection.app.state.token_verifier
            if verifier.known(token) is None:
                # Checked before verifying: a flood of made-up tokens stops at its address's limit.
                verdicts = await self.store.hit(connection, checks)
                await _refuse_if_over(verdicts, route.policy, self.pause_us)
                checks = []
            identity = await authenticate(connection)
            checks += route.checks(route.by_resident, identity.uid, cost)
        verdicts += await self.store.hit(connection, checks)
        await _refuse_if_over(verdicts, route.policy, self.pause_us)
        extra = [(b"ratelimit-policy", route.policy), (b"ratelimit", ", ".join(v.item() for v in verdicts).encode())]

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await next_app(scope, receive, send_with_limits)

    def _route(self, handler: BaseRouteHandler) -> Route:
        kind: RouteKind = handler.opt.get("rate_limit", "default")
        if kind not in ("default", "invite", "batch", "off"):
            raise ValueError(f"{handler}: unknown rate_limit {kind!r}")
        access = [g for g in handler.resolve_guards() if isinstance(g, Access)]
        signed_in = bool(access) and access[0].signed_in
        lim = self.limits
        by_address: tuple[Limit, ...] = (lim.address,)
        by_resident: tuple[Limit, ...] = (lim.resident,) if signed_in else ()
        if kind == "invite":
            by_address += (lim.invite_address,)
            by_resident += (lim.invite_resident,) if signed_in else ()
        elif kind == "batch":
            by_address += (lim.batch_address,)
            by_resident += (lim.batch_resident,) if signed_in else ()
        policy = ", ".join(limit.policy_item for limit in (*by_address, *by_resident)).encode()
        items = handler.opt.get("item_errors") if kind == "batch" else None
        route = Route(kind, signed_in, items, by_address, by_resident, policy)
        self._routes[id(handler)] = route
        return route


async def _refuse_if_over(verdicts: list[Verdict], policy: bytes, pause_us: int) -> None:
    """Raise the 429 problem when a key had no room, after a pause of up to ``pause_us``
    (never past the moment the request would pass): a client that does not wait
    for Retry-After sends one request per pause and connection, at the cost of a timer."""
    refused = [v for v in verdicts if not v.allowed]
    if not refused:
        return
    worst = max(refused, key=lambda v: v.retry_us)
    paused = min(pause_us, worst.retry_us)
    if paused > 0:
        await asyncio.sleep(paused / MICROSECONDS)
    names = ", ".join(f'"{v.limit.name}"' for v in refused)
    retry_after = worst.retry_after(paused)
    headers = {
        "Retry-After": str(retry_after),
        "RateLimit-Policy": policy.decode(),
        "RateLimit": ", ".join(v.item(paused) for v in verdicts),
    }
    raise Problem(
        429,
        "rate-limited",
        f"over the {names} limit ({worst.limit.quota} per {worst.limit.window} s): retry in {retry_after} s",
        headers=headers,
    )


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _count_items(request: Request[Any, Any, Any], field: str) -> int:
    """How many items the body's list ``field`` has (1 when the body is not such JSON:
    the handler answers that). The body stays cached for the handler."""
    body = await request.body()
    try:
        envelope = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
        return max(1, len(msgspec.json.decode(envelope[field], type=list[msgspec.Raw])))
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError):
        return 1


def middleware(settings: Settings) -> list[RateLimitMiddleware]:
    """The app's rate-limit middleware, or none when ``UPSCALE_RATE_LIMIT_STORE=off``."""
    return [] if settings.upscale_rate_limit_store == "off" else [RateLimitMiddleware(settings)]
