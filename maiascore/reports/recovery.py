"""The recovery sweeps of both scoring lanes: work a crash or a Redis outage stranded, found in MongoDB.

The worker runs them on start and every SWEEP_INTERVAL_SECONDS (``maiascore.workers``).
"""
import logging
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from config import settings
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.queue import job_is_live
from maiascore.reports import batch_lane, single_lane
from maiascore.reports.documents import SINGLE
from maiascore.reports.states import BATCH_DONE, BATCH_PROCESSING, BATCH_QUEUED, QUEUED, WAITING_FOR_MODEL

log = logging.getLogger("maiascore.reports")

ORPHAN_SCAN_LIMIT = 1000


def recover_single_reports():
    """Requests a drain for every group whose single reports wait longer than SWEEP_GRACE_SECONDS with no
    live drain: Redis was down at POST time or lost its keys, or the drain's worker died (its lease expired)."""
    db = get_db()
    cutoff = utcnow() - timedelta(seconds=settings().SWEEP_GRACE_SECONDS)
    stranded = [aid for aid in db.score_reports.distinct("aid", {"status": QUEUED, "lane": SINGLE,
                                                                 "updated_at": {"$lt": cutoff}})
                if not single_lane.drain_is_live(aid)]
    for aid in stranded:
        log.info("requesting a scoring drain for the stranded single reports of group %s", aid)
        single_lane.request_drain(aid, force=True)
    return len(stranded)


def recover_score_batches():
    """Re-enqueues batches no live job will finish: never enqueued (Redis was down), lost with
    Redis, or held by a worker that died (lease expired). Indexed queries only."""
    db = get_db()
    now = utcnow()
    cutoff = now - timedelta(seconds=settings().SWEEP_GRACE_SECONDS)
    stranded = [b["_id"] for b in db.score_batches.find({"status": BATCH_QUEUED, "updated_at": {"$lt": cutoff}},
                                                         {"_id": 1})
                if not job_is_live(batch_lane.job_id(b["_id"]))]
    # An expired lease is enough: a SIGKILLed worker's job stays "started" in RQ until its timeout.
    for batch in db.score_batches.find({"status": BATCH_PROCESSING, "leaseUntil": {"$lt": now}}, {"_id": 1}):
        released = db.score_batches.update_one(
            {"_id": batch["_id"], "status": BATCH_PROCESSING, "leaseUntil": {"$lt": now}},
            {"$set": {"status": BATCH_QUEUED, "leaseUntil": None, "updated_at": now}})
        if released.modified_count:
            stranded.append(batch["_id"])
    stranded.extend(_adopt_orphan_reports(db, cutoff, now))
    for batch_id in stranded:
        log.info("re-enqueueing stranded scoring batch %s", batch_id)
        batch_lane.enqueue_batch(batch_id)
    _release_missed_waiters(db, cutoff)
    return len(stranded)


def _release_missed_waiters(db, cutoff):
    """Reports still waiting in a group that has an active model: the release on activation failed."""
    for aid in db.models.distinct("aid", {"active": True}):
        if db.score_reports.find_one({"aid": aid, "status": WAITING_FOR_MODEL, "updated_at": {"$lt": cutoff}},
                                     {"_id": 1}):
            log.info("releasing reports of group %s still waiting despite an active model", aid)
            batch_lane.release_waiting_reports(aid)


def _adopt_orphan_reports(db, cutoff, now):
    """Queued reports of the batch lane whose batch document is missing (a crash between the reports'
    insert and the batch's) or already done: their batch is (re)opened so the job can claim it.
    Reports without a ``lane`` were queued before lanes existed, each with a batch document."""
    aid_of = {}
    for report in (db.score_reports.find({"status": QUEUED, "updated_at": {"$lt": cutoff},
                                          "lane": {"$ne": SINGLE}}, {"batch": 1, "aid": 1})
                   .sort("updated_at", 1).limit(ORPHAN_SCAN_LIMIT)):
        aid_of.setdefault(report["batch"], report["aid"])
    if not aid_of:
        return []
    status_of = {b["_id"]: b["status"] for b in db.score_batches.find({"_id": {"$in": list(aid_of)}}, {"status": 1})}
    adopted = []
    for batch_id, aid in aid_of.items():
        status = status_of.get(batch_id)
        if status is None:
            try:
                db.score_batches.insert_one(batch_lane.batch_doc(batch_id, aid, None, now))
            except DuplicateKeyError:
                continue
            adopted.append(batch_id)
        elif status == BATCH_DONE:
            reopened = db.score_batches.update_one({"_id": batch_id, "status": BATCH_DONE},
                                                   {"$set": {"status": BATCH_QUEUED, "updated_at": now},
                                                    "$unset": {"doneAt": ""}})
            if reopened.modified_count:
                adopted.append(batch_id)
    return adopted
