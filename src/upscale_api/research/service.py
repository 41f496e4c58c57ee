"""Studies: assignment to arms, withdrawal lists, surveys, and what researchers see.

Assignment. A resident is assigned to a study when they are enrolled in one of
its campaigns and hold current research consent, at whichever came later
(:func:`assign` is called by enrolment and by granting consent); residents
already eligible when a study is applied are assigned then, in the order they
became eligible (:func:`assign_waiting`). The arm
follows from the study's recorded seed: with ``blocks`` (the default), permuted
blocks per stratum (``stratify_by``: none, city or district), each holding
``block_multiplier`` x the sum of the ratios, shuffled by a generator seeded
with the seed, stratum and block number; with ``simple``, a keyed draw per
resident. The assignment stores the arm, the probability of that arm at that
moment (for blocks: the arm's share of the block's remaining places) and the
time, and never changes; consenting again after a withdrawal keeps the arm.

Withdrawal. Withdrawing research consent (or deleting the account:
:func:`withdraw_everywhere`) puts the resident's pseudonym in every study they
were assigned to on that study's withdrawal list; the next export lists it once.

Researchers see counts only, with counts below the study's ``min_cell`` left
out (and a second one where one alone would follow from a total).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from upscale_api.db import Connection, Pool, Record, rows_affected
from upscale_api.errors import Problem
from upscale_api.i18n import pick
from upscale_api.research import queries
from upscale_api.research.structs import (
    AnswersIn,
    AnswersOut,
    ArmOut,
    ExportFileOut,
    ExportIn,
    ExportList,
    ExportOut,
    ItemOut,
    OptionOut,
    Study,
    StudyList,
    StudyOut,
    StudySummary,
    SurveyOut,
    SurveysOut,
    WaveOut,
)
from upscale_api.residents import service as residents
from upscale_api.roles.service import researched_studies
from upscale_api.roles.structs import Grant
from upscale_api.settings import Settings
from upscale_api.validation import FieldError

WithdrawalReason = Literal["consent-withdrawn", "account-deleted"]


# --- Pseudonyms ---------------------------------------------------------------------


def pseudonym(key: bytes, study: str, resident_id: int) -> str:
    """The participant's pseudonym in ``study``: HMAC-SHA256(key, "<study>:<resident id>"), 32 hex digits."""
    return hmac.new(key, f"{study}:{resident_id}".encode(), hashlib.sha256).hexdigest()[:32]


# --- Assignment ---------------------------------------------------------------------


def block_arm(
    seed: str, stratum: str, position: int, arms: list[tuple[str, int]], multiplier: int
) -> tuple[str, float]:
    """The arm at ``position`` of a stratum under permuted blocks, and its probability at that moment.

    ``arms`` are (code, ratio) in code order. The probability is the arm's share of the
    block's places not taken yet: what someone who knew the rule but not the shuffle would say.
    """
    size = sum(ratio for _, ratio in arms) * multiplier
    block, slot = divmod(position, size)
    places = [code for code, ratio in arms for _ in range(ratio * multiplier)]
    random.Random(f"{seed}:{stratum}:{block}").shuffle(places)  # noqa: S311  (reproducible allocation, not a secret)
    remaining = places[slot:]
    arm = places[slot]
    return arm, remaining.count(arm) / len(remaining)


def simple_arm(seed: str, resident_id: int, arms: list[tuple[str, int]]) -> tuple[str, float]:
    """An independent draw weighted by the ratios, keyed by the seed and the resident."""
    digest = hmac.new(seed.encode(), f"assign:{resident_id}".encode(), hashlib.sha256).digest()
    draw = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(ratio for _, ratio in arms)
    edge = 0.0
    for code, ratio in arms:
        edge += ratio / total
        if draw < edge:
            return code, ratio / total
    code, ratio = arms[-1]
    return code, ratio / total


def _arm(study: Record, stratum: str, position: int, resident_id: int) -> tuple[int, float]:
    """The arm id and its probability for the participant at ``position`` of ``stratum``."""
    arms = [(a["code"], a["ratio"]) for a in study["arms"]]
    arm_ids = {a["code"]: a["id"] for a in study["arms"]}
    if study["randomisation"] == "simple":
        arm, probability = simple_arm(study["seed"], resident_id, arms)
    else:
        multiplier = int(study["definition"].get("block_multiplier", 2))
        arm, probability = block_arm(study["seed"], stratum, position, arms, multiplier)
    return arm_ids[arm], probability


