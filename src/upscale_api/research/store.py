"""Storing survey instruments and studies from the definition files, inside the caller's transaction.

A stored instrument version never changes its items. Once anyone is assigned
in a study, its seed, randomisation, stratification and arms (codes, ratios,
the control arm) are fixed: changing them would break the experiment. What
arms get (nudges, challenges, nudge probability), texts, waves, export rules
and recruiting may change; each decision and answer records what applied.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from upscale_api.db import Connection, rows_affected
from upscale_api.research import queries
from upscale_api.research.service import assign_waiting
from upscale_api.research.structs import Study, SurveyFile

Source = Literal["file", "demo"]
_FIXED_ONCE_STARTED = ("seed", "randomisation", "block_multiplier", "stratify_by")


def _instrument_rows(surveys: list[SurveyFile]) -> list[dict[str, Any]]:
    return [
        {
            "code": s.code,
            "version": v.version,
            "title": msgspec.to_builtins(s.title),
            "items": msgspec.to_builtins(v.item),
        }
        for s in surveys
        for v in s.version
    ]


async def apply_surveys(conn: Connection, surveys: list[SurveyFile]) -> tuple[int, list[tuple[str, str, str]]]:
    """Store every instrument version: (versions added or retitled, problems as (file key, field, reason))."""
    rows = _instrument_rows(surveys)
    rewritten = await conn.fetch(queries.SURVEY_VERSIONS_REWRITTEN, rows)
    if rewritten:
        reason = "items differ from the stored version; add a new version instead (answers keep theirs)"
        return 0, [(f"survey {r['code']}", f"version {r['version']}", reason) for r in rewritten]
    return rows_affected(await conn.execute(queries.UPSERT_SURVEY_VERSIONS, rows)), []


def _started_changes(old: Study, new: Study) -> list[tuple[str, str]]:
    problems = [
        (key, "fixed once participants are assigned")
        for key in _FIXED_ONCE_STARTED
        if getattr(old, key) != getattr(new, key)
    ]
    arms = {a.code: a for a in new.arm}
    for arm in old.arm:
        now = arms.get(arm.code)
        if now is None:
            problems.append(("arm", f"{arm.code} has participants and cannot be removed"))
        elif (now.ratio, now.control) != (arm.ratio, arm.control):
            problems.append(("arm", f"the ratio and control of {arm.code} are fixed once participants are assigned"))
    return problems


async def apply_studies(
    conn: Connection, studies: list[tuple[str, Study]], source: Source
) -> tuple[int, list[tuple[str, str, str]]]:
    """Store ``studies`` (each with its city): (studies changed, problems as (study, field, reason)).

    When there are problems nothing was written.
    """
    if not studies:
        return 0, []
    rows = [
        msgspec.to_builtins(study) | {"city": city, "definition": msgspec.to_builtins(study)} for city, study in studies
    ]
    problems: list[tuple[str, str, str]] = []
    stored = {r["code"]: r for r in await conn.fetch(queries.STORED_STUDIES, [s.code for _, s in studies])}
    for _, study in studies:
        row = stored.get(study.code)
        if row is None:
            continue
        if row["source"] != source:
            problems.append((study.code, "code", f"a study with this code was stored from {row['source']}"))
        elif row["started"]:
            old = msgspec.convert(row["definition"], Study)
            problems += [(study.code, field, reason) for field, reason in _started_changes(old, study)]
    problems += [
        (r["study"], "campaigns", f"{r['campaign']}: {r['reason']}")
        for r in await conn.fetch(queries.CAMPAIGN_PROBLEMS, rows)
    ]
    if not problems:
        problems += [
            (r["study"], f"arm {r['arm']}.{r['part']}", f"no {r['part'][:-1]} {r['code']} in the study's campaigns")
            for r in await conn.fetch(queries.UNKNOWN_ARM_PARTS, rows)
        ]
    if problems:
        return 0, problems
    codes = [s.code for _, s in studies]
    changed = rows_affected(await conn.execute(queries.UPSERT_STUDIES, rows, source))
    await conn.execute(queries.SYNC_STUDY_CAMPAIGNS, rows, codes)
    await conn.execute(queries.DELETE_ARMS, rows, codes)
    await conn.execute(queries.UPSERT_ARMS, rows)
    await conn.execute(queries.UPSERT_WAVES, rows)
    await conn.execute(queries.RETIRE_WAVES, rows, codes)
    await assign_waiting(conn, codes, datetime.now(UTC))
    return changed, []
