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

from bson import ObjectId
from rq import Retry

from config import settings
from maiascore import leases, metrics
from maiascore.clock import stored_now, utcnow
from maiascore.connections import get_db
from maiascore.datasets import sources
from maiascore.errors import Conflict
from maiascore.events import DATASET_DELETING
from maiascore.trainings import engines
from maiascore.trainings.documents import new_training_doc, next_occurrence
from maiascore.trainings.parameters import parameters_only
from maiascore.trainings.runs import LEASES, TrainingRun, settle
from maiascore.trainings.slots import ALREADY_HELD, GroupSlot
from maiascore.trainings.states import ACTIVE, PENDING, SCHEDULED

log = logging.getLogger("maiascore.trainings.jobs")
SLOT_RETRIES = 1_000_000  # RQ needs a bound; past it the job fails in RQ and the sweep re-submits the training


@DATASET_DELETING.connect
def refuse_while_a_training_reads(aid, dataset_id):
    """A data set cannot be deleted while a training that has not finished reads it."""
    busy = get_db().trainings.find_one({"aid": aid, "meta.dataset": dataset_id, "status": {"$in": list(ACTIVE)}},
                                       {"_id": 1})
    if busy:
        raise Conflict(f"Training {busy['_id']} still uses this dataset; cancel it (DELETE /trainings/{busy['_id']}) "
                       "or wait for it to finish")


def _whole_second_after(moment):
    """RQ's scheduler keeps whole seconds, truncating: round up so a job never starts early."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=timezone.utc)


def submit(doc):
    """Hands the training to RQ, a scheduled one for its time; if Redis is away the sweep submits it later."""
    at = doc["scheduledAt"] if doc["status"] == SCHEDULED and doc["scheduledAt"] > utcnow() else None
    LEASES.submit(run_training, doc["_id"], at=None if at is None else _whole_second_after(at))


def run_training(training_id):
    """Runs in its group's turn (``leases.take_turn``; else it goes behind the queue) and in a group slot:
    while the group already runs ``TRAININGS_PER_GROUP`` trainings the job comes back to the queue (same
    job id) after ``TRAINING_SLOT_RETRY_SECONDS``, the training still queued."""
    doc = ObjectId.is_valid(training_id) and get_db().trainings.find_one({"_id": ObjectId(training_id)},
                                                                         {"aid": 1, "status": 1})
    if not doc or doc["status"] not in PENDING:
        log.info("training %s is not pending (finished, canceled or running elsewhere): nothing to do", training_id)
        return "skipped"
    behind = leases.take_turn(LEASES, training_id)
    if behind is not None:
        return behind
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
    """The sweep (``leases.recover``): a running training whose worker was lost is re-queued once, failed
    the second time. Returns ``(resubmitted, rescued)``."""
    return leases.recover(LEASES, submit, _requeued, {"status": 1, "scheduledAt": 1})


def _requeued(doc, stopped):
    return {"progress": 0, "error": f"{stopped}; re-queued"}