async def assign(conn: Connection, resident_id: int, now: datetime) -> list[str]:
    """Assign the resident to every study they should be in now and are not; returns the study codes.

    Runs inside the caller's transaction (enrolment or consent), so an assignment
    commits with the event that caused it.
    """
    assigned = []
    for study in await conn.fetch(queries.PENDING_ASSIGNMENTS, resident_id):
        position = await conn.fetchval(queries.NEXT_POSITION, study["id"], study["stratum"])
        arm_id, probability = _arm(study, study["stratum"], position, resident_id)
        status = await conn.execute(
            queries.ASSIGN, study["id"], resident_id, arm_id, study["stratum"], position, probability, now
        )
        if rows_affected(status):
            assigned.append(study["code"])
    return assigned


async def assign_waiting(conn: Connection, studies: list[str], now: datetime) -> int:
    """Assign everyone already eligible for ``studies`` (codes): residents who enrolled and
    consented before the study was added to their campaign. Returns how many were assigned.

    Inside the caller's transaction (applying the studies). Places in each stratum go in
    the order residents became eligible; the strata rows stay locked until commit, so
    enrolments at the same moment take the places after these.
    """
    waiting = await conn.fetch(queries.WAITING_PARTICIPANTS, studies)
    if not waiting:
        return 0
    counts = Counter((w["study_id"], w["stratum"]) for w in waiting)
    taken = await conn.fetch(
        queries.TAKE_POSITIONS, [k[0] for k in counts], [k[1] for k in counts], list(counts.values())
    )
    next_place = {(t["study_id"], t["stratum"]): t["assigned"] - counts[t["study_id"], t["stratum"]] for t in taken}
    rules = {row["id"]: row for row in await conn.fetch(queries.STUDY_ARMS, list({k[0] for k in counts}))}
    rows = []
    for w in waiting:
        place = next_place[w["study_id"], w["stratum"]]
        next_place[w["study_id"], w["stratum"]] = place + 1
        arm_id, probability = _arm(rules[w["study_id"]], w["stratum"], place, w["resident_id"])
        rows.append((w["study_id"], w["resident_id"], arm_id, w["stratum"], place, probability))
    columns = [list(column) for column in zip(*rows, strict=True)]
    return rows_affected(await conn.execute(queries.ASSIGN_MANY, *columns, now))


async def withdraw(conn: Connection, resident_ids: list[int], settings: Settings, reason: WithdrawalReason) -> int:
    """Put each resident's pseudonym on the withdrawal list of every study they were assigned to.

    Inside the caller's transaction; returns how many (resident, study) entries. The pseudonym
    is made with the current key (``UPSCALE_RESEARCH_KEY``), so it matches exports of this key epoch.
    """
    assigned = await conn.fetch(queries.ASSIGNED_STUDIES, resident_ids)
    if not assigned:
        return 0
    key, epoch = settings.research_key(), settings.upscale_research_key_epoch
    await conn.execute(
        queries.ADD_WITHDRAWALS,
        [a["id"] for a in assigned],
        [pseudonym(key, a["code"], a["resident_id"]) for a in assigned],
        [epoch] * len(assigned),
        [reason] * len(assigned),
    )
    return len(assigned)


async def withdraw_everywhere(conn: Connection, resident_ids: list[int], settings: Settings) -> int:
    """For account deletion: list each resident's pseudonym on every study's withdrawal list.

    Call it inside the deletion's transaction, before the residents' rows go; the withdrawal
    rows hold no resident id, so they outlive the accounts. Returns how many entries.
    """
    return await withdraw(conn, resident_ids, settings, "account-deleted")


async def answers_of(conn: Connection, resident_id: int) -> list[Record]:
    """The resident's survey answers, oldest first: their own record (the data export)."""
    return await conn.fetch(queries.ANSWERS_OF, resident_id)


