"""Who is calling: Firebase ID tokens, roles from the database, and route access.

Every route declares who may call it with exactly one access guard from this
module (``PUBLIC``, ``SIGNED_IN``, a role, or ``PARTNER``); a test checks that none
is missing. ``PARTNER`` routes take a partner's API key instead of a Firebase token,
checked by the verifier the composition root puts on the app's state.

Tokens are verified by firebase-admin's ``auth.verify_id_token`` in a worker
thread (it is synchronous and may fetch Google's certificates), and verified
tokens are cached until they expire. Expiry, issue time and issuer are checked
here too, because in Auth-emulator mode the SDK checks neither expiry nor
signature.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import math
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard

import firebase_admin
import msgspec
from firebase_admin import auth as firebase_auth
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from upscale_api.errors import Problem
from upscale_api.roles.service import grants_of
from upscale_api.roles.structs import Role
from upscale_api.settings import Settings, SettingsError

CLOCK_SKEW_SECONDS = 30
_CACHE_SIZE = 50_000
# Firebase uids are 1 to 128 characters; no control character or unpaired surrogate
# (neither is text PostgreSQL stores, and no uid Firebase issues has one).
_UID = re.compile("[^\x00-\x1f\x7f\ud800-\udfff]{1,128}")


class Identity(msgspec.Struct, frozen=True):
    """A verified caller. ``uid`` is the Firebase user id; roles are not in here."""

    uid: str
    sign_in_provider: str
    expires_at: float


def check_google_credentials(settings: Settings) -> None:
    """Raise :class:`SettingsError` naming ``GOOGLE_APPLICATION_CREDENTIALS`` unless
    Application Default Credentials load (a key file, gcloud's, or a metadata server).

    Without them the service would start and report ready, then answer 500 to every
    signed-in request. In Auth-emulator mode nothing is needed. Google's own
    ``NO_GCE_CHECK=true`` skips asking for a metadata server where there is none.
    """
    if settings.auth_emulated:
        return
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        reason = str(exc).split(". ")[0].rstrip(".")
        raise SettingsError(
            f"GOOGLE_APPLICATION_CREDENTIALS: no usable Google credentials to verify Firebase ID tokens "
            f"({reason}); set it to a service account key file, or run where Application Default "
            "Credentials exist"
        ) from None


class TokenVerifier:
    """Verifies Firebase ID tokens for one Firebase project without blocking the loop."""

    def __init__(self, settings: Settings) -> None:
        self.project_id = settings.firebase_project_id
        self.issuer = f"https://securetoken.google.com/{self.project_id}"
        self._app = _firebase_app(settings)
        self._cache: OrderedDict[str, Identity] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        """Return the caller, or raise ``NotAuthorizedException`` saying why not."""
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at > now - CLOCK_SKEW_SECONDS:
            return cached
        try:
            claims = await asyncio.to_thread(firebase_auth.verify_id_token, token, self._app, False, CLOCK_SKEW_SECONDS)
        except (ValueError, firebase_auth.InvalidIdTokenError) as exc:
            raise NotAuthorizedException(f"Authorization: invalid ID token ({_first_sentence(exc)})") from None
        except firebase_auth.CertificateFetchError:
            raise Problem(503, "unavailable", "Authorization: cannot fetch Firebase certificates now") from None
        identity = self._check_claims(claims, now)
        self._cache[token] = identity
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return identity

    def known(self, token: str) -> Identity | None:
        """The caller of ``token`` if this process verified it before and it has not expired; never verifies."""
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at > time.time() - CLOCK_SKEW_SECONDS:
            return cached
        return None

    def _check_claims(self, claims: dict[str, Any], now: float) -> Identity:
        """The caller named by verified ``claims``, or ``NotAuthorizedException``. Claims are
        input too: in Auth-emulator mode nobody signed them, so every one is checked for
        type and range before it is used or reaches SQL."""
        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_number(exp) or not _is_number(iat):
            raise NotAuthorizedException("Authorization: ID token lacks exp or iat")
        if exp < now - CLOCK_SKEW_SECONDS:
            raise NotAuthorizedException("Authorization: ID token has expired")
        if iat > now + CLOCK_SKEW_SECONDS:
            raise NotAuthorizedException("Authorization: ID token is issued in the future")
        if claims.get("iss") != self.issuer or claims.get("aud") != self.project_id:
            raise NotAuthorizedException("Authorization: ID token is for another Firebase project")
        uid, firebase = claims.get("uid"), claims.get("firebase", {})
        if not isinstance(uid, str) or not _UID.fullmatch(uid):
            raise NotAuthorizedException("Authorization: ID token has no usable uid (1 to 128 characters of text)")
        if not isinstance(firebase, dict):
            raise NotAuthorizedException("Authorization: ID token has a malformed firebase claim")
        provider = firebase.get("sign_in_provider", "unknown")
        if not isinstance(provider, str) or not _UID.fullmatch(provider):
            raise NotAuthorizedException("Authorization: ID token has a malformed sign-in provider")
        return Identity(uid=uid, sign_in_provider=provider, expires_at=float(exp))


def _is_number(value: object) -> TypeGuard[float]:
    """A time claim: a finite number (not a boolean, not an integer beyond a float's precision)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) < 2**53
    return isinstance(value, float) and math.isfinite(value)


def _first_sentence(exc: Exception) -> str:
    return str(exc).split(". ")[0].rstrip(".")


def _firebase_app(settings: Settings) -> firebase_admin.App:
    name = f"upscale-{settings.firebase_project_id}"
    try:
        return firebase_admin.get_app(name)
    except ValueError:
        pass
    credential: Any
    if settings.auth_emulated:
        # No Google account needed: a fixed token, never sent anywhere for ID-token checks.
        import google.oauth2.credentials

        credential = _StaticCredential(google.oauth2.credentials.Credentials(token="emulator"))  # type: ignore[no-untyped-call]  # noqa: S106
    else:
        credential = firebase_admin.credentials.ApplicationDefault()
    return firebase_admin.initialize_app(credential, {"projectId": settings.firebase_project_id}, name=name)


class _StaticCredential(firebase_admin.credentials.Base):  # type: ignore[misc]
    def __init__(self, google_credential: Any) -> None:
        self._g = google_credential

    def get_credential(self) -> Any:
        return self._g


def dev_token(uid: str, project_id: str, *, lifetime_seconds: int = 3600, provider: str = "anonymous") -> str:
    """An unsigned ID token, accepted only in Auth-emulator mode (development and tests)."""
    return _unsigned_token(uid, project_id, lifetime_seconds=lifetime_seconds, provider=provider)


def _unsigned_token(
    uid: str,
    project_id: str,
    *,
    lifetime_seconds: int = 3600,
    provider: str = "anonymous",
    extra: dict[str, Any] | None = None,
) -> str:
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    payload = {
        "iss": f"https://securetoken.google.com/{project_id}",
        "aud": project_id,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "auth_time": now,
        "exp": now + lifetime_seconds,
        "firebase": {"sign_in_provider": provider, "identities": {}},
    } | (extra or {})
    return f"{_b64(header)}.{_b64(payload)}."


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


# --- Route access -----------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """A route's access rule; used as its Litestar guard."""

    name: str
    signed_in: bool
    role: Role | None = None
    partner: bool = False
    """The caller is a partner, by its API key (never a Firebase token)."""

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        if self.partner:
            await authenticate_partner(connection)
            return
        if not self.signed_in:
            return
        identity = await authenticate(connection)
        if self.role is not None:
            grants = await grants_of(connection.app.state.pool, identity.uid)
            if not any(g.role in (self.role, "admin") for g in grants):
                raise PermissionDeniedException(f"this needs the {self.role} role")
            connection.state["grants"] = grants


@dataclass(frozen=True)
class ScraperAccess(Access):
    """Access for a metrics scraper: ``Authorization: Bearer`` with the ``UPSCALE_METRICS_TOKEN`` setting.

    No Firebase token (not even an admin's) is accepted, so a scraper's credential opens
    nothing else and a resident's opens no metrics."""

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        expected: str | None = connection.app.state.settings.upscale_metrics_token
        scheme, _space, given = connection.headers.get("authorization", "").partition(" ")
        if expected is None or scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthorizedException("Authorization: 'Bearer <UPSCALE_METRICS_TOKEN>' is required")


PUBLIC = Access("public", signed_in=False)
SIGNED_IN = Access("signed-in", signed_in=True)
COORDINATOR = Access("coordinator", signed_in=True, role="coordinator")
RESEARCHER = Access("researcher", signed_in=True, role="researcher")
ADMIN = Access("admin", signed_in=True, role="admin")
SCRAPER = ScraperAccess("scraper", signed_in=False)
PARTNER = Access("partner", signed_in=False, partner=True)


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Identity:
    """Verify the bearer token once per request and keep the caller on the request state."""
    identity: Identity | None = connection.state.get("identity")
    if identity is not None:
        return identity
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("Authorization: a 'Bearer <Firebase ID token>' header is required")
    verifier: TokenVerifier = connection.app.state.token_verifier
    identity = await verifier.verify(token.strip())
    connection.state["identity"] = identity
    return identity


# --- Partners -------------------------------------------------------------------


class PartnerCaller(msgspec.Struct, frozen=True):
    """A partner verified by one of its API keys."""

    partner_id: int
    partner: str
    """The partner's code."""
    city_id: int
    key_id: int


class PartnerKeyVerifier(Protocol):
    """Finds the partner an API key belongs to (the rewards domain provides it)."""

    async def verify(self, connection: ASGIConnection[Any, Any, Any, Any], key: str) -> PartnerCaller | None:
        """The partner of ``key``, or None when no live key matches."""
        ...


PARTNER_KEY_HEADER = "x-partner-key"


async def authenticate_partner(connection: ASGIConnection[Any, Any, Any, Any]) -> PartnerCaller:
    """Verify the partner API key (``Authorization: Bearer <key>`` or ``X-Partner-Key``) once
    per request and keep the partner on the request state."""
    caller: PartnerCaller | None = connection.state.get("partner")
    if caller is not None:
        return caller
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    key = token.strip() if scheme.lower() == "bearer" else ""
    key = key or connection.headers.get(PARTNER_KEY_HEADER, "").strip()
    if not key:
        raise NotAuthorizedException("Authorization: a 'Bearer <partner API key>' header is required")
    verifier: PartnerKeyVerifier = connection.app.state.partner_keys
    caller = await verifier.verify(connection, key)
    if caller is None:
        raise NotAuthorizedException("Authorization: the partner API key is unknown, revoked or expired")
    connection.state["partner"] = caller
    return caller
