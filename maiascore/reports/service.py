"""Score reports: create (one or in bulk), read, edit, delete, rescore, and wait for a score.

Writes go to MongoDB first and to the queue second: a report the API accepted is
never lost, whatever happens to Redis or a worker afterwards. A report queued on its own
(single POST, new features, rescore) goes to its group's drain (``drains``); the reports
of a bulk POST go in batches (``batches``).
"""
import time
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
import redis.exceptions
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from config import settings
from maiascore.accounts.permissions import MANAGE_USERS
from maiascore.accounts.service import normalise_email, public_user
from maiascore.connections import get_db, get_redis, utcnow
from maiascore.http.errors import ApiError, abort
from maiascore.http.strapi import object_id, parse_list_query
from maiascore.reports import batches, drains
from maiascore.reports.schemas import REPORT_TYPES, ScoreReportInputSchema

QUEUED = "queued"
PROCESSED = "processed"
FAILED = "failed"
WAITING_FOR_MODEL = "waiting_for_model"
SETTLED = (PROCESSED, FAILED, WAITING_FOR_MODEL)
USER_PLACEHOLDER = "string"  # what the seeds' generated snippets send for the owner
DUPLICATE_KEY = 11000

LIST_FIELDS = {
    "id": ("_id", ObjectId),
    "uuid": ("uuid", str),
    "referenceId": ("referenceId", str),
    "type": ("type", str),
    "processed": ("processed", bool),
    "status": ("status", str),
    "score": ("score", int),
    "scoreProbability": ("scoreProbability", float),
    "scoreConfidence": ("scoreConfidence", float),
    "scoreVersion": ("scoreVersion", str),
    "outcome": ("outcome", str),
    "users_permissions_user": ("users_permissions_user", int),
    "created_by": ("created_by", int),
    "created_at": ("created_at", datetime),
    "updated_at": ("updated_at", datetime),
    "processed_at": ("processed_at", datetime),
}
HIDDEN = {"batch": 0, "lane": 0, "scoringRuns": 0, "aid": 0}

_input_schema = ScoreReportInputSchema()


@dataclass
class Caller:
    """Who is asking, in which account group, with which rights."""

    user: dict
    aid: int
    permissions: frozenset
    is_admin: bool

    @property
    def id(self):
        return self.user["_id"]


# --- presenting -------------------------------------------------------------------------------

def _iso(moment):
    return moment.isoformat() if moment is not None else None


def present(doc, users, aid):
    """A stored report as the API shows it (JSON-ready: ScoreReportSchema documents this shape,
    and a test holds the two equal; building it directly is 8x cheaper than a schema dump on a
    100-report page). ``users`` maps id -> user doc for the expansion."""
    owner = users.get(doc.get("users_permissions_user"))
    return {
        "id": str(doc["_id"]),
        "uuid": doc.get("uuid"),
        "referenceId": doc.get("referenceId"),
        "type": doc.get("type", "reference"),
        "processed": bool(doc.get("processed")),
        "status": doc.get("status"),
        "users_permissions_user": public_user(owner, aid) if owner else None,
        "score": doc.get("score"),
        "scoreProbability": doc.get("scoreProbability"),
        "scoreConfidence": doc.get("scoreConfidence"),
        "scoreVersion": doc.get("scoreVersion"),
        "explanation": doc.get("explanation") or [],
        "warnings": doc.get("warnings") or [],
        "features": doc.get("features") or {},
        "outcome": doc.get("outcome"),
        "error": doc.get("error"),
        "processed_at": _iso(doc.get("processed_at")),
        "published_at": _iso(doc.get("published_at")),
        "created_at": _iso(doc.get("created_at")),
        "updated_at": _iso(doc.get("updated_at")),
        "created_by": doc.get("created_by"),
        "updated_by": doc.get("updated_by"),
    }


def present_many(docs, caller):
    """One ``find`` for all the owners of a page, not one per report."""
    owner_ids = {d.get("users_permissions_user") for d in docs} - {None}
    users = {}
    if caller.id in owner_ids:
        users[caller.id] = caller.user
        owner_ids.discard(caller.id)
    if owner_ids:
        users.update({u["_id"]: u for u in get_db().users.find({"_id": {"$in": list(owner_ids)}})})
    return [present(d, users, caller.aid) for d in docs]


