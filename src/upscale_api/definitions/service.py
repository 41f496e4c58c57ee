"""Storing the definition files in PostgreSQL, all in one transaction.

Applying is idempotent: the same files applied twice change nothing. Every
table is written with one set-based statement. A factor version once stored
is history: its value and unit may not change (add a new version instead);
catalogue entries and districts that leave the files are retired, not deleted,
because logged actions point at them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from upscale_api.campaigns.store import apply_campaigns
from upscale_api.consents.service import apply_documents
from upscale_api.db import AdvisoryLock, Connection, Pool, lock_for_transaction, rows_affected
from upscale_api.definitions import queries
from upscale_api.definitions.files import FACTORS_FILE, InvalidDefinitions
from upscale_api.definitions.structs import DefinitionError, Definitions
from upscale_api.research.store import apply_studies, apply_surveys
from upscale_api.rewards.store import apply_partners


class ApplyResult(msgspec.Struct):
    """How many rows each table gained or changed."""

    factors_added: int = 0
    action_types_changed: int = 0
    action_types_retired: int = 0
    cities_changed: int = 0
    districts_changed: int = 0
    districts_retired: int = 0
    campaigns_changed: int = 0
    teams_changed: int = 0
    challenges_changed: int = 0
    badges_changed: int = 0
    nudges_changed: int = 0
    consent_versions_added: int = 0
    survey_versions_changed: int = 0
    studies_changed: int = 0
    partners_changed: int = 0
    rewards_changed: int = 0
    rewards_retired: int = 0

    def counts(self) -> dict[str, int]:
        return msgspec.structs.asdict(self)

    @property
    def changed(self) -> bool:
        return any(self.counts().values())


def _rows(items: list[Any]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(item) for item in items]


async def apply_definitions(pool: Pool, definitions: Definitions, *, dry_run: bool = False) -> ApplyResult:
    """Store ``definitions`` (or with ``dry_run`` only count what would change).

    Raises :class:`InvalidDefinitions` if a stored factor version would change.
    """
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            result = await _apply(conn, definitions)
        except BaseException:
            await transaction.rollback()
            raise
        if dry_run:
            await transaction.rollback()
        else:
            await transaction.commit()
    return result


async def _apply(conn: Connection, definitions: Definitions) -> ApplyResult:
    result = ApplyResult()
    await lock_for_transaction(conn, AdvisoryLock.LOAD_DEFINITIONS)
    await _store_catalogue(conn, definitions, result)
    await _store_cities(conn, definitions, result)
    campaign_counts, problems = await apply_campaigns(
        conn, definitions.campaigns, {c.code: c.timezone for c in definitions.cities}, "file", datetime.now(UTC).date()
    )
    if problems:
        raise InvalidDefinitions([DefinitionError(f"campaign {code}", field, why) for code, field, why in problems])
    for name, value in msgspec.structs.asdict(campaign_counts).items():
        setattr(result, name, value)
    await _store_research(conn, definitions, result)
    partner_counts, refused = await apply_partners(conn, definitions.partners, "file")
    if refused:
        raise InvalidDefinitions([DefinitionError(f"partner {code}", field, why) for code, field, why in refused])
    for name, value in msgspec.structs.asdict(partner_counts).items():
        setattr(result, name, value)
    if result.changed:
        await conn.execute(queries.BUMP_REVISION)
    return result


async def _store_research(conn: Connection, definitions: Definitions, result: ApplyResult) -> None:
    """Consent documents, survey instruments and studies (after the campaigns they name)."""
    result.consent_versions_added, consent_problems = await apply_documents(conn, definitions.consents)
    problems = [DefinitionError("consents", field, why) for field, why in consent_problems]
    result.survey_versions_changed, survey_problems = await apply_surveys(conn, definitions.surveys)
    problems += [DefinitionError(where, field, why) for where, field, why in survey_problems]
    if not problems:
        result.studies_changed, study_problems = await apply_studies(conn, definitions.studies, "file")
        problems += [DefinitionError(f"study {code}", field, why) for code, field, why in study_problems]
    if problems:
        raise InvalidDefinitions(problems)


async def _store_catalogue(conn: Connection, definitions: Definitions, result: ApplyResult) -> None:
    """Emission factors (a stored version never changes its value or unit) and action types."""
    factors = _rows(definitions.factors)
    rewritten = await conn.fetch(queries.FACTOR_VERSIONS_REWRITTEN, factors)
    if rewritten:
        reason = "value or unit differs from the stored version; add a new version instead"
        raise InvalidDefinitions(
            [DefinitionError(str(FACTORS_FILE), f"{r['code']} version {r['version']}", reason) for r in rewritten]
        )
    result.factors_added = rows_affected(await conn.execute(queries.UPSERT_FACTORS, factors))
    result.action_types_changed = rows_affected(
        await conn.execute(queries.UPSERT_ACTION_TYPES, _rows(definitions.action_types))
    )
    result.action_types_retired = rows_affected(
        await conn.execute(queries.RETIRE_ACTION_TYPES, [a.code for a in definitions.action_types])
    )


async def _store_cities(conn: Connection, definitions: Definitions, result: ApplyResult) -> None:
    """Cities, their districts (retired, never deleted) and the action types each offers."""
    cities = _rows(definitions.cities)
    codes = [c.code for c in definitions.cities]
    result.cities_changed = rows_affected(await conn.execute(queries.UPSERT_CITIES, cities))
    result.districts_changed = rows_affected(await conn.execute(queries.UPSERT_DISTRICTS, cities))
    result.districts_retired = rows_affected(await conn.execute(queries.RETIRE_DISTRICTS, codes, cities))
    await conn.execute(queries.SYNC_CITY_ACTION_TYPES, cities, codes)