async def hidden_challenges(conn: Connection, campaign_id: int, resident_id: int) -> set[str]:
    """Codes of the campaign's challenges the resident's arm does not get (none outside studies)."""
    hidden = await conn.fetchval(queries.HIDDEN_CHALLENGES, campaign_id, resident_id)
    return set(hidden or ())


async def rejudge_challenges(conn: Connection, resident_id: int) -> None:
    """Have the next scoring tick judge the resident's challenges again: their research consent
    became current or stopped being so, which changes the arm whose challenges they get.

    Inside the caller's transaction (the consent decision): it marks their enrolments in campaigns
    whose study decides challenges as written, as leaving or joining does.
    """
    await conn.execute(queries.REJUDGE_CHALLENGES, resident_id)


# --- Surveys ------------------------------------------------------------------------


def _item(item: dict[str, Any], language: str) -> ItemOut:
    kind = item["kind"]
    out = ItemOut(code=item["code"], kind=kind, text=pick(item["text"], language))
    if kind in ("single", "multiple"):
        out.options = [OptionOut(o["code"], pick(o["text"], language)) for o in item["options"]]
    elif kind == "likert":
        out.points, out.low, out.high = item.get("points", 5), pick(item["low"], language), pick(item["high"], language)
    elif kind == "number":
        out.min, out.max, out.unit = item.get("min", 0), item["max"], item["unit"]
    else:
        out.max_length = item.get("max_length", 1000)
    return out


def _survey(row: Record, language: str) -> SurveyOut:
    return SurveyOut(
        study=row["study"],
        wave=row["wave"],
        title=pick(row["title"], language),
        instrument=row["instrument"],
        version=row["version"],
        opened_at=row["opened_at"],
        closes_at=row["closes_at"],
        answered_at=row["answered_at"],
        items=[_item(i, language) for i in row["items"]],
    )


async def _resident(conn: Connection, uid: str) -> Record:
    resident = await residents.find(conn, uid)
    if resident is None:
        raise residents.not_registered()
    return resident


async def my_surveys(pool: Pool, uid: str, now: datetime) -> SurveysOut:
    """The survey waves open for the resident now, in their language."""
    async with pool.acquire() as conn:
        resident = await _resident(conn, uid)
        rows = await conn.fetch(queries.WAVES, resident["id"], now, None, None)
    return SurveysOut(items=[_survey(r, resident["locale"]) for r in rows])


def _answer_problems(items: list[dict[str, Any]], answers: dict[str, Any]) -> list[FieldError]:
    by_code = {i["code"]: i for i in items}
    errors = []
    for code, value in answers.items():
        where = f"answers.{code}"
        item = by_code.get(code)
        if item is None:
            errors.append(FieldError(where, "not an item of this survey"))
            continue
        reason = _answer_problem(item, value)
        if reason:
            errors.append(FieldError(where, reason))
    return errors


def _answer_problem(item: dict[str, Any], value: Any) -> str | None:  # noqa: PLR0911  (one return per kind)
    kind = item["kind"]
    options = {o["code"] for o in item.get("options", [])}
    if kind == "likert":
        points = item.get("points", 5)
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= points
        return None if ok else f"must be an integer from 1 to {points}"
    if kind == "number":
        low, high = item.get("min", 0), item["max"]
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            return f"must be a number from {low:g} to {high:g} {item['unit']}"
        if item.get("integer") and not float(value).is_integer():
            return "must be a whole number"
        return None
    if kind == "single":
        return None if isinstance(value, str) and value in options else f"must be one of {', '.join(sorted(options))}"
    if kind == "multiple":
        ok = isinstance(value, list) and all(v in options for v in value) and len(set(value)) == len(value)
        return None if ok else f"must be a list of distinct codes of {', '.join(sorted(options))}"
    if not isinstance(value, str) or len(value) > item.get("max_length", 1000) or not value.strip():
        return f"must be text of 1 to {item.get('max_length', 1000)} characters"
    return None


