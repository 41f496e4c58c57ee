"""The variables an export may hold: meaning, type, unit, codes and how each is derived.

One entry per column of each table. A study whitelists columns per table
(``[export] columns``); a table it does not name gets the columns marked
``default``. The same entries write the codebook, the Table Schemas of the
Frictionless datapackage.json and the Parquet column types, so the three
never disagree. The SQL that computes each column is in ``queries.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class Variable:
    name: str
    type: FieldType
    meaning: str
    derived: str
    unit: str = ""
    codes: str = ""
    default: bool = True
    always: bool = False
    """Exported whatever the whitelist says (the pseudonym: it links the tables)."""
    time_of_day: bool = False
    """Only when the study allows the time of day."""


PSEUDONYM = Variable(
    "pseudonym",
    "string",
    "The participant, the same in every table of this study's exports made with the same key epoch",
    "HMAC-SHA256 of the study code and the internal resident number, keyed with the study key of the "
    "epoch in provenance.json; first 32 hex digits. Not reversible without the key, which is never exported",
    always=True,
)
STUDY_DAY = Variable(
    "study_day",
    "integer",
    "Days since the study's first day (its earliest campaign's start); 0 is the first day",
    "local date minus the study's first day",
    unit="day",
)
PARTICIPANT_DAY = Variable(
    "participant_day",
    "integer",
    "Days since the participant's assignment; negative before it",
    "local date minus the local date of assignment",
    unit="day",
)
ISO_WEEK = Variable("iso_week", "string", "ISO 8601 week of the local date", "to_char(local date, 'IYYY-\"W\"IW')")
LOCAL_HOUR = Variable(
    "local_hour",
    "integer",
    "Hour of the day in the resident's time zone (0-23)",
    "only when the study allows the time of day",
    unit="hour",
    time_of_day=True,
)

TABLES: dict[str, list[Variable]] = {
    "participants": [
        PSEUDONYM,
        Variable(
            "arm",
            "string",
            "The arm the participant was randomised to",
            "study_assignments.arm",
            codes="arm codes of the study",
        ),
        Variable(
            "assignment_probability",
            "number",
            "The probability of that arm at the moment of assignment (permuted blocks: given the block so far)",
            "recorded at assignment; never changes",
        ),
        Variable(
            "assigned_study_day",
            "integer",
            "Study day of the assignment",
            "local date of assignment minus the study's first day",
            unit="day",
        ),
        Variable("assigned_iso_week", "string", "ISO week of the assignment", "to_char(local date of assignment)"),
        Variable(
            "city",
            "string",
            "Home city (a quasi-identifier)",
            "the resident's city code at export time",
            codes="city codes",
        ),
        Variable(
            "district",
            "string",
            "Home district (a quasi-identifier)",
            "the resident's district code; `none` when not given; districts with fewer participants than the "
            "study's district_min_participants are merged into `other`",
            codes="district codes, `other`, `none`",
        ),
        Variable(
            "age_band",
            "string",
            "Age in 10-year bands (a quasi-identifier)",
            "export year minus birth year, banded; `not-given` without a birth year or current demographics consent",
            codes="`under-20`, `20-29` ... `70-79`, `80-plus`, `not-given`",
        ),
        Variable(
            "gender",
            "string",
            "Gender as the participant gave it (a quasi-identifier)",
            "`not-given` without an answer or current demographics consent",
            codes="`woman`, `man`, `another`, `prefer-not-to-say`, `not-given`",
        ),
    ],
    "actions": [
        PSEUDONYM,
        STUDY_DAY,
        PARTICIPANT_DAY,
        ISO_WEEK,
        LOCAL_HOUR,
        Variable(
            "action_type",
            "string",
            "What was done",
            "action_types.code",
            codes="the action catalogue (docs/catalogue.md)",
        ),
        Variable(
            "category",
            "string",
            "The action type's category",
            "action_types.category",
            codes="mobility, energy, food, consumption, waste",
        ),
        Variable("quantity", "number", "How much, in `unit`", "as logged"),
        Variable(
            "unit",
            "string",
            "The unit of `quantity`",
            "action_types.unit",
            codes="km, meal, minute, load, item, kg, kwh, day",
        ),
        Variable(
            "co2e_kg",
            "number",
            "kg CO2e avoided, the estimate stored with the action",
            "quantity x (baseline - option factor)",
            unit="kg CO2e",
        ),
    ],
    "nudge_decisions": [
        PSEUDONYM,
        STUDY_DAY,
        PARTICIPANT_DAY,
        ISO_WEEK,
        LOCAL_HOUR,
        Variable("campaign", "string", "The campaign of the nudge", "campaigns.code", codes="campaign codes"),
        Variable("nudge", "string", "The nudge of the campaign", "nudges.code", codes="nudge codes of the campaigns"),
        Variable(
            "available",
            "boolean",
            "Whether the participant was in the nudge's audience at the decision point",
            "the nudge's audience rule at that moment",
        ),
        Variable(
            "in_arm",
            "boolean",
            "Whether the participant's arm gets this nudge",
            "the arm's nudge list (nudges no arm names go to every arm)",
        ),
        Variable(
            "probability",
            "number",
            "The randomisation probability of sending at this decision point",
            "the arm's nudge_probability when available and in the arm, else 0",
        ),
        Variable(
            "sent",
            "boolean",
            "Whether the nudge was sent (put in the outbox)",
            "a draw below `probability`, from the study seed",
        ),
    ],
    "survey_answers": [
        PSEUDONYM,
        Variable("wave", "string", "The survey wave", "study_waves.code", codes="wave codes of the study"),
        Variable("instrument", "string", "The survey instrument", "survey_instruments.code"),
        Variable("version", "integer", "The instrument version answered", "survey_responses.instrument_id"),
        Variable(
            "item", "string", "The item (question) code", "the answer's key", codes="item codes of the instrument"
        ),
        Variable("kind", "string", "The item kind", "the instrument", codes="likert, number, single, multiple, text"),
        Variable(
            "value",
            "string",
            "The answer: a number, an option code, or option codes joined by `;`",
            "free text only for items the study lists under export.free_text",
        ),
        Variable(
            "answered_study_day",
            "integer",
            "Study day of the answer",
            "local date of the answer minus the study's first day",
            unit="day",
        ),
        Variable("answered_iso_week", "string", "ISO week of the answer", "to_char(local date of the answer)"),
    ],
}
"""The microdata tables, in the order they are written."""

AGGREGATES: dict[str, list[Variable]] = {
    "arm_weeks": [
        Variable("arm", "string", "The arm", "", codes="arm codes"),
        Variable("iso_week", "string", "ISO week; `all` for the arm's whole study", ""),
        Variable(
            "active_participants",
            "integer",
            "Exported participants with an action that week",
            "suppressed (empty) below min_cell",
        ),
        Variable(
            "actions",
            "integer",
            "Their actions",
            "suppressed with the cell; a second cell too when one alone would follow from `all`",
        ),
        Variable("co2e_kg", "number", "kg CO2e they avoided", "suppressed with the cell", unit="kg CO2e"),
    ],
    "wave_responses": [
        Variable("wave", "string", "The survey wave", "", codes="wave codes"),
        Variable("arm", "string", "The arm; `all` for the wave's total", "", codes="arm codes, `all`"),
        Variable("opened", "integer", "Exported participants the wave opened for", "suppressed (empty) below min_cell"),
        Variable(
            "responded",
            "integer",
            "Of those, how many answered",
            "suppressed below min_cell, with a second cell where one alone would follow from `all`",
        ),
    ],
    "withdrawals": [
        Variable(
            "pseudonym",
            "string",
            "A participant who withdrew or whose account was deleted since the previous export: delete their rows",
            "",
        ),
        Variable(
            "key_epoch", "integer", "The key epoch of the pseudonym (earlier exports of the same epoch hold it)", ""
        ),
        Variable("reason", "string", "Why", "", codes="consent-withdrawn, account-deleted"),
    ],
}


def known_columns(table: str) -> set[str]:
    return {v.name for v in TABLES[table]}


def chosen(table: str, whitelist: list[str] | None, time_of_day: bool) -> list[Variable]:
    """The table's exported variables in codebook order: the whitelist (or the defaults), the pseudonym always."""
    wanted = set(whitelist) if whitelist is not None else {v.name for v in TABLES[table] if v.default}
    return [v for v in TABLES[table] if (v.always or v.name in wanted) and (time_of_day or not v.time_of_day)]
