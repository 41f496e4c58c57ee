"""Consent per purpose: documents from the files, residents' decisions and their history, demographics.

Research consent is off until granted; withdrawing it never stops anyone using
the app. A decision names the document version the resident read, which must
be the version in force; a new version asks again (``needs_decision``), and
until it is granted the consent is not current. Every decision is appended to
the history. Granting research consent assigns the resident to the studies of
the campaigns they take part in; withdrawing it puts their pseudonym on each
of their studies' withdrawal lists (:mod:`upscale_api.research.service`); either
way the next scoring tick judges their challenges by the arm they then have.
Withdrawing the demographics consent erases the demographics given under it.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import msgspec

from upscale_api.consents import queries
from upscale_api.consents.structs import (
    ConsentChangeOut,
    ConsentFile,
    ConsentHistoryOut,
    ConsentOut,
    ConsentsIn,
    ConsentsOut,
    DemographicsIn,
    DemographicsOut,
)
from upscale_api.db import Connection, Pool, Record, rows_affected
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.research import service as research
from upscale_api.residents import service as residents
from upscale_api.settings import Settings
from upscale_api.validation import FieldError


async def apply_documents(conn: Connection, files: list[ConsentFile]) -> tuple[int, list[tuple[str, str]]]:
    """Store the documents' versions inside the caller's transaction: (versions added, problems).

    A stored version whose text would change is a problem (field, reason), and then nothing is written.
    """
    rows = [{"purpose": f.purpose} | msgspec.to_builtins(v) for f in files for v in f.version]
    rewritten = await conn.fetch(queries.DOCUMENTS_REWRITTEN, rows)
    if rewritten:
        reason = "its text differs from the stored version: publish a new version instead (it asks again)"
        return 0, [(f"{r['purpose']} version {r['version']}", reason) for r in rewritten]
    return rows_affected(await conn.execute(queries.INSERT_DOCUMENTS, rows)), []


async def _resident(conn: Connection, uid: str) -> Record:
    resident = await residents.find(conn, uid)
    if resident is None:
        raise residents.not_registered()
    return resident


def _consent(row: Record, language: str) -> ConsentOut:
    current = bool(row["granted"]) and row["decided_version"] == row["version"]
    return ConsentOut(
        purpose=row["purpose"],
        version=row["version"],
        published_on=row["published_on"],
        title=pick(row["title"], language),
        body=pick(row["body"], language),
        granted=current,
        decided_version=row["decided_version"],
        decided_at=row["decided_at"],
        needs_decision=row["decided_version"] != row["version"],
    )


async def my_consents(pool: Pool, uid: str) -> ConsentsOut:
    """Each purpose's document in force, in the resident's language, with their decision."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        rows = await conn.fetch(queries.CONSENTS, resident["id"])
    return ConsentsOut(items=[_consent(r, resident["locale"]) for r in rows])


async def decide(pool: Pool, settings: Settings, uid: str, data: ConsentsIn, now: datetime) -> ConsentsOut:
    """Record the decisions; assign or withdraw from studies as research consent comes or goes."""
    purposes = Counter(d.purpose for d in data.decisions)
    errors = [FieldError("decisions", f"{p} is decided twice") for p, n in purposes.items() if n > 1]
    if errors:
        raise Problem.invalid(errors)
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        in_force = {r["purpose"]: r["version"] for r in await conn.fetch(queries.IN_FORCE)}
        for i, d in enumerate(data.decisions):
            if d.purpose not in in_force or d.version > in_force[d.purpose]:
                errors.append(
                    FieldError(f"decisions[{i}].version", f"no version {d.version} of the {d.purpose} document")
                )
        if errors:
            raise Problem.invalid(errors)
        stale = [(i, d) for i, d in enumerate(data.decisions) if d.granted and d.version != in_force[d.purpose]]
        if stale:
            i, d = stale[0]
            raise Problem.field(
                f"decisions[{i}].version",
                f"version {in_force[d.purpose]} of the {d.purpose} document is in force: show it and ask again",
                status=409,
                kind="rule-violation",
            )
        changes = await conn.fetch(
            queries.DECIDE,
            resident["id"],
            resident["city_id"],
            [d.purpose for d in data.decisions],
            [in_force[d.purpose] if not d.granted else d.version for d in data.decisions],
            [d.granted for d in data.decisions],
            now,
        )
        await _consequences(conn, settings, resident, changes, now)
        rows = await conn.fetch(queries.CONSENTS, resident["id"])
    return ConsentsOut(items=[_consent(r, resident["locale"]) for r in rows])


async def _consequences(
    conn: Connection, settings: Settings, resident: Record, changes: list[Record], now: datetime
) -> None:
    for change in changes:
        granted, was = change["granted"], change["was_current"]
        if change["purpose"] == "research" and granted and not was:
            await research.assign(conn, resident["id"], now)
            await research.rejudge_challenges(conn, resident["id"])
        elif change["purpose"] == "research" and was and not granted:
            await research.withdraw(conn, [resident["id"]], settings, "consent-withdrawn")
            await research.rejudge_challenges(conn, resident["id"])
        elif change["purpose"] == "demographics" and not granted:
            await conn.execute(queries.ERASE_DEMOGRAPHICS, resident["id"])


async def history(pool: Pool, uid: str) -> ConsentHistoryOut:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        rows = await conn.fetch(queries.HISTORY, resident["id"])
    return ConsentHistoryOut(items=[ConsentChangeOut(**dict(r)) for r in rows])


async def demographics(pool: Pool, uid: str) -> DemographicsOut:
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        row = await conn.fetchrow(queries.DEMOGRAPHICS, resident["id"])
    return DemographicsOut(birth_year=row["birth_year"], gender=row["gender"]) if row else DemographicsOut(None, None)


async def put_demographics(pool: Pool, uid: str, data: DemographicsIn, this_year: int) -> DemographicsOut:
    """Store birth year and gender; only under a current demographics consent."""
    if data.birth_year is not None and data.birth_year > this_year:
        raise Problem.field("birth_year", "is in the future")
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        if not await conn.fetchval(queries.DEMOGRAPHICS_CONSENT, resident["id"]):
            raise Problem.field(
                "consent",
                "grant the demographics consent (PUT /v1/me/consents) before giving demographics",
                status=409,
                kind="rule-violation",
            )
        await conn.execute(queries.PUT_DEMOGRAPHICS, resident["id"], resident["city_id"], data.birth_year, data.gender)
    return DemographicsOut(birth_year=data.birth_year, gender=data.gender)


async def decisions_of(conn: Connection, resident_id: int) -> tuple[list[Record], Record | None]:
    """The resident's consent decisions, oldest first, and their demographics (None when not given)."""
    decisions = await conn.fetch(queries.DECISIONS_OF, resident_id)
    return decisions, await conn.fetchrow(queries.DEMOGRAPHICS_OF, resident_id)
