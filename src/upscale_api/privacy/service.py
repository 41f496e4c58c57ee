"""Residents' own data rights: taking all of it (the export) and erasing it.

Erasing a person (:func:`erase_account`) runs every table's treatment of
``erasure.py`` in one transaction: personal data, devices and messages go at
once; the resident row becomes a tombstone that keeps every shared number as it
was; staff roles go and staff decisions keep a pseudonym. Erasing what is
already erased does nothing.

The export (:func:`export`) is one JSON document of the shape
:class:`~upscale_api.privacy.structs.ResidentExport`, read in one read-only
snapshot and streamed section by section, the actions and messages through
cursors, so an export of years of actions never sits in memory whole.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

import msgspec

from upscale_api.consents import service as consents
from upscale_api.db import Connection, Pool, Record
from upscale_api.errors import Problem
from upscale_api.privacy import queries
from upscale_api.privacy.erasure import Erasure, erase
from upscale_api.privacy.structs import (
    FORMAT,
    ExportAction,
    ExportBadge,
    ExportChallenge,
    ExportConsent,
    ExportDemographics,
    ExportDevice,
    ExportEnrolment,
    ExportHeldEntry,
    ExportNotification,
    ExportNotificationSettings,
    ExportProfile,
    ExportRole,
    ExportScore,
    ExportSurveyAnswer,
    ExportTeam,
)
from upscale_api.research import service as research
from upscale_api.scoring import reads as scoring_reads
from upscale_api.settings import Settings

PAGE_ROWS = 500
"""Rows a streamed section reads and sends at a time."""


def not_registered() -> Problem:
    return Problem(404, "not-registered", "resident: register first with PUT /v1/me")


def staff_pseudonym() -> str:
    """What a member of staff's decisions keep instead of their uid: random, the same for all of them."""
    return f"erased-{secrets.token_hex(6)}"


async def erase_account(pool: Pool, settings: Settings, uid: str, now: datetime) -> bool:
    """Erase the person behind ``uid``: their resident data (a tombstone stays), staff roles and
    identity in decisions. True when there was a resident to erase; erasing again changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        residents = await conn.fetch(queries.LOCK_RESIDENTS, [uid])
        ids = [r["id"] for r in residents]
        await erase(conn, Erasure(ids, [uid], [staff_pseudonym()], now, settings))
    return bool(ids)


async def erase_residents(conn: Connection, settings: Settings, rows: Iterable[Record], now: datetime) -> int:
    """Erase the residents of ``rows`` (``id``, ``firebase_uid``), locked by the caller, in its
    transaction; staff are not among them (retention leaves staff accounts to their operators)."""
    ids = [r["id"] for r in rows]
    if ids:
        await erase(conn, Erasure(ids, [], [], now, settings))
    return len(ids)


async def resident_columns(pool: Pool) -> list[Record]:
    """Every column of every table that holds a resident (``table_name``, ``column_name``, and
    ``holds``: ``resident`` for a resident id, ``uid`` for a Firebase uid)."""
    return await pool.fetch(queries.RESIDENT_COLUMNS)


# --- The export ------------------------------------------------------------------------


async def find_for_export(pool: Pool, uid: str) -> Record:
    """The resident ``uid``, or the ``not-registered`` problem (before anything is streamed)."""
    row = await pool.fetchrow(queries.PROFILE, uid)
    if row is None:
        raise not_registered()
    return row


async def export(pool: Pool, uid: str, resident_id: int, now: datetime) -> AsyncIterator[bytes]:
    """The export of resident ``resident_id`` (``uid``) as the chunks of one JSON document."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        profile = await conn.fetchrow(queries.PROFILE, uid)
        if profile is None or profile["id"] != resident_id:
            # Erased (or registered anew) since the request began: end the body unfinished, never half true.
            raise RuntimeError("the resident was erased while the export began")
        scores, badges, challenges = await scoring_reads.resident_results(conn, resident_id)
        settings = await conn.fetchrow(queries.NOTIFICATION_SETTINGS, resident_id)
        yield b'{"format":' + _encode(FORMAT) + b',"exported_at":' + _encode(now)
        yield b',"profile":' + _encode(_struct(ExportProfile, profile, skip=("id",)))
        yield b',"roles":' + _list(ExportRole, await conn.fetch(queries.ROLES, uid))
        yield b',"actions":['
        async for chunk in _cursor_items(conn, ExportAction, queries.ACTIONS, resident_id):
            yield chunk
        yield b'],"enrolments":' + _list(ExportEnrolment, await conn.fetch(queries.ENROLMENTS, resident_id))
        yield b',"teams":' + _list(ExportTeam, await conn.fetch(queries.TEAMS_STARTED, resident_id))
        yield b',"scores":' + _list(ExportScore, scores)
        yield b',"badges":' + _list(ExportBadge, badges)
        yield b',"challenges":' + _list(ExportChallenge, challenges)
        yield b',"held_entries":' + _list(ExportHeldEntry, await conn.fetch(queries.HELD_ENTRIES, resident_id))
        yield b',"devices":' + _list(ExportDevice, await conn.fetch(queries.DEVICES, resident_id))
        yield b',"notification_settings":' + (
            _encode(_struct(ExportNotificationSettings, settings)) if settings else b"null"
        )
        yield b',"notifications":['
        async for chunk in _cursor_items(conn, ExportNotification, queries.NOTIFICATIONS, resident_id):
            yield chunk
        yield b"]"
        decisions, demographics = await consents.decisions_of(conn, resident_id)
        yield b',"consents":' + _list(ExportConsent, decisions)
        yield b',"demographics":' + (_encode(_struct(ExportDemographics, demographics)) if demographics else b"null")
        yield b',"survey_answers":' + _list(ExportSurveyAnswer, await research.answers_of(conn, resident_id))
        yield b"}"


def _encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def _struct(kind: type[Any], row: Record, skip: tuple[str, ...] = ()) -> Any:
    return kind(**{k: v for k, v in row.items() if k not in skip})


def _list(kind: type[Any], rows: list[Record]) -> bytes:
    return _encode([_struct(kind, row) for row in rows])


async def _cursor_items(conn: Connection, kind: type[Any], query: str, *args: Any) -> AsyncIterator[bytes]:
    """The rows of ``query`` as ``kind``, comma-separated JSON, a page at a time."""
    cursor = await conn.cursor(query, *args)
    first = True
    while rows := await cursor.fetch(PAGE_ROWS):
        items = b",".join(_encode(_struct(kind, row)) for row in rows)
        yield items if first else b"," + items
        first = False
