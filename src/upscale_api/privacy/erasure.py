"""What erasing a person does to each table that holds them: one entry per table.

Every table with a resident column (``resident_id``, a foreign key to
``residents``, or a Firebase uid) has an entry here, with its treatment:

- ``delete``: the rows go (personal data that no shared number depends on);
- ``detach``: the rows stay under the tombstone, stripped of what would find the
  person again (exact times, uid), because city, team and campaign totals and
  published aggregates count them;
- ``keep``: derived results the scoring jobs keep under the resident's id (the
  tombstone's): scores, standings, badges; they hold nothing but numbers;
- ``pseudonymise``: a member of staff's uid in an audit trail becomes a
  pseudonym, the same for all their decisions.

``tests/privacy/test_erasure.py`` reads every resident column from PostgreSQL's
catalogue and fails for a table without an entry: a domain that adds such a
table adds its entry (and, where it deletes, its statement) here. Steps that are
not a statement on one table (the withdrawal from every research study) run
in :func:`erase` first. See docs/privacy.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from upscale_api.db import Connection
from upscale_api.privacy import queries
from upscale_api.research import service as research
from upscale_api.settings import Settings


class Treatment(enum.StrEnum):
    DELETE = "delete"
    DETACH = "detach"
    KEEP = "keep"
    PSEUDONYMISE = "pseudonymise"


Parameters = Literal["resident ids", "resident ids and time", "uids", "uids and pseudonyms"]


@dataclass(frozen=True)
class Erasure:
    """Who is being erased in one transaction."""

    resident_ids: list[int]
    """Their resident rows (become tombstones)."""
    uids: list[str]
    """Firebase uids whose staff roles go and whose decisions get :attr:`pseudonyms`."""
    pseudonyms: list[str]
    """One per uid, in the same order."""
    at: datetime
    settings: Settings
    """The research pseudonyms' key: the person's pseudonym joins every study's withdrawal list."""

    def parameters(self, takes: Parameters) -> tuple[object, ...]:
        return {
            "resident ids": (self.resident_ids,),
            "resident ids and time": (self.resident_ids, self.at),
            "uids": (self.uids,),
            "uids and pseudonyms": (self.uids, self.pseudonyms),
        }[takes]


@dataclass(frozen=True)
class Table:
    table: str
    treatment: Treatment
    why: str
    statement: str | None = None
    """None: nothing to run (the rows stay as they are, under the tombstone)."""
    takes: Parameters = "resident ids"
    """What the statement is run with (see :meth:`Erasure.parameters`)."""


# In the order the statements run: children before their parents, the tombstone last but staff.
TABLES: tuple[Table, ...] = (
    Table("notifications", Treatment.DELETE, "messages to the person, with their deliveries and attempts",
          queries.DELETE_MESSAGES),
    Table("devices", Treatment.DELETE, "installation ids and push tokens", queries.DELETE_DEVICES),
    Table("notification_settings", Treatment.DELETE, "preferences", queries.DELETE_NOTIFICATION_SETTINGS),
    Table("action_logs", Treatment.DETACH, "every total counts them; exact times go", queries.DETACH_ACTIONS),
    Table("enrolments", Treatment.DETACH, "campaign and team results count the participant; times cut to the day",
          queries.DETACH_ENROLMENTS),
    Table("held_days", Treatment.DETACH, "whether a day counts depends on its review"),
    Table("resident_days", Treatment.KEEP, "scoring: the sums every total is made of"),
    Table("campaign_days", Treatment.KEEP, "scoring: what counted for each campaign"),
    Table("campaign_scores", Treatment.KEEP, "scoring: standings and results"),
    Table("challenges_met", Treatment.KEEP, "scoring: team results count members meeting a rule"),
    Table("history_scores", Treatment.KEEP, "scoring: the sums before the weekly cut-off"),
    Table("history_challenges", Treatment.KEEP, "scoring: the sums before the weekly cut-off"),
    Table("earned_badges", Treatment.KEEP, "scoring: campaign statistics count badges"),
    Table("teams", Treatment.KEEP, "a team the person started stays the team of its members (created_by)"),
    Table("residents", Treatment.DETACH, "the tombstone: id, city, district and time zone stay; uid, name and "
          "language go", queries.TOMBSTONE_RESIDENTS, "resident ids and time"),
    Table("role_grants", Treatment.DELETE, "the person's staff roles; grants they made keep a pseudonym",
          queries.DELETE_ROLE_GRANTS, "uids"),
    Table("held_day_decisions", Treatment.PSEUDONYMISE, "the audit trail of review decisions (with held_days, "
          "role_grants.granted_by)", queries.PSEUDONYMISE_DECISIONS, "uids and pseudonyms"),
    Table("rate_limits", Treatment.DELETE, "counters keyed by the uid", queries.DELETE_RATE_LIMITS, "uids"),
    # Research: the person's answers and decisions go; what keeps a study's randomisation and its
    # accountability stays under the tombstone, in no export (exports need a current consent).
    Table("consents", Treatment.DELETE, "current consents: none is current any more", queries.DELETE_CONSENTS),
    Table("consent_decisions", Treatment.KEEP, "that consent was given for what was done before (GDPR Art. 7(1)); "
          "purpose, version and time name nobody under the tombstone"),
    Table("resident_demographics", Treatment.DELETE, "birth year and gender", queries.DELETE_DEMOGRAPHICS),
    Table("survey_responses", Treatment.DELETE, "survey answers", queries.DELETE_SURVEY_RESPONSES),
    Table("nudge_decisions", Treatment.DELETE, "which nudges the person got", queries.DELETE_NUDGE_DECISIONS),
    Table("study_assignments", Treatment.KEEP, "the arm: the randomisation's blocks count it; the pseudonym is "
          "on the study's withdrawal list"),
    Table("research_exports", Treatment.PSEUDONYMISE, "the audit trail of exports a researcher started",
          queries.PSEUDONYMISE_EXPORT_REQUESTS, "uids and pseudonyms"),
    Table("studies", Treatment.KEEP, "stratify_by names a stratification, not a person"),
    # Rewards: codes stay valid (a partner may be shown one) and stock counts them; the card goes.
    Table("city_cards", Treatment.DELETE, "the keyed hash of a city card number", queries.DELETE_CITY_CARDS),
    Table("reward_wallets", Treatment.DELETE, "a lock row per city programme; no number lives in it",
          queries.DELETE_REWARD_WALLETS),
    Table("redemptions", Treatment.KEEP, "stock, partners' records and card deliveries count them; they name "
          "a reward, a code and times"),
    Table("partner_keys", Treatment.PSEUDONYMISE, "the audit trail of keys a coordinator made",
          queries.PSEUDONYMISE_PARTNER_KEYS, "uids and pseudonyms"),
)  # fmt: skip

TREATMENT_OF: dict[str, Treatment] = {t.table: t.treatment for t in TABLES}


async def erase(conn: Connection, erasure: Erasure) -> None:
    """Apply every table's treatment to ``erasure``, in the caller's transaction, after listing each
    person's pseudonym on the withdrawal list of every study they take part in (so that researchers
    delete them from what they exported before)."""
    await research.withdraw_everywhere(conn, erasure.resident_ids, erasure.settings)
    for table in TABLES:
        if table.statement is not None:
            await conn.execute(table.statement, *erasure.parameters(table.takes))
