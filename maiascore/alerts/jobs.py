"""Alert jobs: the evaluation cadence (queue ``alerts``) and deliveries (queue ``notifications``).

``evaluate_tick(n)`` runs at ``n x ALERT_EVALUATION_SECONDS`` on the RQ scheduler of a scoring
worker; it first schedules tick ``n + 1``, so a failing evaluation never stops the cadence,
then queues one ``evaluate_group`` per account group with rules (retried by RQ when a rule
fails; each failure is logged and kept on the rule). ``deliver(channel)`` sends one
endpoint's due notifications and queues itself again for what remains, behind every other
endpoint's job: one dead endpoint never holds another's notifications. The worker's sweep
(``recover_alerts``) re-creates the schedule and the delivery jobs a Redis loss dropped.
"""
import logging
import re
import time
import uuid
from datetime import timedelta, timezone

from config import settings
from maiascore.alerts import delivery, evaluation
from maiascore.alerts.rules import RULES
from maiascore.clock import utcnow
from maiascore.connections import get_db, redis_key
from maiascore.queue import ALERTS, NOTIFICATIONS, enqueue, job_is_live

log = logging.getLogger("maiascore.alerts")
EVALUATION_RETRIES = 3


class EvaluationFailed(Exception):
    """Some rules failed to evaluate; RQ retries the job, which evaluates the group again."""


def _job_id(*parts):
    return redis_key("alerts", *(re.sub(r"[^A-Za-z0-9_.-]", "_", str(p)) for p in parts)).replace(":", "-")


def schedule_next(now=None):
    """Schedules the next tick's evaluation once (a live job of that tick is left alone)."""
    cadence = settings().ALERT_EVALUATION_SECONDS
    now = time.time() if now is None else now
    tick = int(now // cadence) + 1
    job_id = _job_id("tick", tick)
    if not job_is_live(job_id):
        enqueue(ALERTS, evaluate_tick, tick, job_id=job_id, at=evaluation.tick_time(tick, cadence))
    return tick


def evaluate_tick(tick):
    schedule_next()
    groups = {row["_id"] for row in get_db()[RULES].aggregate([{"$group": {"_id": "$aid"}}])}
    for aid in sorted(groups):
        job_id = _job_id("eval", aid, tick)
        if not job_is_live(job_id):
            enqueue(ALERTS, evaluate_group, aid, tick, job_id=job_id, retries=EVALUATION_RETRIES)


def evaluate_group(aid, tick):
    channels, failed = evaluation.evaluate_group(aid, tick, settings().ALERT_EVALUATION_SECONDS)
    for channel in sorted(channels):
        kick(channel, again=True)  # new work: a job already running on this channel may have looked already
    if failed:
        raise EvaluationFailed(f"alert rules {', '.join(failed)} of group {aid} failed at tick {tick}")


def kick(channel, at=None, again=False):
    """Queues ``deliver(channel)``; one job per channel and due second, unless ``again`` (a job
    handing over to its successor while its own id is still live)."""
    due = at if at is not None and at > utcnow() else None
    stamp = int(due.timestamp()) if due else "now"
    job_id = _job_id("deliver", channel, stamp, uuid.uuid4().hex[:8] if again else "")
    if again or not job_is_live(job_id):
        cfg = settings()
        timeout = int(cfg.WEBHOOK_DELIVERIES_PER_JOB * (cfg.WEBHOOK_TIMEOUT_SECONDS * 2 + 1)) + 60
        enqueue(NOTIFICATIONS, deliver, channel, job_id=job_id, at=due, timeout=timeout)


def deliver(channel):
    following = delivery.run_channel(channel)
    if following is not None:
        if following.tzinfo is None:
            following = following.replace(tzinfo=timezone.utc)
        kick(channel, at=following, again=following <= utcnow())


def recover_alerts():
    """The sweep: keeps the evaluation schedule alive and re-queues deliveries no job holds."""
    if get_db()[RULES].find_one({}, {"_id": 1}) is None:
        return
    schedule_next()
    grace = timedelta(seconds=settings().SWEEP_GRACE_SECONDS)
    for channel in delivery.pending_channels(utcnow() - grace):
        kick(channel)
