"""The training document as it is first written: by the service for a POST, by the job for a
repeating training's next occurrence, so both create the same shape."""
from datetime import datetime, timezone

from bson import ObjectId
from croniter import croniter

from maiascore.trainings.states import QUEUED, SCHEDULED


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