async def answer(
    pool: Pool, uid: str, study: str, wave: str, data: AnswersIn, now: datetime
) -> tuple[AnswersOut, bool]:
    """Store the resident's answers to an open wave (replacing earlier ones); True when new."""
    async with pool.acquire() as conn, conn.transaction():
        resident = await _resident(conn, uid)
        row = await conn.fetchrow(queries.WAVES, resident["id"], now, study, wave)
        if row is None:
            raise Problem.field("wave", f"no survey wave {study}/{wave} open for you now", status=404, kind="not-found")
        errors = _answer_problems(row["items"], data.answers)
        if errors:
            raise Problem.invalid(errors)
        created = await conn.fetchval(
            queries.ANSWER, row["wave_id"], resident["id"], resident["city_id"], row["instrument_id"], data.answers, now
        )
    return AnswersOut(study=study, wave=wave, version=row["version"], answers=data.answers, answered_at=now), bool(
        created
    )


SURVEY_OPEN = {
    "title": {"sl": "Nova anketa: {survey}", "en": "A new survey: {survey}"},
    "body": {
        "sl": "Za raziskavo, v kateri sodelujete, je odprta kratka anketa. Hvala za vaš čas!",
        "en": "A short survey of the study you take part in is open. Thank you for your time!",
    },
}
SURVEY_REMINDER = {
    "title": {"sl": "Opomnik: {survey}", "en": "Reminder: {survey}"},
    "body": {
        "sl": "Anketa za raziskavo je še odprta. Odgovorite lahko v nekaj minutah.",
        "en": "The study's survey is still open. It takes a few minutes.",
    },
}


async def produce_survey_notices(pool: Pool, now: datetime) -> int:
    """Invite participants to open waves, and remind those who have not answered (once each)."""
    status = await pool.execute(
        queries.SURVEY_NOTICES,
        now,
        SURVEY_OPEN["title"],
        SURVEY_OPEN["body"],
        SURVEY_REMINDER["title"],
        SURVEY_REMINDER["body"],
    )
    return rows_affected(status)


# --- The researcher API ---------------------------------------------------------------


def _allowed(grants: list[Grant], study: str) -> None:
    studies = researched_studies(grants)
    if studies is not None and study not in studies:
        raise Problem.field("study", f"you are not a researcher of {study}", status=403, kind="forbidden")


async def _study(conn: Connection, grants: list[Grant], code: str) -> Record:
    """The study, for a researcher of it (403 otherwise) or an admin; 404 when there is none."""
    row = await conn.fetchrow(queries.STUDY, code)
    if row is None:
        raise Problem.field("study", f"no study {code!r}", status=404, kind="not-found")
    _allowed(grants, code)
    return row


def _summary(row: Record) -> StudySummary:
    return StudySummary(
        code=row["code"], title=pick(row["title"], "en"), campaigns=list(row["campaigns"]), recruiting=row["recruiting"]
    )


async def list_studies(pool: Pool, grants: list[Grant]) -> StudyList:
    rows = await pool.fetch(queries.STUDIES, researched_studies(grants))
    return StudyList(items=[_summary(r) for r in rows])


def suppress(cells: list[int], total: int | None, min_cell: int) -> tuple[list[int | None], int | None]:
    """Small-cell suppression of counts that add up to ``total``: cells below ``min_cell``
    are left out; when exactly one is, the next smallest goes too (or the total), so no
    suppressed cell follows from the total by subtraction."""
    shown: list[int | None] = [c if c >= min_cell else None for c in cells]
    hidden = [i for i, c in enumerate(shown) if c is None]
    if total is not None and len(hidden) == 1:
        others = sorted((c, i) for i, c in enumerate(cells) if shown[i] is not None)
        if others:
            shown[others[0][1]] = None
        else:
            total = None
    if total is not None and total < min_cell:
        total = None
    return shown, total


def _cell(count: int, min_cell: int) -> int | None:
    return count if count >= min_cell else None