def present_one(doc, caller):
    return present_many([doc], caller)[0]


# --- creating ---------------------------------------------------------------------------------

class _Owners:
    """Resolves ``users_permissions_user`` values to members of the caller's group, memoised per request."""

    def __init__(self, caller):
        self.caller = caller
        self.cache = {}

    def resolve(self, value):
        if value is None:
            return self.caller.id
        if value not in self.cache:
            self.cache[value] = self._lookup(value)
        return self.cache[value]

    def _lookup(self, value):
        user = self.caller.user
        if value in (user["_id"], user["username"]) or (isinstance(value, str)
                                                        and normalise_email(value) == user["email"]):
            return user["_id"]
        if MANAGE_USERS not in self.caller.permissions:
            if value == USER_PLACEHOLDER:
                return user["_id"]
            abort(403, "Forbidden: only users with 'Manage Users' may create or move a report for another user")
        if isinstance(value, int):
            query = {"_id": value}
        else:
            query = {"$or": [{"username": value}, {"email": normalise_email(value)}]}
        found = get_db().users.find_one({**query, "memberships.aid": self.caller.aid}, {"_id": 1})
        if found is not None:
            return found["_id"]
        if value == USER_PLACEHOLDER:
            return user["_id"]
        abort(422, "Request validation failed",
              errors={"users_permissions_user": [f"No user {value!r} in this account group."]})


def _stored_now():
    """Now at MongoDB's millisecond precision, so a POST shows the timestamps a later GET will."""
    moment = utcnow()
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _check_type(data):
    if "type" in data and data["type"] not in REPORT_TYPES:
        abort(400, f"Unknown report type {data['type']!r}; known types: {', '.join(REPORT_TYPES)}")


def _new_doc(data, caller, owners, lane, batch_id, now):
    _check_type(data)
    return {
        "_id": ObjectId(),
        "aid": caller.aid,
        "uuid": data.get("uuid"),
        "referenceId": data.get("referenceId"),
        "type": data.get("type", "reference"),
        "features": data.get("features") or {},
        "users_permissions_user": owners.resolve(data.get("users_permissions_user")),
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
        "batch": batch_id,
        "scoringRuns": 0,
        "created_at": now,
        "updated_at": now,
        "published_at": now,
        "processed_at": None,
        "created_by": caller.id,
        "updated_by": caller.id,
    }


def _validation_error(exc):
    return ApiError(422, "Request validation failed", errors=exc.messages)


def load_input(body):
    if not isinstance(body, dict):
        abort(422, "Request validation failed", errors={"_schema": ["A report must be an object."]})
    try:
        return _input_schema.load(body)
    except ma.ValidationError as exc:
        raise _validation_error(exc)


def create_report(body, caller):
    """Stores one report and queues it; ``(doc, created)``. A known ``uuid`` returns the stored report."""
    data = load_input(body)
    db = get_db()
    now = _stored_now()
    doc = _new_doc(data, caller, _Owners(caller), drains.SINGLE, batches.new_batch_id(), now)
    try:
        db.score_reports.insert_one(doc)
    except DuplicateKeyError:
        existing = db.score_reports.find_one({"aid": caller.aid, "uuid": doc["uuid"]})
        if existing is None:  # deleted in between: the client may simply retry
            abort(409, "A report with this uuid was being deleted; retry")
        return existing, False
    drains.request_drain(caller.aid)
    return doc, True


def _item_error(index, error):
    payload = {"code": error.code, "message": error.message}
    if error.errors:
        payload["errors"] = error.errors
    return {"index": index, "error": payload}


