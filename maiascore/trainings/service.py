"""Trainings: launch now or on a schedule, list, cancel, delete, activate.

The states are in :mod:`maiascore.trainings.states`; the job, how it is enqueued and the
recovery sweep in :mod:`maiascore.trainings.jobs`.
"""
from datetime import datetime, timezone

import marshmallow as ma
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from maiascore import leases
from maiascore.clock import stored_now, to_millis, utcnow
from maiascore.connections import find_in_group, get_db
from maiascore.datasets import sources
from maiascore.errors import Conflict, Invalid, NotFound, Unprocessable
from maiascore.http.strapi import object_id
from maiascore.trainings import bounds, engines, jobs, parameters, registry
from maiascore.datasets.sources import ReportsSource
from maiascore.trainings.documents import new_training_doc, next_occurrence
from maiascore.trainings.schemas import TrainingCreateSchema
from maiascore.trainings.states import PENDING, QUEUED, SCHEDULED, SUCCEEDED

VALIDATION_FAILED = "Request validation failed"
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
    "published_at": ("created_at", datetime),  # published on creation: the (aid, created_at) index serves it
    "created_by": ("created_by", int),
    "updated_by": ("updated_by", int),
}


def launch_training(aid, user, body):
    """The CLI's entry point: ``body`` is shaped like the POST /trainings body (``meta`` as object or text)."""
    try:
        loaded = TrainingCreateSchema().load(body)
    except ma.ValidationError as exc:
        raise Unprocessable(VALIDATION_FAILED, errors=exc.messages) from None
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
    meta, source = resolved_meta(aid, body.get("meta") or {})
    now = stored_now()
    scheduled_at, cron = body.get("scheduledAt"), body.get("cron")
    scheduled_at = scheduled_at and to_millis(scheduled_at.astimezone(timezone.utc))
    meta_errors = {**source.errors(), **engines.check(meta, source)}
    errors = {"meta": meta_errors} if meta_errors else {}
    if scheduled_at is not None and scheduled_at <= now:
        errors["scheduledAt"] = ["Must be in the future; leave it out to start now."]
    if errors:
        raise Unprocessable(VALIDATION_FAILED, errors=errors)
    check_bounds(meta, source)
    if cron and scheduled_at is None:
        scheduled_at = next_occurrence(cron, now)
    doc = new_training_doc(aid, user_id, meta, body.get("metaAsText", False), scheduled_at, cron, uuid, now)
    try:
        db.trainings.insert_one(doc)
    except DuplicateKeyError:
        return db.trainings.find_one({"aid": aid, "uuid": uuid}), False
    jobs.submit(doc)
    return doc, True


def resolved_meta(aid, checked_meta):
    """The stored meta: defaults filled in, and the dataset, target and positive class it resolves to."""
    meta = parameters.with_defaults(checked_meta)
    source = sources.resolve(aid, meta)
    meta["dataset"] = source.name
    if source.target is not None:
        meta["target"] = source.target
    if source.positive is not None:
        meta["positiveLabel"] = source.positive
    return parameters.in_order(meta), source


def check_bounds(meta, source):
    """The bounds a request can check from what is stored about the data. The labelled reports' shape
    needs a pass over the group's reports: the job measures it (building the table counts the
    feature names, then the rows and columns read are checked) and fails the training naming the bound."""
    if not isinstance(source, ReportsSource):
        bounds.check(meta, source.shape())


# reading, cancelling and deleting are the leased-job resource's (``maiascore.leases.Kind``)
get_training = jobs.LEASES.get
list_trainings = jobs.LEASES.page
count_trainings = jobs.LEASES.count


def delete_training(aid, training_id, user_id):
    """Cancels a training that has not finished; deletes a finished one (its model stays in the registry)."""
    return jobs.LEASES.cancel_or_delete(aid, training_id, user_id, deleting=_refuse_active_model)


def _refuse_active_model(doc):
    model = registry.model_for_training(doc["aid"], doc["_id"])
    if model is not None and model.get("active"):
        raise Conflict(f"This training produced the active model (version {model['version']}); activate "
                       "another model before deleting it")


def activate_training(aid, training_id):
    """Makes a succeeded training's model the active one (also a deleted training's, which keeps its model)."""
    oid = object_id(training_id, "Training")
    doc = find_in_group(get_db().trainings, oid, aid, {"status": 1})
    if doc is not None and doc["status"] != SUCCEEDED:
        raise Conflict(f"Only a succeeded training can be activated; this one is {doc['status']}")
    model = registry.activate(aid, oid)
    if model is None:
        raise NotFound("Training not found" if doc is None else "This training has no model")
    return model


def training_model(aid, training_id):
    """The registry entry of a training's model, for the download route."""
    oid = object_id(training_id, "Training")
    model = registry.model_for_training(aid, oid)
    if model is None:
        doc = find_in_group(get_db().trainings, oid, aid, {"status": 1})
        if doc is None:
            raise NotFound("Training not found")
        raise NotFound(f"This training has no model (status: {doc['status']})")
    return model


def active_training_id(aid):
    model = registry.active_model(aid)
    return model["training"] if model else None


