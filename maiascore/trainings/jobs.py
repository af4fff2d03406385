"""The training job (queue ``trainings``, job id ``train-<training id>``), how it is enqueued,
and its recovery sweep.

Safe to run twice: only the run that claims the training works on it, a finished or
canceled training is left alone, and the registry keeps one model per training. The
training document, not Redis, is the truth, so a lost job is re-created from it
(:func:`recover_trainings`).
"""
import logging
import math
import time
from datetime import datetime, timezone

import redis.exceptions
from bson import ObjectId
from rq import Retry

from config import settings
from maiascore import leases, metrics
from maiascore.clock import stored_now, utcnow
from maiascore.connections import get_db
from maiascore.queue import TRAININGS, enqueue
from maiascore.trainings import engines, sources
from maiascore.trainings.documents import new_training_doc, next_occurrence
from maiascore.trainings.parameters import parameters_only
from maiascore.trainings.runs import LEASES, TrainingRun, settle
from maiascore.trainings.slots import ALREADY_HELD, GroupSlot
from maiascore.trainings.states import PENDING, QUEUED, SCHEDULED

log = logging.getLogger("maiascore.trainings.jobs")
MAX_ATTEMPTS = 2
SLOT_RETRIES = 1_000_000  # RQ needs a bound; past it the job fails in RQ and the sweep re-submits the training


def job_id(training_id):
    return LEASES.job_id(training_id)


def _whole_second_after(moment):
    """RQ's scheduler keeps whole seconds, truncating: round up so a job never starts early."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=timezone.utc)


def submit(doc):
    """Hands the training to RQ; if Redis is away the sweep submits it later, so nothing is lost."""
    at = doc["scheduledAt"] if doc["status"] == SCHEDULED and doc["scheduledAt"] > utcnow() else None
    try:
        enqueue(TRAININGS, run_training, str(doc["_id"]), job_id=job_id(doc["_id"]),
                at=None if at is None else _whole_second_after(at), timeout=settings().TRAINING_JOB_TIMEOUT)
    except redis.exceptions.RedisError as exc:
        log.warning("training %s not enqueued (%s); the sweep will enqueue it", doc["_id"], type(exc).__name__)


def drop_job(training_id):
    """Removes a pending training's job; if Redis is away, the job finds the training canceled and does nothing."""
    leases.drop_job(LEASES, training_id)


def run_training(training_id):
    """Runs in a group slot: while the group already runs ``TRAININGS_PER_GROUP`` trainings the job
    comes back to the queue (same job id) after ``TRAINING_SLOT_RETRY_SECONDS``, the training still queued."""
    doc = ObjectId.is_valid(training_id) and get_db().trainings.find_one({"_id": ObjectId(training_id)},
                                                                         {"aid": 1, "status": 1})
    if not doc or doc["status"] not in PENDING:
        log.info("training %s is not pending (finished, canceled or running elsewhere): nothing to do", training_id)
        return "skipped"
    slot = GroupSlot.take(doc["aid"], training_id)
    if slot is None:
        log.info("training %s waits: its group already runs its trainings (TRAININGS_PER_GROUP)", training_id)
        return Retry(max=SLOT_RETRIES, interval=settings().TRAINING_SLOT_RETRY_SECONDS)
    with slot:
        outcome = run_claimed(training_id)
        if outcome == "skipped" and slot.state == ALREADY_HELD:
            slot.keep()  # another run of this very training holds the slot
        return outcome


def run_claimed(training_id):
    run = TrainingRun.claim(training_id)
    if run is None:
        log.info("training %s is not due (finished, canceled, running elsewhere or early): nothing to do",
                 training_id)
        return "skipped"
    schedule_successor(run.doc)
    meta = run.meta
    started = time.monotonic()
    outcome, model = settle(run, lambda: run.succeed(engines.run(run, sources.resolve(run.aid, meta), meta)),
                            "Training")  # local or on Dask (engines.py)
    metrics.training_ended(outcome, time.monotonic() - started)
    if outcome == "succeeded":
        log.info("training %s succeeded: model version %s", training_id, model["version"])
    return outcome


def schedule_successor(doc):
    """A repeating training's next occurrence, created once however often this runs."""
    db = get_db()
    if not doc.get("cron") or doc.get("successor"):
        return None
    now = stored_now()
    base = max(now, doc["scheduledAt"]) if doc.get("scheduledAt") else now
    successor = new_training_doc(doc["aid"], doc.get("created_by"), parameters_only(doc["meta"]),
                                 doc.get("metaAsText"), next_occurrence(doc["cron"], base), doc["cron"], None, now,
                                 cron_of=doc.get("cronOf") or doc["_id"])
    db.trainings.insert_one(successor)
    claimed = db.trainings.update_one({"_id": doc["_id"], "successor": None},
                                      {"$set": {"successor": successor["_id"]}})
    if claimed.modified_count == 0:
        db.trainings.delete_one({"_id": successor["_id"]})
        return None
    submit(successor)
    return successor


def recover_trainings():
    """The sweep: re-submits pending trainings whose job is gone (a Redis restart loses them) and rescues
    running ones whose worker stopped heart-beating: re-queued once, failed the second time.

    Returns ``(resubmitted, rescued)``.
    """
    resubmitted, rescued = leases.sweep(LEASES, {"status": {"$in": list(PENDING)}},
                                        {"status": 1, "scheduledAt": 1}, submit, rescue)
    if resubmitted or rescued:
        log.warning("training sweep: %s pending trainings re-submitted, %s lost runs rescued", resubmitted, rescued)
    return resubmitted, rescued


def rescue(doc, now):
    lost_at = doc["heartbeatAt"].isoformat(timespec="seconds")
    failed = (f"The worker running this training stopped (killed or lost; last heartbeat {lost_at}) "
              f"on {MAX_ATTEMPTS} attempts; launch it again")
    requeued = {"progress": 0, "error": f"The worker running this training stopped (last heartbeat {lost_at}); "
                                        "re-queued"}
    if leases.requeue(LEASES, doc, now, MAX_ATTEMPTS, failed, requeued):
        submit({"_id": doc["_id"], "status": QUEUED})
