"""Producers that write into the outbox: campaign nudges, campaign start and end,
and the weekly summary.

Every producer is one set-based statement and idempotent: a message carries a
``dedupe_key`` unique per resident (``nudge:<id>:<local date>``), so running a
producer again, or in two worker replicas at once, writes nothing twice.
Texts are picked in the resident's locale, English when the text lacks it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from upscale_api.db import Pool, rows_affected
from upscale_api.notifications import queries, templates


async def produce_nudges(pool: Pool, now: datetime, catch_up: timedelta = timedelta(hours=1)) -> int:
    """Write the campaign nudges due at ``now``; returns how many messages were new.

    ``catch_up`` is how late a nudge may still go out (a worker that was down
    for a few minutes sends it; one down all morning does not).
    """
    return rows_affected(await pool.execute(queries.NUDGES, now, catch_up))


async def produce_weekly_summaries(pool: Pool, now: datetime, at: time = time(9, 0)) -> int:
    """Write last week's summary for every resident who logged something in it (once per week)."""
    template = templates.WEEKLY_SUMMARY
    return rows_affected(await pool.execute(queries.WEEKLY, now, at, template["title"], template["body"]))


async def produce_campaign_events(pool: Pool, now: datetime) -> int:
    """Tell participants that a campaign started or ended (once each)."""
    written = 0
    for event, template in (("start", templates.CAMPAIGN_STARTED), ("end", templates.CAMPAIGN_ENDED)):
        status = await pool.execute(queries.CAMPAIGN_EVENT, now, event, template["title"], template["body"])
        written += rows_affected(status)
    return written
