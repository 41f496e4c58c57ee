"""The anonymised export of a study: microdata and aggregates that pass a k-anonymity gate.

One export reads everything in one repeatable-read snapshot:

1. Participants whose research consent is current now, with their arm and the
   quasi-identifiers, generalised: districts with too few participants merged
   into ``other``, age in 10-year bands (only under a current demographics
   consent), no exact times. Ids become per-study HMAC-SHA256 pseudonyms.
2. The k-anonymity gate on the study's quasi-identifiers: participants in
   groups smaller than k are left out of every file, up to the study's
   ``max_suppressed_share``; past it the export fails closed with a report of
   counts (:class:`ExportRefused`). ``pycanon`` confirms k on what is released.
3. The released participants go into a temporary table, and each microdata
   table streams from PostgreSQL (``COPY ... TO STDOUT``) straight to its CSV
   file, then from the CSV to Parquet batch by batch: memory stays flat
   whatever the number of rows.
4. Aggregates over the released participants only, cells under ``min_cell``
   suppressed (with a second cell where one alone would follow from a total).
5. The withdrawal list, the codebook, provenance.json, a Frictionless
   datapackage.json with a Table Schema per file and SHA-256 checksums.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from upscale_api.db import Connection, Pool, Record
from upscale_api.research import queries
from upscale_api.research.codebook import AGGREGATES, Variable, chosen
from upscale_api.research.service import pseudonym, suppress
from upscale_api.research.structs import ExportRules, Study
from upscale_api.settings import Settings

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Told (table, rows written so far) as files are written."""

MICRODATA = ("participants", "actions", "nudge_decisions", "survey_answers")
_PARQUET_TYPES = {"string": "string", "integer": "int64", "number": "float64", "boolean": "bool"}


class ExportRefused(Exception):
    """The export would not be anonymous enough; the message says why, in counts only."""


@dataclass
class Gate:
    """What the k-anonymity gate did."""

    quasi_identifiers: list[str]
    consenting: int
    suppressed: int
    k_reached: int | None
    districts_merged: int


@dataclass
class ExportResult:
    export_id: uuid.UUID
    directory: Path
    rows: dict[str, int]
    gate: Gate
    files: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)


# --- Generalising and the gate ---------------------------------------------------------


CANDIDATE_TYPES = {
    "arm": "category",
    "time_zone": "category",
    "city": "category",
    "district": "category",
    "gender": "category",
    "birth_year": "Int64",
    "resident_id": "int64",
    "probability": "float64",
}


def read_candidates(csv: bytes) -> Any:
    """The candidates as ``COPY`` wrote them (CSV with a header) in a pandas DataFrame: one
    category per city, district, arm, time zone and gender, so a million participants fit in
    tens of MiB."""
    import pandas as pd

    return pd.read_csv(io.BytesIO(csv), dtype=CANDIDATE_TYPES, parse_dates=["assigned_on"], keep_default_na=False,
                       na_values={"birth_year": [""]})  # fmt: skip