def with_active(docs, aid):
    """Trainings marked ``active`` when their model is the group's active one: one look-up for them all."""
    active = active_training_id(aid)
    return [dict(doc, active=active is not None and active == str(doc["_id"])) for doc in docs]


def update_training(aid, training_id, user_id, body):
    """Strapi's update: ``meta.note`` at any time; the other parameters and the schedule only while the
    training has not started. Server-computed fields echoed back unchanged (or the output metrics, which
    a POST ignores too) pass; any other change answers 400 or 409 with the reason."""
    doc = get_training(aid, training_id)
    refuse_read_only(doc, body)
    changes = {}
    meta = body.get("meta")
    if meta is not None:
        changes.update(meta_changes(aid, doc, meta))
    if "scheduledAt" in body or "cron" in body:
        changes.update(schedule_changes(doc, body))
    if not changes:
        return doc
    now = utcnow()
    changes.update(updated_at=now, updated_by=user_id)
    updated = get_db().trainings.find_one_and_update({"_id": doc["_id"], "aid": aid, "status": doc["status"]},
                                                     {"$set": changes}, return_document=ReturnDocument.AFTER)
    if updated is None:
        raise Conflict("The training changed while it was being updated (it started, finished or was canceled); "
                       "read it again and retry")
    if "scheduledAt" in changes:
        leases.drop_job(jobs.LEASES, doc["_id"])
        jobs.submit(updated)
    return updated


IGNORED_ON_UPDATE = ("accuracy", "precission", "precision", "mae", "rmse", "binaryPath", "version", "startedAt",
                     "finishedAt", "created_at", "updated_at", "published_at", "created_by", "updated_by",
                     "metaAsText")
READ_ONLY_HINTS = {
    "id": "it names the training",
    "uuid": "it is the client's key of the training, fixed at creation",
    "status": "cancel with DELETE /trainings/{id}; launch again with POST /trainings",
    "progress": "the worker sets it while the training runs",
    "active": "activate a model with POST /trainings/{id}/activate",
    "error": "the worker sets it when the training fails",
}


def refuse_read_only(doc, body):
    current = {"id": str(doc["_id"]), "uuid": doc.get("uuid"), "status": doc["status"],
               "progress": doc.get("progress", 0), "error": doc.get("error"),
               "active": active_training_id(doc["aid"]) == str(doc["_id"])}
    for key, value in body.items():
        if key in ("meta", "scheduledAt", "cron") or key in IGNORED_ON_UPDATE:
            continue
        if key not in READ_ONLY_HINTS:
            raise Invalid(f"Unknown field '{key}': a training's update accepts meta, scheduledAt and cron")
        if value != current[key] and str(value) != str(current[key]):
            hint = READ_ONLY_HINTS[key].replace("{id}", current["id"])
            raise Invalid(f"'{key}' cannot be changed by an update: {hint}")


def meta_changes(aid, doc, meta):
    """``meta`` keys given are changed, the others kept; ``note`` may change at any time."""
    stored = parameters.parameters_only(doc.get("meta") or {})
    changed = {k: v for k, v in meta.items() if stored.get(k) != v}
    if not changed:
        return {}
    if set(changed) == {"note"}:
        return {"meta.note": changed["note"]} if changed["note"] is not None else {"meta.note": None}
    if doc["status"] not in PENDING:
        raise Conflict(f"The training is {doc['status']}: only meta.note can change now (asked: "
                       f"{', '.join(sorted(k for k in changed if k != 'note'))}); launch a new training instead")
    merged = {**stored, **meta}
    if "dataset" in changed and "target" not in meta:
        merged.pop("target", None)  # a new dataset brings its own target
    if ("dataset" in changed or "target" in changed) and "positiveLabel" not in meta:
        merged.pop("positiveLabel", None)
    resolved, source = resolved_meta(aid, merged)
    errors = source.errors()
    if errors:
        raise Unprocessable(VALIDATION_FAILED, errors={"meta": errors})
    check_bounds(resolved, source)
    return {"meta": resolved}


def schedule_changes(doc, body):
    """A schedule that has not started yet may move, repeat differently, or start now (``scheduledAt: null``)."""
    cron = body.get("cron", doc.get("cron"))
    asked = body.get("scheduledAt", doc.get("scheduledAt")) if "scheduledAt" in body else doc.get("scheduledAt")
    scheduled_at = asked and to_millis(asked.astimezone(timezone.utc))
    if scheduled_at == doc.get("scheduledAt") and cron == doc.get("cron"):
        return {}
    if doc["status"] != SCHEDULED:
        raise Conflict(f"The training is {doc['status']}: only a scheduled training that has not started can "
                       "change its schedule; cancel it (DELETE) and launch a new one")
    now = stored_now()
    if "scheduledAt" not in body and cron and cron != doc.get("cron"):
        scheduled_at = next_occurrence(cron, now)
    if scheduled_at is not None and scheduled_at <= now:
        raise Unprocessable(VALIDATION_FAILED, errors={"scheduledAt": [
            "Must be in the future; null starts the training now."]})
    return {"scheduledAt": scheduled_at, "cron": cron, "status": SCHEDULED if scheduled_at else QUEUED}
