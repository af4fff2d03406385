"""Trainings: launch now or on a schedule, list, cancel, delete, activate; and the recovery sweep.

Status lifecycle: ``scheduled`` (waits for ``scheduledAt``) or ``queued``, then ``running``,
then ``succeeded``, ``failed`` or ``canceled``. The job id of a training is
``train-<training id>``; the training document, not Redis, is the truth, so a lost
job is re-created from it (see :func:`recover_stranded_trainings`).
"""
import json
import logging
import math
from datetime import datetime, timedelta, timezone

import marshmallow as ma
import redis.exceptions
from bson import ObjectId
from croniter import croniter
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from rq.exceptions import NoSuchJobError
from rq.job import Job

from config import settings
from maiascore.connections import get_db, get_redis, utcnow
from maiascore.http.errors import abort
from maiascore.http.strapi import entry_fields, object_id, parse_list_query
from maiascore.queue import TRAININGS, enqueue, job_is_live
from maiascore.trainings import parameters, registry
from maiascore.trainings.registry import to_millis

log = logging.getLogger("maiascore.trainings")

SCHEDULED, QUEUED, RUNNING = "scheduled", "queued", "running"
SUCCEEDED, FAILED, CANCELED = "succeeded", "failed", "canceled"
PENDING = (SCHEDULED, QUEUED)
UNFINISHED = (SCHEDULED, QUEUED, RUNNING)
MAX_ATTEMPTS = 2

LIST_FIELDS = {
    "id": ("_id", ObjectId),
    "uuid": ("uuid", str),
    "status": ("status", str),
    "progress": ("progress", int),
    "accuracy": ("accuracy", float),
    "precission": ("precission", float),
    "mae": ("mae", float),
    "rmse": ("rmse", float),
    "binaryPath": ("binaryPath", str),
    "version": ("version", str),
    "cron": ("cron", str),
    "error": ("error", str),
    "scheduledAt": ("scheduledAt", datetime),
    "startedAt": ("startedAt", datetime),
    "finishedAt": ("finishedAt", datetime),
    "created_at": ("created_at", datetime),
    "updated_at": ("updated_at", datetime),
    "published_at": ("published_at", datetime),
    "created_by": ("created_by", int),
    "updated_by": ("updated_by", int),
}


def job_id(training_id):
    return f"train-{training_id}"


def launch_training(aid, user, body):
    """The CLI's entry point: ``body`` is shaped like the POST /trainings body (``meta`` as object or text)."""
    from maiascore.trainings.schemas import TrainingCreateSchema

    try:
        loaded = TrainingCreateSchema().load(body)
    except ma.ValidationError as exc:
        abort(422, "Request validation failed", errors={"json": exc.messages})
    training, _ = create_training(aid, user["_id"], loaded)
    return training


def create_training(aid, user_id, body):
    """Returns ``(training, created)``; a known ``uuid`` returns the existing training and starts nothing."""
    db = get_db()
    uuid = body.get("uuid")
    if uuid is not None:
        existing = db.trainings.find_one({"aid": aid, "uuid": uuid})
        if existing is not None:
            return existing, False
    meta, meta_errors = parameters.resolve(aid, body.get("meta") or {})
    now = to_millis(utcnow())
    scheduled_at, cron = body.get("scheduledAt"), body.get("cron")
    scheduled_at = scheduled_at and to_millis(scheduled_at.astimezone(timezone.utc))
    errors = {"meta": meta_errors} if meta_errors else {}
    if scheduled_at is not None and scheduled_at <= now:
        errors["scheduledAt"] = ["Must be in the future; leave it out to start now."]
    if errors:
        abort(422, "Request validation failed", errors={"json": errors})
    if cron and scheduled_at is None:
        scheduled_at = next_occurrence(cron, now)
    doc = new_training_doc(aid, user_id, meta, body.get("metaAsText", False), scheduled_at, cron, uuid, now)
    try:
        db.trainings.insert_one(doc)
    except DuplicateKeyError:
        return db.trainings.find_one({"aid": aid, "uuid": uuid}), False
    submit(doc)
    return doc, True


