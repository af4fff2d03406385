"""The RQ worker class: no fork per job, the recovery sweeps on start and every SWEEP_INTERVAL_SECONDS.

Started as ``rq worker -c maiascore.workers.scoring -w maiascore.workers.Worker`` (or
``.training``); ``maiascore.queue.worker_command`` writes that line for every caller.

``SimpleWorker`` keeps loaded models in memory between jobs (RQ 3's forking worker
spawns a new interpreter per job). Sweeps run from the worker's own loop, so they
survive a Redis restart that wipes scheduled jobs.
"""
import logging
import time

import redis.exceptions
from rq.defaults import DEFAULT_MAINTENANCE_TASK_INTERVAL
from rq.utils import now
from rq.worker import SimpleWorker

from config import settings
from maiascore import domains  # noqa: F401  connects the event handlers jobs rely on
from maiascore.alerts.jobs import recover_alerts
from maiascore.monitoring.counters import recover_pending
from maiascore.reports.recovery import recover_score_batches, recover_single_reports
from maiascore.scoring_runs.jobs import recover_scoring_runs
from maiascore.trainings.jobs import recover_trainings

log = logging.getLogger("maiascore.worker")
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
SWEEPS = (recover_single_reports, recover_score_batches, recover_trainings, recover_scoring_runs, recover_alerts,
          recover_pending)


def run_sweeps():
    for func in SWEEPS:
        try:
            func()
        except Exception:
            log.exception("sweep %s failed", func.__name__)


class Worker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        if kwargs.get("maintenance_interval", DEFAULT_MAINTENANCE_TASK_INTERVAL) == DEFAULT_MAINTENANCE_TASK_INTERVAL:
            # ``rq worker`` always passes its 600 s default; only an explicit --maintenance-interval wins
            kwargs["maintenance_interval"] = settings().SWEEP_INTERVAL_SECONDS
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self):
        return max(1, min(self.maintenance_interval, self.worker_ttl - 15))

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN:
            log.warning("redis unavailable during maintenance; sweeping MongoDB anyway")
            self.last_cleaned_at = now()
        run_sweeps()

    def execute_job(self, job, queue):
        """A Redis outage while RQ records a job's outcome must not kill the worker: the job's own
        writes are in MongoDB, and the sweeps redo whatever RQ's bookkeeping lost."""
        try:
            super().execute_job(job, queue)
        except REDIS_DOWN:
            log.warning("redis unavailable while finishing job %s; carrying on", job.id)
            time.sleep(1)

    def heartbeat(self, *args, **kwargs):
        try:
            return super().heartbeat(*args, **kwargs)
        except REDIS_DOWN:
            log.warning("redis unavailable for the heartbeat")

    def check_for_suspension(self, burst):
        try:
            return super().check_for_suspension(burst)
        except REDIS_DOWN:
            time.sleep(1)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Rides out a Redis restart instead of quitting: the jobs it loses, the sweeps re-create."""
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_DOWN:
                log.warning("redis unavailable; retrying in 1s")
                time.sleep(1)
                try:
                    self.register_birth()
                except Exception:  # still down, or our old registration survived
                    pass
