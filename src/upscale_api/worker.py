"""The worker: scheduled jobs run by APScheduler 3.11 (AsyncIOScheduler, jobs in
code, memory job store).

Several worker replicas may run at once. A job that must run once per tick
takes a transaction-scoped PostgreSQL advisory lock and skips the tick when
another replica holds it; the sender instead runs in every replica, because its
rows are claimed with ``FOR UPDATE SKIP LOCKED``. Every job is idempotent, so a
job killed halfway is simply run again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from upscale_api.db import AdvisoryLock, Pool, try_lock_for_transaction
from upscale_api.notifications import sender
from upscale_api.notifications.fcm import messaging_app
from upscale_api.notifications.producers import (
    produce_campaign_events,
    produce_nudges,
    produce_weekly_summaries,
)
from upscale_api.opendata.service import publish_all
from upscale_api.privacy.retention import RetentionPolicy, apply_retention
from upscale_api.ratelimit.store import forget_expired
from upscale_api.scoring import service as scoring
from upscale_api.settings import Settings

log = logging.getLogger(__name__)


async def run_once(pool: Pool, key: AdvisoryLock, work: Callable[[], Awaitable[Any]]) -> bool:
    """Run ``work`` unless another replica runs this job now; True when it ran."""
    async with pool.acquire() as conn, conn.transaction():
        if not await try_lock_for_transaction(conn, key):
            return False
        await work()
    return True


def pool_settings(settings: Settings) -> Settings:
    """The settings of a pool the worker runs on: it keeps a connection open for each
    scoring part and one for the tick itself, so that no tick waits to open one."""
    keep = max(settings.upscale_db_pool_min, settings.upscale_scoring_parts + 1)
    return msgspec.structs.replace(settings, upscale_db_pool_min=keep)


class Worker:
    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.pool = pool
        self.grace = timedelta(days=settings.upscale_backdate_days)
        self.scoring_parts = settings.upscale_scoring_parts
        self.settings = settings
        self.ticked = False
        self.messaging = (
            messaging_app(settings.firebase_project_id, endpoint=settings.upscale_fcm_endpoint)
            if settings.upscale_push == "fcm"
            else None
        )
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        jobs: list[tuple[Callable[[], Awaitable[Any]], float]] = [
            (self.score, settings.upscale_scoring_seconds),
            (self.standings, settings.upscale_standings_seconds),
            (self.goals, 5),
            (self.results, 300),
            (self.history, 600),
            (self.nudges, 30),
            (self.campaign_events, 60),
            (self.weekly_summaries, 300),
            (self.deliver, 2),
            (self.settle_stale, 60),
            (self.forget_rate_limits, 60),
        ]
        # Each job runs once as the worker starts, then at its interval: a restarted
        # worker does not leave the weekly history or a campaign's results for minutes.
        started = datetime.now(UTC)
        for job, seconds in jobs:
            self.scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                id=job.__name__,
                next_run_time=started,
            )

        # Retention and open data are housekeeping every few hours: first run minutes after start, so
        # that they take no connections from the jobs a starting worker runs at once.
        for job, seconds, delay in (
            (self.retention, 3600, 120),
            (self.open_data, settings.upscale_open_data_seconds, 180),
        ):
            self.scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                id=job.__name__,
                next_run_time=started + timedelta(seconds=delay),
            )

    def start(self) -> None:
        self.scheduler.start()
        log.info("worker started: %s", ", ".join(j.id for j in self.scheduler.get_jobs()))

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)

    async def score(self) -> None:
        """Incremental scoring; the tick takes its own advisory lock."""
        report = await scoring.tick(self.pool, datetime.now(UTC), parts=self.scoring_parts)
        if report is not None and (report.resident_days or report.participants):
            log.info(
                "scoring: %d resident days, %d participants, %d messages in %.3f s",
                report.resident_days,
                report.participants,
                report.messages,
                report.seconds,
            )
        if report is not None and not self.ticked:
            self.ticked = True
            # The standings ran at start beside this first tick: they take what it scored now, not an interval later.
            if self.scheduler.running:
                self.scheduler.modify_job("standings", next_run_time=datetime.now(UTC))

    async def history(self) -> None:
        """Move the stored history's cut-off once a week, a chunk of residents at a time with a tick before each."""
        cutoff = scoring.history_cutoff(datetime.now(UTC).date(), self.grace.days)

        async def work() -> None:
            if await scoring.history_due(self.pool, cutoff):
                stored = await scoring.advance_history(self.pool, cutoff, between=self.score)
                log.info("scoring history before %s: %d participants", cutoff, stored)

        await run_once(self.pool, AdvisoryLock.SCORING_HISTORY, work)

    async def standings(self) -> None:
        await run_once(
            self.pool, AdvisoryLock.STANDINGS, lambda: scoring.compute_standings(self.pool, datetime.now(UTC))
        )

    async def goals(self) -> None:
        """Tell everyone a reached collective goal concerns, a span of participants per transaction."""

        async def work() -> None:
            told = await scoring.announce_goals(self.pool, datetime.now(UTC))
            if told:
                log.info("collective goals: %d achievements", told)

        await run_once(self.pool, AdvisoryLock.GOAL_ANNOUNCEMENTS, work)

    async def results(self) -> None:
        await run_once(
            self.pool,
            AdvisoryLock.CAMPAIGN_RESULTS,
            lambda: scoring.take_results(self.pool, datetime.now(UTC), self.grace),
        )

    async def nudges(self) -> None:
        async def work() -> None:
            written = await produce_nudges(self.pool, datetime.now(UTC))
            if written:
                log.info("nudges: %d messages", written)

        await run_once(self.pool, AdvisoryLock.NUDGES, work)

    async def campaign_events(self) -> None:
        async def work() -> None:
            await produce_campaign_events(self.pool, datetime.now(UTC))

        await run_once(self.pool, AdvisoryLock.CAMPAIGN_EVENTS, work)

    async def weekly_summaries(self) -> None:
        async def work() -> None:
            await produce_weekly_summaries(self.pool, datetime.now(UTC))

        await run_once(self.pool, AdvisoryLock.WEEKLY_SUMMARIES, work)

    async def deliver(self) -> None:
        """Plan what is due, then send batches until none is left (push off: plan only, for the inbox)."""
        now = datetime.now(UTC)
        await sender.plan_due(self.pool, now, push=self.messaging is not None)
        if self.messaging is not None:
            while await sender.send_batch(self.pool, self.messaging, now):
                pass

    async def settle_stale(self) -> None:
        await run_once(
            self.pool, AdvisoryLock.STALE_DELIVERIES, lambda: sender.fail_stale(self.pool, datetime.now(UTC))
        )

    async def forget_rate_limits(self) -> None:
        """Delete rate-limit rows whose quota is whole again; harmless in every replica at once."""
        await forget_expired(self.pool)

    async def retention(self) -> None:
        """Delete and erase what the retention settings say is due (docs/privacy.md)."""

        async def work() -> None:
            report = await apply_retention(self.pool, datetime.now(UTC), RetentionPolicy.from_settings(self.settings))
            if report:
                log.info("retention: %s", report)

        await run_once(self.pool, AdvisoryLock.RETENTION, work)

    async def open_data(self) -> None:
        """Publish each city's open aggregates again; the ETag moves only when a figure does."""

        async def work() -> None:
            changed = await publish_all(self.pool, self.settings, datetime.now(UTC))
            if changed:
                log.info("open data: published again for %s", ", ".join(changed))

        await run_once(self.pool, AdvisoryLock.OPEN_DATA, work)