def new_training_doc(aid, user_id, meta, meta_as_text, scheduled_at, cron, uuid, now, cron_of=None):
    return {
        "_id": ObjectId(),
        "aid": aid,
        "uuid": uuid,
        "status": SCHEDULED if scheduled_at else QUEUED,
        "progress": 0,
        "accuracy": None,
        "precission": None,
        "mae": None,
        "rmse": None,
        "binaryPath": None,
        "version": None,
        "meta": meta,
        "metaAsText": bool(meta_as_text),
        "cron": cron,
        "cronOf": cron_of,
        "scheduledAt": scheduled_at,
        "startedAt": None,
        "finishedAt": None,
        "error": None,
        "attempts": 0,
        "runId": None,
        "heartbeatAt": None,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "created_by": user_id,
        "updated_by": user_id,
    }


def next_occurrence(cron, after):
    return croniter(cron, after.astimezone(timezone.utc)).get_next(datetime)


def _whole_second_after(moment):
    """RQ's scheduler keeps whole seconds, truncating: round up so a job never starts early."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp()), tz=timezone.utc)


def submit(doc):
    """Hands the training to RQ; if Redis is away the sweep submits it later, so nothing is lost."""
    at = doc["scheduledAt"] if doc["status"] == SCHEDULED and doc["scheduledAt"] > utcnow() else None
    try:
        from maiascore.trainings.jobs import run_training  # TODO(house): jobs beside service

        enqueue(TRAININGS, run_training, str(doc["_id"]), job_id=job_id(doc["_id"]),
                at=None if at is None else _whole_second_after(at), timeout=settings().TRAINING_JOB_TIMEOUT)
    except redis.exceptions.RedisError as exc:
        log.warning("training %s not enqueued (%s); the sweep will enqueue it", doc["_id"], type(exc).__name__)


def _drop_job(training_id):
    try:
        Job.fetch(job_id(training_id), connection=get_redis()).delete()
    except NoSuchJobError:
        pass
    except redis.exceptions.RedisError as exc:  # the job finds the training canceled and does nothing
        log.warning("could not remove the job of training %s: %s", training_id, type(exc).__name__)


def schedule_successor(doc):
    """A repeating training's next occurrence, created once however often this runs."""
    db = get_db()
    if not doc.get("cron") or doc.get("successor"):
        return None
    now = to_millis(utcnow())
    base = max(now, doc["scheduledAt"]) if doc.get("scheduledAt") else now
    successor = new_training_doc(doc["aid"], doc.get("created_by"), _parameters_only(doc["meta"]),
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


def _parameters_only(meta):
    return {k: v for k, v in meta.items() if k not in parameters.COMPUTED_KEYS}


def get_training(aid, training_id):
    doc = get_db().trainings.find_one({"_id": object_id(training_id, "Training"), "aid": aid})
    if doc is None:
        abort(404, "Training not found")
    return doc


def list_trainings(aid, args):
    query, sort, skip, limit = parse_list_query(args, LIST_FIELDS, {"aid": aid})
    return list(get_db().trainings.find(query).sort(sort).skip(skip).limit(limit))


def count_trainings(aid, args):
    query, _, _, _ = parse_list_query(args, LIST_FIELDS, {"aid": aid})
    return get_db().trainings.count_documents(query)


def delete_training(aid, training_id, user_id):
    """Cancels a training that has not finished; deletes a finished one (its model stays in the registry)."""
    db = get_db()
    for _ in range(3):  # the status may move under us; each pass re-reads it
        doc = get_training(aid, training_id)
        if doc["status"] in UNFINISHED:
            now = utcnow()
            canceled = db.trainings.find_one_and_update(
                {"_id": doc["_id"], "status": doc["status"]},
                {"$set": {"status": CANCELED, "finishedAt": now, "updated_at": now, "updated_by": user_id}},
                return_document=ReturnDocument.AFTER)
            if canceled is None:
                continue
            if doc["status"] in PENDING:
                _drop_job(doc["_id"])
            return canceled
        model = registry.model_for_training(aid, doc["_id"])
        if model is not None and model.get("active"):
            abort(409, f"This training produced the active model (version {model['version']}); activate another "
                       "model before deleting it")
        if db.trainings.delete_one({"_id": doc["_id"], "status": doc["status"]}).deleted_count:
            return doc
    abort(409, "The training changed while it was being deleted; try again")


def activate_training(aid, training_id):
    """Makes a succeeded training's model the active one (also a deleted training's, which keeps its model)."""
    oid = object_id(training_id, "Training")
    doc = get_db().trainings.find_one({"_id": oid, "aid": aid}, {"status": 1})
    if doc is not None and doc["status"] != SUCCEEDED:
        abort(409, f"Only a succeeded training can be activated; this one is {doc['status']}")
    model = registry.activate(aid, oid)
    if model is None:
        abort(404, "Training not found" if doc is None else "This training has no model")
    return model


def training_model(aid, training_id):
    """The registry entry of a training's model, for the download route."""
    oid = object_id(training_id, "Training")
    model = registry.model_for_training(aid, oid)
    if model is None:
        doc = get_db().trainings.find_one({"_id": oid, "aid": aid}, {"status": 1})
        if doc is None:
            abort(404, "Training not found")
        abort(404, f"This training has no model (status: {doc['status']})")
    return model


def active_training_id(aid):
    model = registry.active_model(aid)
    return model["training"] if model else None


def public_training(doc, active_training=None):
    meta = doc.get("meta") or {}
    return {
        "id": str(doc["_id"]),
        "uuid": doc.get("uuid"),
        "status": doc["status"],
        "progress": doc.get("progress", 0),
        "accuracy": doc.get("accuracy"),
        "precission": doc.get("precission"),
        "precision": doc.get("precission"),
        "mae": doc.get("mae"),
        "rmse": doc.get("rmse"),
        "binaryPath": doc.get("binaryPath"),
        "version": doc.get("version"),
        "meta": json.dumps(meta) if doc.get("metaAsText") else meta,
        "active": active_training is not None and active_training == str(doc["_id"]),
        "cron": doc.get("cron"),
        "scheduledAt": doc.get("scheduledAt"),
        "startedAt": doc.get("startedAt"),
        "finishedAt": doc.get("finishedAt"),
        "error": doc.get("error"),
        **entry_fields(doc),
    }


def recover_stranded_trainings():
    """Re-submits pending trainings whose job is gone (a Redis restart loses them) and rescues
    running ones whose worker stopped heart-beating: re-queued once, failed the second time."""
    db = get_db()
    cfg = settings()
    now = utcnow()
    settled = now - timedelta(seconds=cfg.SWEEP_GRACE_SECONDS)
    stale = now - timedelta(seconds=3 * cfg.TRAINING_HEARTBEAT_SECONDS)
    resubmitted = rescued = 0
    for doc in db.trainings.find({"status": {"$in": list(PENDING)}, "updated_at": {"$lt": settled}},
                                 {"status": 1, "scheduledAt": 1}):
        if not job_is_live(job_id(doc["_id"])):
            submit(doc)
            resubmitted += 1
    for doc in db.trainings.find({"status": RUNNING, "heartbeatAt": {"$lt": settled}},
                                 {"runId": 1, "attempts": 1, "heartbeatAt": 1}):
        if doc["heartbeatAt"] < stale or not job_is_live(job_id(doc["_id"])):
            rescue(doc, now)
            rescued += 1
    if resubmitted or rescued:
        log.warning("training sweep: %s pending trainings re-submitted, %s lost runs rescued", resubmitted, rescued)
    return resubmitted, rescued


def rescue(doc, now):
    db = get_db()
    owned = {"_id": doc["_id"], "runId": doc["runId"], "status": RUNNING}
    lost_at = doc["heartbeatAt"].isoformat(timespec="seconds")
    if doc.get("attempts", 0) >= MAX_ATTEMPTS:
        db.trainings.update_one(owned, {"$set": {
            "status": FAILED, "finishedAt": now, "updated_at": now,
            "error": f"The worker running this training stopped (killed or lost; last heartbeat {lost_at}) "
                     f"on {MAX_ATTEMPTS} attempts; launch it again"}})
        return
    requeued = db.trainings.update_one(owned, {"$set": {
        "status": QUEUED, "runId": None, "progress": 0, "updated_at": now,
        "error": f"The worker running this training stopped (last heartbeat {lost_at}); re-queued"}})
    if requeued.modified_count:
        _drop_job(doc["_id"])
        submit({"_id": doc["_id"], "status": QUEUED})
