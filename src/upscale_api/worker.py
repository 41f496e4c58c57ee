"""The worker: scheduled jobs run by APScheduler 3.11 (AsyncIOScheduler, jobs in
code, memory job store).

Several worker replicas may run at once. A job that must run once per tick
takes a transaction-scoped PostgreSQL advisory lock and skips the tick when
another replica holds it; the sender instead runs in every replica, because its
rows are claimed with ``FOR UPDATE SKIP LOCKED``. Every job is idempotent, so a
job killed halfway is simply run again.

Every run is counted and timed by job (``/metrics``) and its log lines carry the
job's name and the run's ``tick`` id. :meth:`Worker.finish` is the graceful stop:
no new runs or push batches, the runs under way finish (bounded).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.util import undefined

from upscale_api.db import AdvisoryLock, Pool, try_lock_for_transaction
from upscale_api.notifications import sender
from upscale_api.notifications.fcm import messaging_app
from upscale_api.notifications.producers import (
    produce_campaign_events,
    produce_nudges,
    produce_weekly_summaries,
)
from upscale_api.notifications.service import outbox_due
from upscale_api.notifications.transport import batch_sender
from upscale_api.observability.metrics import JOB_RUNS, JOB_SECONDS, OUTBOX_DUE, OUTBOX_OLDEST_DUE_AGE
from upscale_api.opendata.service import publish_all
from upscale_api.privacy.retention import RetentionPolicy, apply_retention
from upscale_api.ratelimit.store import forget_expired
from upscale_api.research import export as research_exports
from upscale_api.research.service import produce_survey_notices
from upscale_api.rewards import service as rewards
from upscale_api.rewards import webhooks
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
        self.settings = settings
        self.grace = timedelta(days=settings.upscale_backdate_days)
        self.scoring_parts = settings.upscale_scoring_parts
        self.settings = settings
        self.ticked = False
        self.stopping = False
        self._running: set[asyncio.Task[Any]] = set()
        self.messaging = (
            batch_sender(
                messaging_app(settings.firebase_project_id, endpoint=settings.upscale_fcm_endpoint),
                settings.upscale_fcm_client,
            )
            if settings.upscale_push == "fcm"
            else None
        )
        self.webhooks = httpx.AsyncClient(timeout=settings.upscale_webhook_timeout_seconds, follow_redirects=False)
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
            (self.measure_outbox, 15),
        ]
        # These first run one interval after start: at start the pool is busy with the jobs above.
        later: list[tuple[Callable[[], Awaitable[Any]], float]] = [
            (self.survey_notices, 300),
            (self.research_exports, 10),
            (self.deliver_rewards, 2),
            (self.expire_redemptions, 60),
        ]
        # Each job runs once as the worker starts, then at its interval: a restarted
        # worker does not leave the weekly history or a campaign's results for minutes.
        started = datetime.now(UTC)
        first_runs = [(job, seconds, started) for job, seconds in jobs]
        first_runs += [(job, seconds, undefined) for job, seconds in later]  # undefined: one interval on
        # Retention and open data are housekeeping every few hours: first run minutes after start, so
        # that they take no connections from the jobs a starting worker runs at once.
        first_runs += [
            (self.retention, 3600, started + timedelta(seconds=120)),
            (self.open_data, settings.upscale_open_data_seconds, started + timedelta(seconds=180)),
        ]
        for job, seconds, first_run in first_runs:
            self.scheduler.add_job(
                self._observed(job),
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                id=job.__name__,
                next_run_time=first_run,
            )

    def start(self) -> None:
        self.scheduler.start()
        log.info("worker started: %s", ", ".join(j.id for j in self.scheduler.get_jobs()))

    def stop(self) -> None:
        """Stop at once: runs under way are cancelled (a graceful stop is :meth:`finish`)."""
        self.stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def finish(self, grace_seconds: float) -> None:
        """The graceful stop: start no job run and no push batch any more; let the runs under way finish for up to
        ``grace_seconds``, then cancel what is left (each job is idempotent; a batch cancelled while
        FCM has it stays ``sending``, never sent twice)."""
        self.stopping = True
        if self.scheduler.running:
            self.scheduler.pause()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace_seconds)
            if late:
                log.warning("stopping: cancelling %d job run(s) still going after %s s", len(late), grace_seconds)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)  # cancels what is still running

    def _observed(self, job: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        """``job`` counted and timed for the metrics, its log lines tagged with the job and the run's tick id.
        A failure is logged and counted here; the next run is the retry."""
        name = job.__name__

        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            started = time.perf_counter()
            outcome = "ok"
            try:
                with structlog.contextvars.bound_contextvars(job=name, tick=uuid.uuid4().hex[:16]):
                    try:
                        await job()
                    except Exception:
                        outcome = "failed"
                        log.exception("job failed")
            finally:
                self._running.discard(task)
                JOB_RUNS.labels(name, outcome).inc()
                JOB_SECONDS.labels(name).observe(time.perf_counter() - started)

        run.__name__, run.__qualname__ = name, job.__qualname__
        return run

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
            await sender.drain(self.pool, self.messaging, now, stopping=lambda: self.stopping)

    async def settle_stale(self) -> None:
        await run_once(
            self.pool, AdvisoryLock.STALE_DELIVERIES, lambda: sender.fail_stale(self.pool, datetime.now(UTC))
        )

    async def measure_outbox(self) -> None:
        """Sample the outbox for the metrics: messages due and waiting, and the oldest one's wait."""
        due, oldest_seconds = await outbox_due(self.pool, datetime.now(UTC))
        OUTBOX_DUE.set(due)
        OUTBOX_OLDEST_DUE_AGE.set(oldest_seconds)

    async def forget_rate_limits(self) -> None:
        """Delete rate-limit rows whose quota is whole again; harmless in every replica at once."""
        await forget_expired(self.pool)

    async def survey_notices(self) -> None:
        async def work() -> None:
            await produce_survey_notices(self.pool, datetime.now(UTC))

        await run_once(self.pool, AdvisoryLock.SURVEY_NOTICES, work)

    async def research_exports(self) -> None:
        """Run queued research exports one after another; replicas take different ones (SKIP LOCKED)."""
        while await research_exports.run_queued(self.pool, self.settings, lambda: datetime.now(UTC)):
            pass

    async def deliver_rewards(self) -> None:
        """Send the due deliveries to city cards, batch after batch; every replica (rows are claimed)."""
        secret = self.settings.webhook_secret
        if secret is None:
            return
        retry = self.settings.upscale_webhook_retry_seconds
        while await webhooks.deliver_due(self.pool, self.webhooks, secret, datetime.now(UTC), retry):
            pass

    async def expire_redemptions(self) -> None:
        """Mark codes past their expiry expired; their items go back to the stock. Harmless in every
        replica at once: a code is marked (and its item given back) by one statement, once."""
        expired = await rewards.expire_codes(self.pool, datetime.now(UTC))
        if expired:
            log.info("rewards: %d codes expired", expired)

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
