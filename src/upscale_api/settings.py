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
Secret = Annotated[str, msgspec.Meta(min_length=32)]
"""A key of at least 32 characters (e.g. ``python3 -c "import secrets; print(secrets.token_urlsafe(32))"``)."""
_DEVELOPMENT_KEY = "development-only-key-never-used-in-production"


DEVELOPMENT_RESEARCH_KEY = b"upscale-development-research-key-never-use-in-production"
"""Public, so pseudonyms made with it protect nothing: refused in production."""


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
    upscale_fcm_client: Literal["pyreqwest", "httpx"] = "pyreqwest"
    """``pyreqwest``: messages posted by pyreqwest, firebase-admin encoding them and mapping errors;
    ``httpx``: firebase-admin's own client (about 20x the CPU per message)."""
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
    upscale_rate_limit_partner: RateLimit = "600/60"
    """Requests of one partner (all its API keys together) on the partner API."""
    upscale_rate_limit_pause_seconds: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0
    """A refused request is answered after this pause (at most until it would pass)."""
    upscale_trusted_proxies: str = ""
    """Comma-separated addresses or CIDRs whose X-Forwarded-For is believed."""
    upscale_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    upscale_log_format: Literal["json", "console"] = "json"
    """``json``: one JSON object per line (production); ``console``: readable lines (``upscale dev``)."""
    upscale_metrics_token: Annotated[str, msgspec.Meta(min_length=32, pattern=r"^[\x21-\x7e]+$")] | None = None
    """Set: ``/metrics`` is served to ``Authorization: Bearer <this>`` (and the worker's on its own port)."""
    upscale_worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 9101
    """Where ``upscale worker`` serves its ``/metrics`` (on ``UPSCALE_HOST``) when a metrics token is set; 0: not."""
    upscale_otel_endpoint: str | None = None
    """OTLP/HTTP traces endpoint (e.g. ``http://collector:4318/v1/traces``); unset: no tracing."""
    upscale_shutdown_drain_seconds: Annotated[float, msgspec.Meta(ge=0, le=300)] = 5.0
    """On SIGTERM, answer 503 this long (the load balancer stops sending) before stopping."""
    upscale_shutdown_timeout_seconds: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 20.0
    """Then, how long requests in flight and running worker jobs may take to finish."""
    upscale_research_key: str | None = None
    """The secret that keys research pseudonyms (HMAC-SHA256); or ``UPSCALE_RESEARCH_KEY_FILE``."""
    upscale_research_key_file: str | None = None
    """A file holding that secret (e.g. a mounted secret); read when a pseudonym is first needed."""
    upscale_research_key_epoch: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1
    """Raise it with every new key: exports record it, withdrawal lists name it."""
    upscale_research_export_dir: str | None = None
    """Where export jobs write their files (default: ``<data dir>/exports``)."""
    upscale_rewards_webhook_secret: Secret | None = None
    """Signs the webhooks sent to partners (HMAC-SHA256); unset outside production: a development key."""
    upscale_city_card_key: Secret | None = None
    """Keys the hash of city card numbers (HMAC-SHA256), shared with the card operator; unset outside
    production: a development key."""
    upscale_webhook_retry_seconds: Annotated[float, msgspec.Meta(ge=0.01, le=3600)] = 30.0
    """The wait after a webhook's first failed attempt; it doubles with each further one, up to an hour."""
    upscale_webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=120)] = 10.0
    """How long one webhook attempt may take before it counts as failed."""
    # Retention (privacy/retention.py) and open data (opendata/); docs/privacy.md, docs/opendata.md.
    upscale_retention_notifications_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 365
    """Messages (inbox and pushes) are deleted this many days after they were written."""
    upscale_retention_attempts_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    """Push delivery attempts are deleted this many days after they were made."""
    upscale_retention_devices_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 180
    """A device the app has not refreshed for this many days is forgotten."""
    upscale_retention_inactive_months: Annotated[int, msgspec.Meta(ge=0, le=120)] = 24
    """An account inactive this many months is told, then erased; 0: never."""
    upscale_retention_notice_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    """How long after that notice an account still inactive is erased."""
    upscale_open_data_seconds: Annotated[float, msgspec.Meta(ge=60, le=86400)] = 21600.0
    """How often the worker publishes the cities' open aggregates again."""
    upscale_open_data_weeks: Annotated[int, msgspec.Meta(ge=1, le=520)] = 104
    """How many ISO weeks back the open aggregates reach."""
    upscale_open_data_min_participants: Annotated[int, msgspec.Meta(ge=10, le=1000)] = 10
    """A published figure describes at least this many residents, directly or by subtraction."""
    upscale_public_url: str | None = None
    """The API's public base URL, for the links of the open data's DCAT-AP metadata (default: the request's)."""
    upscale_open_data_contact: str | None = None
    """An e-mail address for questions about the open data, named in its metadata."""

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
    def research_export_dir(self) -> Path:
        return Path(self.upscale_research_export_dir or self.data_dir / "exports")

    def research_key(self) -> bytes:
        """The pseudonym key: the variable, else the file; outside production an offline default.

        Raises :class:`SettingsError` naming the variable in production without a key,
        or when the key is too short (under 32 bytes) or its file cannot be read.
        """
        if self.upscale_research_key and self.upscale_research_key_file:
            raise SettingsError("UPSCALE_RESEARCH_KEY: set it or UPSCALE_RESEARCH_KEY_FILE, not both")
        key, name = self.upscale_research_key, "UPSCALE_RESEARCH_KEY"
        if self.upscale_research_key_file:
            name = "UPSCALE_RESEARCH_KEY_FILE"
            try:
                key = Path(self.upscale_research_key_file).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"{name}: cannot read {self.upscale_research_key_file} ({exc.strerror})") from None
        if key is None:
            if self.upscale_env == "production":
                raise SettingsError(
                    "UPSCALE_RESEARCH_KEY: required in production (or UPSCALE_RESEARCH_KEY_FILE); "
                    "the development key is public"
                )
            return DEVELOPMENT_RESEARCH_KEY
        if len(key.encode()) < 32:
            raise SettingsError(f"{name}: the key must be at least 32 bytes (e.g. `openssl rand -hex 32`)")
        return key.encode()

    @property
    def auth_emulated(self) -> bool:
        return bool(self.firebase_auth_emulator_host)

    @property
    def webhook_secret(self) -> bytes | None:
        """The key webhooks are signed with; None in production when it is not set (nothing is sent)."""
        return self._key(self.upscale_rewards_webhook_secret)

    @property
    def city_card_key(self) -> bytes | None:
        """The key of city card numbers' hashes; None in production when it is not set (no card is linked)."""
        return self._key(self.upscale_city_card_key)

    def _key(self, value: str | None) -> bytes | None:
        if value is None:
            return None if self.upscale_env == "production" else _DEVELOPMENT_KEY.encode()
        return value.encode()

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
