"""The stored score report: its lanes, its shape when queued, its fields once scored, its Redis form.

Every writer of ``score_reports`` (the service, both scoring lanes, scoring runs) builds its
documents here, so a field of a report has one home. ``scored_fields`` is the one place a
scored report's result fields are computed.
"""
import bson
from bson import ObjectId
from bson.codec_options import CodecOptions

from maiascore.reports.states import PROCESSED, QUEUED

SINGLE = "single"  # lane of reports queued one at a time: drained per group (``single_lane``)
BATCH = "batch"  # lane of reports queued in a batch (bulk POST, release on activation): ``batch_lane``
HIDDEN = {"batch": 0, "lane": 0, "scoringRuns": 0, "aid": 0}  # internal fields: read, never shown
_CODEC = CodecOptions(tz_aware=True)


def new_token():
    """A fresh ``batch`` value: a batch's id, or a single report's own token (what its waiter listens to,
    and what a result must still match to be written)."""
    return str(ObjectId())


def queued_report(aid, data, owner, user_id, lane, token, now):
    """A report as it is stored before it is scored; ``data``: the loaded input."""
    return {
        "_id": ObjectId(),
        "aid": aid,
        "uuid": data.get("uuid"),
        "referenceId": data.get("referenceId"),
        "type": data.get("type", "reference"),
        "features": data.get("features") or {},
        "users_permissions_user": owner,
        "status": QUEUED,
        "processed": False,
        "score": None,
        "scoreProbability": None,
        "scoreConfidence": None,
        "scoreVersion": None,
        "explanation": [],
        "warnings": [],
        "error": None,
        "outcome": data.get("outcome"),
        "lane": lane,
        "batch": token,
        "scoringRuns": 0,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "processed_at": None,
        "created_by": user_id,
        "updated_by": user_id,
    }


def scored_fields(result, now):
    """The ``$set`` that scores a report, from a result as ``ScoreResult.to_dict()`` gives it: what every
    writer (single lane, batch lane, scoring runs) stores."""
    return {"status": PROCESSED, "processed": True, **result, "error": None, "processed_at": now, "updated_at": now}


def with_result(doc, fields):
    """The report once its scored write landed: ``fields`` over it, ``scoringRuns`` + 1."""
    return {**doc, **fields, "scoringRuns": (doc.get("scoringRuns") or 0) + 1}


def scored_report(aid, uuid, user_id, fields, now):
    """A report stored already scored (a scoring run's row, keyed by ``uuid``)."""
    doc = queued_report(aid, {"uuid": uuid, "referenceId": uuid}, user_id, user_id, BATCH, new_token(), now)
    return with_result(doc, fields)


def requeue_fields(now):
    """Back to the single lane under a new token: a result of the old features can no longer be written."""
    return {"lane": SINGLE, "batch": new_token(), "status": QUEUED, "processed": False, "error": None,
            "updated_at": now}


def to_bson(doc):
    """A report or result fields as the reports domain puts them on Redis."""
    return bson.encode(doc)


def from_bson(data):
    """What ``to_bson`` encoded, with MongoDB's own time zone handling."""
    return bson.decode(data, codec_options=_CODEC)