def age_bands(birth_years: Any, year: int) -> Any:
    """Ten-year age bands of a column of birth years (nullable integers), as a categorical column:
    ``under-20``, ``20-29`` ... ``70-79``, ``80-plus``; ``not-given`` without a birth year."""
    import pandas as pd

    ages = year - birth_years
    bands = pd.Series("not-given", index=birth_years.index, dtype=object)
    known = ages.notna()
    low = (ages[known] // 10 * 10).astype(int)
    bands[known] = low.astype(str) + "-" + (low + 9).astype(str)
    bands[known & (ages < 20)] = "under-20"
    bands[known & (ages >= 80)] = "80-plus"
    return bands.astype("category")


def anonymise(frame: Any, study: Study, key: bytes, first_day: date, today: date) -> tuple[Any, Gate]:
    """The released participants (a pandas DataFrame) and what the gate did; raises :class:`ExportRefused`.

    ``frame``: the candidates from :func:`read_candidates`.
    """
    import pandas as pd
    from pycanon import anonymity

    rules = study.export
    frame["pseudonym"] = pd.array(
        [pseudonym(key, study.code, r) for r in frame["resident_id"].tolist()], dtype="string[pyarrow]"
    )
    frame["assignment_probability"] = frame["probability"]
    assigned = frame["assigned_on"] = pd.to_datetime(frame["assigned_on"])  # an empty column is read as text
    frame["assigned_study_day"] = (assigned - pd.Timestamp(first_day)).dt.days
    calendar = assigned.dt.isocalendar()
    frame["assigned_iso_week"] = (
        (calendar["year"] * 100 + calendar["week"])
        .map(lambda week: f"{week // 100}-W{week % 100:02d}")
        .astype("category")
    )
    del calendar
    sizes = frame.groupby(["city", "district"], observed=True)["resident_id"].transform("size")
    small = (sizes < rules.district_min_participants) & (frame["district"] != "none")
    merged = int(frame.loc[small, ["city", "district"]].drop_duplicates().shape[0])
    if "other" not in frame["district"].cat.categories:
        frame["district"] = frame["district"].cat.add_categories(["other"])
    frame.loc[small, "district"] = "other"
    frame["district"] = frame["district"].cat.remove_unused_categories()
    frame["age_band"] = age_bands(frame["birth_year"], today.year)

    exported = {v.name for v in chosen("participants", rules.columns.get("participants"), rules.time_of_day)}
    qis = [q for q in rules.quasi_identifiers if q in exported]
    below = pd.Series(False, index=frame.index)
    if qis and len(frame):
        below = frame.groupby(qis, observed=True)["resident_id"].transform("size") < rules.k
    suppressed = int(below.sum())
    if len(frame) and suppressed / len(frame) > rules.max_suppressed_share:
        raise ExportRefused(_refusal(frame, below, qis, rules))
    # In pseudonym order: the rows' order says nothing of when anyone registered or joined.
    released = frame[~below].sort_values("pseudonym", ignore_index=True)
    del frame
    k_reached: int | None = None
    if len(released):
        # pycanon on each quasi-identifier's category codes: the same groups as the values, in a few MiB.
        codes = released[qis].apply(lambda column: column.cat.codes if column.dtype == "category" else column)
        k_reached = int(anonymity.k_anonymity(codes, qis)) if qis else len(released)
        assert k_reached >= rules.k or not qis, "the gate released a group smaller than k"
    return released, Gate(qis, suppressed + len(released), suppressed, k_reached, merged)


def _refusal(frame: Any, below: Any, qis: list[str], rules: ExportRules) -> str:
    groups = frame[below].groupby(qis, observed=True).ngroups
    distinct = ", ".join(f"{q} {frame[q].nunique()}" for q in qis)
    return (
        f"k-anonymity not reached: {int(below.sum())} of {len(frame)} consenting participants "
        f"({below.sum() / len(frame):.1%}) are in {groups} group(s) smaller than k={rules.k} on "
        f"{', '.join(qis)}; at most {rules.max_suppressed_share:.1%} may be left out. Distinct values: {distinct}. "
        "Declare fewer quasi-identifiers or export fewer participant columns, merge more districts "
        "(district_min_participants), or wait for more participants. Nothing was exported."
    )


# --- Writing ----------------------------------------------------------------------------


class _Sink:
    """Receives COPY's chunks: writes them to the file and counts lines for progress."""

    def __init__(self, path: Path, table: str, progress: Progress | None) -> None:
        self.file = path.open("wb")
        self.table = table
        self.progress = progress
        self.lines = -1  # the header

    async def __call__(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self.lines += chunk.count(b"\n")
        if self.progress is not None:
            self.progress(self.table, max(self.lines, 0))


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)


def to_parquet(csv_path: Path, variables: list[Variable]) -> int:
    """Convert a CSV file to Parquet beside it, batch by batch; returns its rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {v.name: pa.type_for_alias(_PARQUET_TYPES[v.type]) for v in variables}
    reader = pacsv.open_csv(
        csv_path,
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, true_values=["true"], false_values=["false"]
        ),
    )
    rows = 0
    with pq.ParquetWriter(csv_path.with_suffix(".parquet"), reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _code_version() -> str:
    version = metadata.version("upscale-api")
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607  (git from PATH, where there is one)
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+{commit}"


# --- The export -------------------------------------------------------------------------


def _prepare(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise ExportRefused(f"{directory} is not empty: an export writes into a folder of its own")


def _empty(directory: Path) -> None:
    for path in directory.iterdir():
        path.unlink()


async def run_export(
    pool: Pool,
    settings: Settings,
    export_id: uuid.UUID,
    directory: Path,
    *,
    now: datetime,
    progress: Progress | None = None,
) -> ExportResult:
    """Write export ``export_id`` (already in the audit log) into ``directory`` (empty or new).

    Raises :class:`ExportRefused` when the gate refuses; nothing is left in ``directory`` then.
    """
    key, epoch = settings.research_key(), settings.upscale_research_key_epoch
    _prepare(directory)
    # Each microdata table turns into Parquet in a thread as soon as its CSV is written,
    # while PostgreSQL goes on with the next table and the aggregates.
    conversions: dict[str, asyncio.Future[int]] = {}
    async with pool.acquire() as conn:
        job = await conn.fetchrow(queries.EXPORT_JOB, export_id)
        assert job is not None, export_id
        study = msgspec.convert(job["definition"], Study)
        try:
            async with conn.transaction(isolation="repeatable_read"):
                result = await _read_and_write(conn, job, study, key, directory, now, progress, conversions)
        except BaseException:
            await asyncio.gather(*conversions.values(), return_exceptions=True)
            _empty(directory)
            raise
    rows = result.rows
    for table in MICRODATA:
        rows[table] = await conversions[table]
        if progress is not None:
            progress(table, rows[table])
    _finish(result, job, study, epoch, now)
    return result


async def _read_and_write(
    conn: Connection,
    job: Record,
    study: Study,
    key: bytes,
    directory: Path,
    now: datetime,
    progress: Progress | None,
    conversions: dict[str, asyncio.Future[int]],
) -> ExportResult:
    rules = study.export

    def convert(table: str, variables: list[Variable]) -> None:
        conversions[table] = asyncio.ensure_future(asyncio.to_thread(to_parquet, directory / f"{table}.csv", variables))

    frame = await conn.fetchrow(queries.STUDY_FRAME, job["study_id"])
    assert frame is not None
    first_day: date = frame["first_day"] or now.date()
    last_day: date = frame["last_day"] or now.date()
    candidates = io.BytesIO()
    await conn.copy_from_query(queries.CANDIDATES, job["study_id"], output=candidates, format="csv", header=True)
    released, gate = anonymise(read_candidates(candidates.getvalue()), study, key, first_day, now.date())
    del candidates

    participants = chosen("participants", rules.columns.get("participants"), rules.time_of_day)
    names = [v.name for v in participants]
    as_csv = {"index": False, "lineterminator": "\n", "date_format": "%Y-%m-%d"}
    await asyncio.to_thread(released[names].to_csv, directory / "participants.csv", **as_csv)
    convert("participants", participants)
    columns = ["resident_id", "pseudonym", "arm", "assigned_on", "time_zone"]
    released_csv = await asyncio.to_thread(released[columns].to_csv, header=False, **as_csv)
    rows: dict[str, int] = {"participants": len(released)}
    del released  # the microdata and aggregates below read the temporary table
    await conn.execute(queries.CREATE_RELEASED)
    await conn.copy_to_table("export_participants", source=io.BytesIO(released_csv.encode()), format="csv")
    del released_csv
    await conn.execute(queries.ANALYZE_RELEASED)
    if progress is not None:
        progress("participants", rows["participants"])

    arguments: dict[str, tuple[Any, ...]] = {
        "actions": (first_day, last_day),
        "nudge_decisions": (first_day, job["study_id"]),
        "survey_answers": (first_day, job["study_id"], rules.free_text),
    }
    for table, args in arguments.items():
        variables = chosen(table, rules.columns.get(table), rules.time_of_day)
        sink = _Sink(directory / f"{table}.csv", table, progress)
        try:
            statement = queries.select_columns(table, [v.name for v in variables])
            await conn.copy_from_query(statement, *args, output=sink, format="csv", header=True)
        finally:
            sink.file.close()
        rows[table] = max(sink.lines, 0)
        convert(table, variables)

    suppressed_cells = await _aggregates(conn, directory, job["study_id"], first_day, last_day, rules.min_cell, now)
    withdrawals = await conn.fetch(queries.UNLISTED_WITHDRAWALS, job["study_id"])
    _write_csv(
        directory / "withdrawals.csv",
        ["pseudonym", "key_epoch", "reason"],
        [[w["pseudonym"], w["key_epoch"], w["reason"]] for w in withdrawals],
    )
    rows["withdrawals"] = len(withdrawals)
    consents = {r["purpose"]: r["version"] for r in await conn.fetch(queries.CONSENT_VERSIONS)}
    result = ExportResult(job["id"], directory, rows, gate)
    result.provenance = {
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "cells_suppressed": suppressed_cells,
        "withdrawal_ids": [w["id"] for w in withdrawals],
        "consent_documents_in_force": consents,
    }
    return result


async def _aggregates(
    conn: Connection, directory: Path, study_id: int, first_day: date, last_day: date, min_cell: int, now: datetime
) -> dict[str, int]:
    """Write ``arm_weeks.csv`` and ``wave_responses.csv``; returns how many cells each suppressed."""
    weeks = await conn.fetch(queries.ARM_WEEKS, first_day, last_day)
    out: list[list[Any]] = []
    hidden = {"arm_weeks": 0, "wave_responses": 0}
    for arm in sorted({r["arm"] for r in weeks}):
        cells = [r for r in weeks if r["arm"] == arm and r["iso_week"] != "all"]
        total = next(r for r in weeks if r["arm"] == arm and r["iso_week"] == "all")
        # A cell is suppressed by how many people it describes; its actions and kg go with it.
        shown, total_shown = suppress([r["active_participants"] for r in cells], total["active_participants"], min_cell)
        for r, n in zip(cells, shown, strict=True):
            out.append(
                [arm, r["iso_week"], *((n, r["actions"], round(r["co2e_kg"], 3)) if n is not None else (None,) * 3)]
            )
        hidden["arm_weeks"] += sum(n is None for n in shown)
        whole = total_shown is not None
        out.append(
            [
                arm,
                "all",
                *(
                    (total["active_participants"], total["actions"], round(total["co2e_kg"], 3))
                    if whole
                    else (None,) * 3
                ),
            ]
        )
        hidden["arm_weeks"] += not whole
    _write_csv(directory / "arm_weeks.csv", [v.name for v in AGGREGATES["arm_weeks"]], out)

    waves = await conn.fetch(queries.WAVE_RESPONSES, study_id, now)
    out = []
    for wave in sorted({r["wave"] for r in waves}):
        cells = [r for r in waves if r["wave"] == wave]
        opened = sum(r["opened"] for r in cells)
        responded_shown, responded_total = suppress(
            [r["responded"] for r in cells], sum(r["responded"] for r in cells), min_cell
        )
        opened_shown, opened_total = suppress([r["opened"] for r in cells], opened, min_cell)
        for r, o, n in zip(cells, opened_shown, responded_shown, strict=True):
            out.append([wave, r["arm"], o, n])
        out.append([wave, "all", opened_total, responded_total])
        hidden["wave_responses"] += sum(
            v is None for v in [*opened_shown, *responded_shown, opened_total, responded_total]
        )
    _write_csv(directory / "wave_responses.csv", [v.name for v in AGGREGATES["wave_responses"]], out)
    return hidden


def _schema(variables: list[Variable]) -> dict[str, Any]:
    fields = []
    for v in variables:
        description = (
            v.meaning + (f". Derived: {v.derived}" if v.derived else "") + (f". Codes: {v.codes}" if v.codes else "")
        )
        entry: dict[str, Any] = {"name": v.name, "type": v.type, "description": description}
        if v.unit:
            entry["unit"] = v.unit
        fields.append(entry)
    return {"fields": fields, "missingValues": [""]}


def _finish(result: ExportResult, job: Record, study: Study, epoch: int, now: datetime) -> None:
    """Codebook, datapackage.json, provenance.json and SHA256SUMS, once the data files are written."""
    directory, rules = result.directory, study.export
    variables = {t: chosen(t, rules.columns.get(t), rules.time_of_day) for t in MICRODATA} | AGGREGATES
    _write_csv(
        directory / "codebook.csv",
        ["table", "variable", "type", "unit", "meaning", "codes", "derived"],
        [[t, v.name, v.type, v.unit, v.meaning, v.codes, v.derived] for t, vs in variables.items() for v in vs],
    )
    resources = []
    for table, vs in variables.items():
        formats = [("csv", "text/csv")] + (
            [("parquet", "application/vnd.apache.parquet")] if table in MICRODATA else []
        )
        for fmt, mediatype in formats:
            path = directory / f"{table}.{fmt}"
            resource: dict[str, Any] = {
                "name": table if fmt == "csv" else f"{table}-parquet",
                "path": path.name,
                "profile": "tabular-data-resource",
                "format": fmt,
                "mediatype": mediatype,
                "bytes": path.stat().st_size,
                "hash": f"sha256:{_sha256(path)}",
                "schema": _schema(vs),
            }
            if fmt == "csv":
                resource["encoding"] = "utf-8"
            resources.append(resource)
    files = [{"name": r["path"], "bytes": r["bytes"], "sha256": r["hash"].removeprefix("sha256:")} for r in resources]
    for resource in resources:
        if resource["format"] == "parquet":
            # frictionless reads Parquet through pyarrow and cannot count its bytes; SHA256SUMS covers it.
            del resource["bytes"], resource["hash"]
    codebook = directory / "codebook.csv"
    data_files = files
    data_files.append({"name": codebook.name, "bytes": codebook.stat().st_size, "sha256": _sha256(codebook)})
    gate = result.gate
    provenance = {
        "export_id": str(result.export_id),
        "study": study.code,
        "created_at": now.isoformat(),
        "code_version": _code_version(),
        "key_epoch": epoch,
        "pseudonyms": "HMAC-SHA256 of '<study>:<resident number>' with the study key of key_epoch; first 32 hex digits",
        "previous_export": str(job["previous_export"]) if job["previous_export"] else None,
        "k_required": rules.k,
        "k_reached": gate.k_reached,
        "quasi_identifiers": gate.quasi_identifiers,
        "participants": {
            "consenting": gate.consenting,
            "suppressed_below_k": gate.suppressed,
            "exported": result.rows["participants"],
        },
        "districts_merged_into_other": gate.districts_merged,
        "rows": result.rows,
        "study_settings": msgspec.to_builtins(study),
        "files": data_files,
    } | {k: v for k, v in result.provenance.items() if k != "withdrawal_ids"}
    package = {
        "profile": "tabular-data-package",
        "name": f"{study.code}-{str(result.export_id)[:8]}",
        "title": f"{study.title.get('en', study.code)}: anonymised export",
        "created": now.isoformat(),
        "description": "Pseudonymised, k-anonymised microdata and small-cell-suppressed aggregates; "
        "see codebook.csv and provenance.json.",
        "resources": resources,
    }
    for name, content in (("provenance.json", provenance), ("datapackage.json", package)):
        (directory / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    names = sorted([*(f["name"] for f in data_files), "provenance.json", "datapackage.json"])
    sums = [(name, _sha256(directory / name)) for name in names]
    (directory / "SHA256SUMS").write_text("".join(f"{digest}  {name}\n" for name, digest in sums), encoding="utf-8")
    result.files = [
        {"name": name, "bytes": (directory / name).stat().st_size, "sha256": digest}
        for name, digest in [*sums, ("SHA256SUMS", _sha256(directory / "SHA256SUMS"))]
    ]
    result.provenance = provenance | {"files": result.files, "withdrawal_ids": result.provenance["withdrawal_ids"]}


# --- Jobs -------------------------------------------------------------------------------


async def finish(pool: Pool, result: ExportResult, epoch: int) -> None:
    """Record a finished export in the audit log and mark its withdrawals as listed."""
    provenance = dict(result.provenance)
    withdrawal_ids = provenance.pop("withdrawal_ids", [])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            queries.FINISH_EXPORT,
            result.export_id,
            result.rows,
            epoch,
            result.gate.k_reached,
            provenance,
            str(result.directory.resolve()),
        )
        await conn.execute(queries.MARK_WITHDRAWALS_LISTED, result.export_id, withdrawal_ids)


async def fail(pool: Pool, export_id: uuid.UUID, reason: str) -> None:
    await pool.execute(queries.FAIL_EXPORT, export_id, reason)


HEARTBEAT_SECONDS = 10
LAPSED_AFTER_SECONDS = 60  # no heartbeat for this long: the worker died; another takes the export again
MOST_ATTEMPTS = 3


async def _beat(pool: Pool, export_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await pool.execute(queries.EXPORT_HEARTBEAT, export_id)


async def run_queued(pool: Pool, settings: Settings, now: Callable[[], datetime]) -> uuid.UUID | None:
    """Run the oldest queued export (the worker's job); returns its id, or None when none was queued.

    The export beats while it runs; one whose worker died (no beat for
    ``LAPSED_AFTER_SECONDS``) is taken again and written afresh, at most ``MOST_ATTEMPTS``
    times. A worker that is stopped puts its export back in the queue at once.
    """
    claimed = await pool.fetchrow(queries.CLAIM_EXPORT, LAPSED_AFTER_SECONDS)
    if claimed is None:
        return None
    export_id: uuid.UUID = claimed["id"]
    if claimed["attempts"] > MOST_ATTEMPTS:
        await fail(pool, export_id, f"the export was interrupted {MOST_ATTEMPTS} times; ask for it again")
        return export_id
    directory = settings.research_export_dir / str(export_id)
    await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)  # what an interrupted attempt left
    last: dict[str, int] = {}
    pending: list[asyncio.Task[Any]] = []

    def progress(table: str, rows: int) -> None:
        # At most one update in flight: the job's own connection is busy streaming.
        last[table] = rows
        if not pending or pending[-1].done():
            pending.append(asyncio.ensure_future(pool.execute(queries.EXPORT_PROGRESS, export_id, dict(last))))

    heartbeat = asyncio.ensure_future(_beat(pool, export_id))
    try:
        result = await run_export(pool, settings, export_id, directory, now=now(), progress=progress)
        await asyncio.gather(*pending)
        await finish(pool, result, settings.upscale_research_key_epoch)
    except ExportRefused as exc:
        await asyncio.gather(*pending, return_exceptions=True)
        await fail(pool, export_id, str(exc))
    except asyncio.CancelledError:
        await asyncio.shield(pool.execute(queries.RELEASE_EXPORT, export_id))
        raise
    except Exception:
        await asyncio.gather(*pending, return_exceptions=True)
        log.exception("research export %s failed", export_id)
        await fail(pool, export_id, "the export failed on the server; the error was logged")
    finally:
        heartbeat.cancel()
    return export_id
