"""Settings read from the environment once, at start, and validated with msgspec.

Every setting is an environment variable. A wrong value stops start-up with one
line naming the variable (:class:`SettingsError`); nothing half-starts.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import msgspec

Environment = Literal["development", "test", "production"]
RateLimit = Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]{0,8}/[1-9][0-9]{0,7}$")]
"""``QUOTA/SECONDS``: QUOTA units at once, given back at QUOTA per SECONDS (``ratelimit/``)."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, rename="upper"):
    """The service configuration. Field ``x_y`` is read from variable ``X_Y``."""

    upscale_env: Environment = "development"
    database_url: str | None = None
    """PostgreSQL URL. Unset: an embedded PostgreSQL in ``upscale_data_dir``."""
    upscale_data_dir: str = ".upscale"
    """Where the embedded PostgreSQL keeps its data (kept across restarts)."""
    upscale_campaigns_dir: str = "campaigns"
    """The reviewed definition files: cities, action catalogue, emission factors."""
    upscale_host: str = "127.0.0.1"
    upscale_port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    upscale_db_pool_min: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 2
    upscale_db_pool_max: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 20
    upscale_db_statement_cache: bool = True
    """Set false behind PgBouncer in transaction mode."""
    upscale_backdate_days: Annotated[int, msgspec.Meta(ge=0, le=365)] = 7
    """How far back a resident may log an action (offline sync)."""
    upscale_scoring_seconds: Annotated[float, msgspec.Meta(ge=0.5, le=3600)] = 5.0
    """How often the worker scores what was logged since its last run."""
    upscale_scoring_parts: Annotated[int, msgspec.Meta(ge=1, le=64)] = 2
    """A scoring tick scores its residents in this many parts side by side, one connection each."""
    upscale_standings_seconds: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 30.0
    """How often the worker rebuilds leaderboards of campaigns whose scores changed."""
    upscale_delete_grace_hours: Annotated[float, msgspec.Meta(ge=0, le=24 * 365)] = 24.0
    """How long after logging a resident may delete an action."""
    upscale_migration_lock_timeout: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 5.0
    """Seconds a migration statement may wait for a lock before the migration gives up (0: forever)."""
    upscale_migration_statement_timeout: Annotated[float, msgspec.Meta(ge=0, le=86400)] = 1800.0
    """Seconds one migration statement may run (0: no limit)."""
    upscale_max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 1024 * 1024
    firebase_project_id: Annotated[str, msgspec.Meta(min_length=1)] = "demo-upscale"
    upscale_push: Literal["off", "fcm"] = "off"
    """``fcm``: the worker sends push messages through firebase-admin; ``off``: inbox only."""
    upscale_fcm_endpoint: str | None = None
    """Send to this FCM-compatible endpoint instead of Google's (tests, staging)."""
    upscale_firebase_web_api_key: str | None = None
    """The Firebase project's web API key, for the dashboard's sign-in page outside emulator mode."""
    upscale_firebase_auth_domain: str | None = None
    """The Firebase Auth domain (``PROJECT.firebaseapp.com``) for the dashboard's sign-in page."""
    firebase_auth_emulator_host: str | None = None
    """Set: ID tokens are checked in Firebase Auth-emulator mode (no signature)."""
    upscale_rate_limit_store: Literal["memory", "postgres", "off"] = "memory"
    """Where rate limits count: this process, PostgreSQL (shared by every process), or nowhere."""
    upscale_rate_limit_resident: RateLimit = "60/60"
    upscale_rate_limit_address: RateLimit = "600/60"
    upscale_rate_limit_invite_resident: RateLimit = "10/600"
    upscale_rate_limit_invite_address: RateLimit = "60/600"
    upscale_rate_limit_batch_resident: RateLimit = "1000/3600"
    """Counted in actions: a batch of N actions uses N."""
    upscale_rate_limit_batch_address: RateLimit = "10000/3600"
    upscale_rate_limit_pause_seconds: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0
    """A refused request is answered after this pause (at most until it would pass)."""
    upscale_trusted_proxies: str = ""
    """Comma-separated addresses or CIDRs whose X-Forwarded-For is believed."""

    def __post_init__(self) -> None:
        if self.upscale_env == "production" and self.firebase_auth_emulator_host:
            raise SettingsError(
                "FIREBASE_AUTH_EMULATOR_HOST: must not be set when UPSCALE_ENV=production "
                "(ID tokens would be accepted without a signature)"
            )
        if self.upscale_db_pool_min > self.upscale_db_pool_max:
            raise SettingsError("UPSCALE_DB_POOL_MIN: must not exceed UPSCALE_DB_POOL_MAX")
        try:
            _ = self.trusted_proxies  # parsed once here, so that a typo stops start-up
        except ValueError as exc:
            raise SettingsError(f"UPSCALE_TRUSTED_PROXIES: {exc}") from None
        if self.upscale_scoring_parts >= self.upscale_db_pool_max:
            raise SettingsError(
                "UPSCALE_SCORING_PARTS: must be below UPSCALE_DB_POOL_MAX (a tick holds one connection more)"
            )

    @property
    def data_dir(self) -> Path:
        return Path(self.upscale_data_dir)

    @property
    def campaigns_dir(self) -> Path:
        return Path(self.upscale_campaigns_dir)

    @property
    def auth_emulated(self) -> bool:
        return bool(self.firebase_auth_emulator_host)

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks of ``UPSCALE_TRUSTED_PROXIES``; raises ValueError on a malformed entry."""
        entries = [e.strip() for e in self.upscale_trusted_proxies.split(",")]
        return tuple(ipaddress.ip_network(e, strict=False) for e in entries if e)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default: ``os.environ``).

    Only variables that name a field are read; empty values count as unset.
    Raises :class:`SettingsError` with a one-line message naming the variable.
    """
    environ = os.environ if environ is None else environ
    names = {f.encode_name for f in msgspec.structs.fields(Settings)}
    raw = {name: value for name, value in environ.items() if name in names and value != ""}
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if " - at `$." in message:
            reason, _, where = message.partition(" - at `$.")
            raise SettingsError(f"{where.rstrip('`')}: {reason}") from None
        raise SettingsError(message) from None