async def study(pool: Pool, grants: list[Grant], code: str, now: datetime) -> StudyOut:
    """The study with its enrolment, consent and response rates; counts only."""
    async with pool.acquire() as conn:
        row = await _study(conn, grants, code)
        stats = await conn.fetchrow(queries.STUDY_STATS, row["id"], now)
    assert stats is not None
    definition = msgspec.convert(row["definition"], Study)
    min_cell = definition.export.min_cell
    arms = stats["arms"]
    shown_arms, assigned = suppress([a["assigned"] for a in arms], stats["assigned"], min_cell)
    # A part and its whole that are not a sum of shown parts: each is left out by its own size.
    consenting, enrolled = _cell(stats["consenting"], min_cell), _cell(stats["enrolled"], min_cell)
    waves = []
    for w in stats["waves"]:
        responded, opened = _cell(w["responded"], min_cell), _cell(w["opened"], min_cell)
        rate = round(responded / opened, 4) if responded is not None and opened else None
        waves.append(WaveOut(w["code"], w["instrument"], w["version"], opened, responded, rate))
    return StudyOut(
        **msgspec.structs.asdict(_summary(row)),
        description=pick(row["description"], "en"),
        randomisation=row["randomisation"],
        stratify_by=row["stratify_by"],
        enrolled=enrolled,
        consenting=consenting,
        consent_rate=round(consenting / enrolled, 4) if consenting is not None and enrolled else None,
        assigned=assigned,
        arms=[ArmOut(a["code"], a["control"], a["ratio"], n) for a, n in zip(arms, shown_arms, strict=True)],
        waves=waves,
        export=msgspec.to_builtins(definition.export),
    )


def _export(row: Record) -> ExportOut:
    files = [ExportFileOut(f["name"], f["bytes"], f["sha256"]) for f in row["files"] or []]
    return ExportOut(
        id=row["id"],
        study=row["study"],
        status=row["status"],
        requested_at=row["requested_at"],
        finished_at=row["finished_at"],
        progress=row["progress"],
        failure=row["failure"],
        k_reached=row["k_reached"],
        files=files if row["status"] == "done" else [],
    )


async def create_export(
    conn: Connection, study_id: int, requested_by: str, via: Literal["api", "cli"], parameters: dict[str, Any]
) -> uuid.UUID:
    """Write the export to the audit log (queued for the API's worker; running for the command line)."""
    export_id = uuid.uuid4()
    status = "queued" if via == "api" else "running"
    await conn.fetchval(queries.CREATE_EXPORT, export_id, study_id, requested_by, via, parameters, status)
    return export_id


async def start_export(pool: Pool, grants: list[Grant], uid: str, code: str, data: ExportIn) -> ExportOut:
    """Queue an export of the study; the worker runs it (``research/export.py``)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _study(conn, grants, code)
        export_id = await create_export(conn, row["id"], uid, "api", {"note": data.note})
        (created,) = await conn.fetch(queries.EXPORTS, code, export_id)
    return _export(created)


async def list_exports(pool: Pool, grants: list[Grant], code: str) -> ExportList:
    async with pool.acquire() as conn:
        await _study(conn, grants, code)
        rows = await conn.fetch(queries.EXPORTS, code, None)
    return ExportList(items=[_export(r) for r in rows])


async def get_export(pool: Pool, grants: list[Grant], code: str, export_id: uuid.UUID) -> ExportOut:
    async with pool.acquire() as conn:
        await _study(conn, grants, code)
        rows = await conn.fetch(queries.EXPORTS, code, export_id)
    if not rows:
        raise Problem.field("export_id", f"no export {export_id} of {code}", status=404, kind="not-found")
    return _export(rows[0])


async def export_file(pool: Pool, grants: list[Grant], code: str, export_id: uuid.UUID, name: str) -> Path:
    """The path of one file of a finished export; only names the export lists."""
    async with pool.acquire() as conn:
        await _study(conn, grants, code)
        rows = await conn.fetch(queries.EXPORTS, code, export_id)
    if not rows:
        raise Problem.field("export_id", f"no export {export_id} of {code}", status=404, kind="not-found")
    row = rows[0]
    if row["status"] != "done":
        raise Problem.field(
            "export_id",
            f"the export is {row['status']}; files are served once it is done",
            status=409,
            kind="rule-violation",
        )
    names = {f["name"] for f in row["files"] or []}
    if name not in names:
        raise Problem.field("name", f"no file {name!r} in this export", status=404, kind="not-found")
    path = Path(row["directory"]) / name
    if not path.is_file():
        raise Problem.field("name", f"{name} is no longer stored on this server", status=404, kind="not-found")
    return path


async def study_id(pool: Pool, code: str) -> int | None:
    """The id of study ``code``; None when there is none."""
    row = await pool.fetchrow(queries.STUDY, code)
    return None if row is None else int(row["id"])
