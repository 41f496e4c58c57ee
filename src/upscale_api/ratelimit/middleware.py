"""The ASGI middleware: which keys and limits a request is checked against, and the answers."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from upscale_api.auth import Access, TokenVerifier, authenticate, authenticate_partner
from upscale_api.errors import Problem
from upscale_api.observability.metrics import RATE_LIMIT_REJECTIONS
from upscale_api.ratelimit.store import MICROSECONDS, Check, Limit, MemoryStore, PostgresStore, Store, Verdict
from upscale_api.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
RouteKind = Literal["default", "invite", "batch", "off"]


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
    partner: Limit

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            resident=Limit.parse("resident", s.upscale_rate_limit_resident),
            address=Limit.parse("address", s.upscale_rate_limit_address),
            invite_resident=Limit.parse("invite-resident", s.upscale_rate_limit_invite_resident),
            invite_address=Limit.parse("invite-address", s.upscale_rate_limit_invite_address),
            batch_resident=Limit.parse("batch-resident", s.upscale_rate_limit_batch_resident, by_items=True),
            batch_address=Limit.parse("batch-address", s.upscale_rate_limit_batch_address, by_items=True),
            partner=Limit.parse("partner", s.upscale_rate_limit_partner),
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
    """The caller's own limits: the resident's on signed-in routes, the partner's on partner routes."""
    policy: bytes
    """The RateLimit-Policy field: every limit the route can apply."""
    partner: bool = False
    """A partner route: the partner's API key is verified here and counted."""

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
        elif route.partner:
            # As with tokens: the address first, so a flood of made-up keys stops there unverified.
            verdicts = await self.store.hit(connection, checks)
            await _refuse_if_over(verdicts, route.policy, self.pause_us)
            partner = await authenticate_partner(connection)
            checks = route.checks(route.by_resident, str(partner.partner_id), cost)
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
        partner = bool(access) and access[0].partner
        lim = self.limits
        by_address: tuple[Limit, ...] = (lim.address,)
        by_resident: tuple[Limit, ...] = (lim.resident,) if signed_in else (lim.partner,) if partner else ()
        if kind == "invite":
            by_address += (lim.invite_address,)
            by_resident += (lim.invite_resident,) if signed_in else ()
        elif kind == "batch":
            by_address += (lim.batch_address,)
            by_resident += (lim.batch_resident,) if signed_in else ()
        policy = ", ".join(limit.policy_item for limit in (*by_address, *by_resident)).encode()
        items = handler.opt.get("item_errors") if kind == "batch" else None
        route = Route(kind, signed_in, items, by_address, by_resident, policy, partner)
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
    RATE_LIMIT_REJECTIONS.labels(worst.limit.name).inc()
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


def rate_limits(settings: Settings) -> list[RateLimitMiddleware]:
    """The app's rate-limit middleware, or none when ``UPSCALE_RATE_LIMIT_STORE=off``."""
    return [] if settings.upscale_rate_limit_store == "off" else [RateLimitMiddleware(settings)]