def create_reports(items, caller):
    """Bulk create: one ``insert_many``, one batch (and job) per SCORING_BATCH_SIZE reports.

    Invalid items get an error at their index while the valid ones are kept; an item whose
    ``uuid`` is already known (stored, or earlier in the same request) gets the known id.
    """
    cfg = settings()
    if not items:
        abort(400, "A bulk request needs at least one report")
    if len(items) > cfg.BULK_MAX_ITEMS:
        abort(413, f"At most {cfg.BULK_MAX_ITEMS} reports per request; split the list")
    now = _stored_now()
    owners = _Owners(caller)
    results = [None] * len(items)
    docs, doc_index, first_by_uuid, repeats = [], [], {}, []
    for index, item in enumerate(items):
        try:
            doc = _new_doc(load_input(item), caller, owners, drains.BATCH, None, now)
        except ApiError as error:
            results[index] = _item_error(index, error)
            continue
        uuid = doc["uuid"]
        if uuid is not None and uuid in first_by_uuid:
            repeats.append((index, uuid))
            continue
        if uuid is not None:
            first_by_uuid[uuid] = doc["_id"]
        docs.append(doc)
        doc_index.append(index)

    size = max(1, cfg.SCORING_BATCH_SIZE)
    batch_ids = [batches.new_batch_id() for _ in range(0, len(docs), size)]
    for n, doc in enumerate(docs):
        doc["batch"] = batch_ids[n // size]
    rejected_positions = _insert_reports(docs)

    known = {}
    duplicate_uuids = [docs[p]["uuid"] for p in rejected_positions]
    if duplicate_uuids:
        for stored in get_db().score_reports.find({"aid": caller.aid, "uuid": {"$in": duplicate_uuids}},
                                                  {"uuid": 1}):
            known[stored["uuid"]] = stored["_id"]
    per_batch = {}
    for position, doc in enumerate(docs):
        index = doc_index[position]
        if position in rejected_positions:
            stored_id = known.get(doc["uuid"])
            results[index] = ({"index": index, "id": str(stored_id)} if stored_id else _item_error(
                index, ApiError(409, "A report with this uuid was being deleted; retry")))
            first_by_uuid[doc["uuid"]] = stored_id
        else:
            results[index] = {"index": index, "id": str(doc["_id"])}
            per_batch[doc["batch"]] = per_batch.get(doc["batch"], 0) + 1
    for index, uuid in repeats:
        stored_id = first_by_uuid.get(uuid)
        results[index] = {"index": index, "id": str(stored_id)} if stored_id else _item_error(
            index, ApiError(409, "A report with this uuid was being deleted; retry"))

    batches.insert_batches([batches.batch_doc(b, caller.aid, n, now) for b, n in per_batch.items()])
    for batch_id in per_batch:
        batches.enqueue_batch(batch_id, caller.aid)
    accepted = sum(1 for r in results if "id" in r)
    return {"reports": results, "accepted": accepted, "rejected": len(results) - accepted}


def _insert_reports(docs):
    """Positions of the documents refused as duplicates of a stored ``uuid``."""
    if not docs:
        return set()
    try:
        get_db().score_reports.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {e["index"] for e in errors}
    return set()


# --- reading ----------------------------------------------------------------------------------

def list_reports(args, caller):
    query, sort, skip, limit = parse_list_query(args, LIST_FIELDS, {"aid": caller.aid},
                                                default_sort=(("created_at", -1),))
    if not any(key == "_id" for key, _ in sort):
        sort.append(("_id", sort[0][1] if sort else -1))
    docs = list(get_db().score_reports.find(query, HIDDEN).sort(sort).skip(skip).limit(limit))
    return present_many(docs, caller)


def count_reports(args, caller):
    query, _, _, _ = parse_list_query(args, LIST_FIELDS, {"aid": caller.aid})
    return get_db().score_reports.count_documents(query)


def find_report(report_id, caller, projection=None):
    doc = get_db().score_reports.find_one({"_id": object_id(report_id, "Report"), "aid": caller.aid}, projection)
    if doc is None:
        abort(404, "Report not found")
    return doc


# --- changing ---------------------------------------------------------------------------------

def _check_may_change(doc, caller):
    if not (caller.is_admin or doc.get("users_permissions_user") == caller.id):
        abort(403, "Forbidden: only the report's owner or an Account Admin may change it")


def _requeue_fields(now):
    """Back to the single lane under a new token: a result of the old features can no longer be written."""
    return {"lane": drains.SINGLE, "batch": batches.new_batch_id(), "status": QUEUED, "processed": False,
            "error": None, "updated_at": now}


def update_report(report_id, changes, caller):
    """Editable fields only (``changes`` as ScoreReportInputSchema(partial=True) loaded them); new
    ``features`` re-queue scoring."""
    doc = find_report(report_id, caller)
    _check_may_change(doc, caller)
    _check_type(changes)
    now = utcnow()
    update = {key: changes[key] for key in ("uuid", "referenceId", "type", "outcome") if key in changes}
    if "users_permissions_user" in changes:
        update["users_permissions_user"] = _Owners(caller).resolve(changes["users_permissions_user"])
    requeue = "features" in changes and (changes["features"] or {}) != doc.get("features")
    if requeue:
        update["features"] = changes["features"] or {}
        update.update(_requeue_fields(now))
    update.update(updated_at=now, updated_by=caller.id)
    try:
        updated = get_db().score_reports.find_one_and_update({"_id": doc["_id"], "aid": caller.aid},
                                                             {"$set": update},
                                                             return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        abort(409, "Another report of this account group already has this uuid")
    if updated is None:
        abort(404, "Report not found")
    if requeue:
        drains.request_drain(caller.aid)
    return updated


def rescore_report(report_id, caller):
    """Scores the report again with the group's current model."""
    doc = find_report(report_id, caller, {"users_permissions_user": 1})
    _check_may_change(doc, caller)
    updated = get_db().score_reports.find_one_and_update(
        {"_id": doc["_id"], "aid": caller.aid},
        {"$set": {**_requeue_fields(utcnow()), "updated_by": caller.id}},
        return_document=ReturnDocument.AFTER)
    if updated is None:
        abort(404, "Report not found")
    drains.request_drain(caller.aid)
    return updated


def delete_report(report_id, caller):
    doc = find_report(report_id, caller, {"users_permissions_user": 1})
    _check_may_change(doc, caller)
    deleted = get_db().score_reports.find_one_and_delete({"_id": doc["_id"], "aid": caller.aid})
    if deleted is None:
        abort(404, "Report not found")
    return deleted


def release_waiting_reports(aid):
    """Called when a model becomes active: the group's waiting reports go back to the queue, as one batch."""
    db = get_db()
    now = utcnow()
    batch_id = batches.new_batch_id()
    result = db.score_reports.update_many({"aid": aid, "status": WAITING_FOR_MODEL},
                                          {"$set": {"lane": drains.BATCH, "batch": batch_id, "status": QUEUED,
                                                    "updated_at": now}})
    if result.modified_count:
        batches.insert_batches([batches.batch_doc(batch_id, aid, result.modified_count, now)])
        batches.enqueue_batch(batch_id, aid)
    return result.modified_count


# --- waiting ----------------------------------------------------------------------------------

def wait_seconds(query_wait, prefer_header):
    """``?wait=N`` beyond MAX_WAIT_SECONDS is refused (400); ``Prefer: wait=N`` is a hint, so clamped."""
    limit = settings().MAX_WAIT_SECONDS
    if query_wait is not None:
        if query_wait > limit:
            abort(400, f"wait is at most {limit} seconds")
        return float(query_wait)
    for preference in (prefer_header or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return min(max(float(value.strip().strip('"')), 0.0), float(limit))
            except ValueError:
                return 0.0
    return 0.0


def wait_for_result(doc, seconds, caller):
    """The report once it is processed, failed or waiting for a model, or after ``seconds``.

    Woken by the job's publish on the channel of the report's ``batch`` value; the document is re-read at least
    every second regardless, so a lost message (or Redis down) only costs latency.
    """
    if seconds <= 0 or doc.get("status") in SETTLED:
        return doc
    deadline = time.monotonic() + seconds
    pubsub = None
    try:
        pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(batches.scored_channel(doc["batch"]))
    except redis.exceptions.RedisError:
        pubsub = None
    try:
        while True:
            current = get_db().score_reports.find_one({"_id": doc["_id"], "aid": caller.aid})
            if current is None or current.get("status") in SETTLED:
                return current or doc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return current
            if pubsub is not None:
                try:
                    pubsub.get_message(timeout=min(remaining, 1.0))
                    continue
                except redis.exceptions.RedisError:
                    pubsub = None
            time.sleep(min(remaining, 0.05))
    finally:
        if pubsub is not None:
            try:
                pubsub.close()
            except redis.exceptions.RedisError:
                pass
