"""Partner API keys and redemption codes: made from the operating system's randomness.

A partner key is ``upk_`` and 43 URL-safe characters (256 random bits); only its
SHA-256 is stored, so a copy of the database lets nobody call as a partner. A
plain hash is enough for a key that random: no list of guesses comes near it,
so the slow hashes made for passwords would only slow every partner request.

A redemption code is 10 characters of Crockford's base32 (no I, L, O or U, so
nothing reads as another letter or a word), 50 random bits, shown as
``XXXXX-XXXXX``. Codes are checked only by the partner whose reward it is,
under that partner's rate limit, so guessing one is hopeless (2^50 codes).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from litestar.connection import ASGIConnection

from upscale_api.auth import PartnerCaller
from upscale_api.rewards import queries

KEY_PREFIX = "upk_"
_KEY = re.compile(r"^upk_[A-Za-z0-9_-]{43}$")
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_CODE_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def new_key() -> tuple[str, bytes, str]:
    """A new partner API key, its hash (what is stored) and its shown prefix."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_hash(key), key[:8]


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def new_code() -> str:
    """A fresh redemption code, ``XXXXX-XXXXX``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(typed: str) -> str | None:
    """A code as a partner may type it (lower case, without the dash, O for 0) in its stored
    form; None when it cannot be one."""
    raw = typed.upper().translate(_CODE_ALIASES)
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return f"{raw[:5]}-{raw[5:]}"


def card_hash(key: bytes, city: str, number: str) -> bytes:
    """The keyed hash of a city card number: what is stored and what the card operator is sent."""
    return hmac.new(key, f"{city}:{number}".encode(), hashlib.sha256).digest()


class PartnerKeys:
    """The verifier :func:`upscale_api.auth.authenticate_partner` asks: the partner of a live key."""

    async def verify(self, connection: ASGIConnection[Any, Any, Any, Any], key: str) -> PartnerCaller | None:
        if not _KEY.match(key):
            return None  # not one of ours: no query
        row = await connection.app.state.pool.fetchrow(queries.PARTNER_BY_KEY, key_hash(key))
        if row is None:
            return None
        return PartnerCaller(
            partner_id=row["partner_id"], partner=row["partner"], city_id=row["city_id"], key_id=row["key_id"]
        )
