"""Score reports: create (one or in bulk), read, edit, delete and rescore.

Writes go to MongoDB first and to the queue second: a report the API accepted is
never lost, whatever happens to Redis or a worker afterwards. The one exception keeps the
promise: a POST that waits for its score hands its report to the drain, which stores it
with its result, and answers only once the report is stored, by the drain or, after
WAIT_HANDOFF_SECONDS, by itself (``hand_off_report``, ``waiting.create_and_wait``). A report queued on its own
(single POST, new features, rescore) goes to its group's drain (``single_lane``); the
reports of a bulk POST go in batches (``batch_lane``). The stored shape is ``documents``;
waiting for a score is ``waiting``; how a report is shown is ``schemas.ScoreReportSchema``.
"""
from dataclasses import dataclass

import marshmallow as ma
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from config import settings
from maiascore.accounts.permissions import MANAGE_USERS
from maiascore.accounts.service import normalise_email
from maiascore.clock import stored_now, utcnow
from maiascore.connections import find_in_group, get_db, insert_new
from maiascore.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, Unprocessable
from maiascore.monitoring import outcomes
from maiascore.reports import batch_lane
from maiascore.reports.documents import BATCH, HIDDEN, SINGLE, new_token, queued_report, requeue_fields
from maiascore.reports.schemas import REPORT_TYPES, BulkResult, ScoreReportInputSchema
from maiascore.reports.single_lane import request_drain

USER_PLACEHOLDER = "string"  # what clients generated from the example body send for the owner
VALIDATION_FAILED = "Request validation failed"
BEING_DELETED = "A report with this uuid was being deleted; retry"

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


# --- owners -----------------------------------------------------------------------------------

def with_owners(docs, caller):
    """Sets each report's ``owner`` (its expanded ``users_permissions_user``: the stored user and the
    caller's ``aid``, which ScoreReportSchema shows through PublicUserSchema) with one ``find`` for all
    the owners of a page, not one per report."""
    owner_ids = {d.get("users_permissions_user") for d in docs} - {None}
    users = {}
    if caller.id in owner_ids:
        users[caller.id] = caller.user
        owner_ids.discard(caller.id)
    if owner_ids:
        users.update({u["_id"]: u for u in get_db().users.find({"_id": {"$in": list(owner_ids)}})})
    shown = {}
    for doc in docs:
        owner_id = doc.get("users_permissions_user")
        if owner_id not in shown:
            shown[owner_id] = dict(users[owner_id], aid=caller.aid) if owner_id in users else None
        doc["owner"] = shown[owner_id]
    return docs


def with_owner(doc, caller):
    return with_owners([doc], caller)[0]


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
            raise Forbidden("Forbidden: only users with 'Manage Users' may create or move a report for another user")
        if isinstance(value, int):
            query = {"_id": value}
        else:
            query = {"$or": [{"username": value}, {"email": normalise_email(value)}]}
        found = get_db().users.find_one({**query, "memberships.aid": self.caller.aid}, {"_id": 1})
        if found is not None:
            return found["_id"]
        if value == USER_PLACEHOLDER:
            return user["_id"]
        raise Unprocessable(VALIDATION_FAILED,
                            errors={"users_permissions_user": [f"No user {value!r} in this account group."]})


def _check_type(data):
    if "type" in data and data["type"] not in REPORT_TYPES:
        raise Invalid(f"Unknown report type {data['type']!r}; known types: {', '.join(REPORT_TYPES)}")


def _new_doc(data, caller, owners, lane, token, now):
    _check_type(data)
    return queued_report(caller.aid, data, owners.resolve(data.get("users_permissions_user")), caller.id, lane,
                         token, now)


def load_input(body):
    if not isinstance(body, dict):
        raise Unprocessable(VALIDATION_FAILED, errors={"_schema": ["A report must be an object."]})
    try:
        return _input_schema.load(body)
    except ma.ValidationError as exc:
        raise Unprocessable(VALIDATION_FAILED, errors=exc.messages)


def new_report(body, caller, batch_id=None):
    """A validated report document, not stored yet; ``batch_id``: the token a waiter already listens on."""
    data = load_input(body)
    return _new_doc(data, caller, _Owners(caller), SINGLE, batch_id or new_token(), stored_now())


def store_report(doc, caller):
    """Stores a report of ``new_report`` and queues it: ``(doc, created)``. A known ``uuid`` returns the
    stored report; so does the report's own ``_id`` when its scoring drain stored it first."""
    try:
        get_db().score_reports.insert_one(doc)
    except DuplicateKeyError:
        return stored_instead(doc, caller), False
    request_drain(caller.aid)
    return doc, True


def stored_instead(doc, caller):
    """The report stored already under ``doc``'s ``_id`` or ``uuid``: what an insert that was a duplicate
    answers."""
    db = get_db()
    existing = (find_in_group(db.score_reports, doc["_id"], caller.aid)
                or db.score_reports.find_one({"aid": caller.aid, "uuid": doc["uuid"]}))
    if existing is None:  # deleted in between: the client may simply retry
        raise Conflict(BEING_DELETED)
    return existing


def create_report(body, caller):
    """Stores one report and queues it; ``(doc, created)``. A known ``uuid`` returns the stored report."""
    return store_report(new_report(body, caller), caller)


def hand_off_report(doc, caller):
    """Gives a report that a request waits on to its group's drain, which stores it with its result
    (``single_lane``). False when Redis refused: the caller stores it."""
    return request_drain(caller.aid, handoff=doc)


def _item_error(index, error):
    """A refused item's place in the bulk answer; ``ScoreReportBulkItemSchema`` shows the error."""
    return {"index": index, "error": error}


def create_reports(items, caller):
    """Bulk create, one batch (and job) per SCORING_BATCH_SIZE reports, stored and queued batch by batch.

    Each batch's document is written before its reports and its job enqueued right after them, so a
    request that dies half-way leaves every stored report in a queued batch the sweep re-enqueues
    within SWEEP_GRACE_SECONDS, never an orphan. Invalid items get an error at their index while the
    valid ones are kept; an item whose ``uuid`` is already known (stored, or earlier in the same
    request) gets the known id and stores nothing, so a retried bulk stores nothing twice (the
    unique ``(aid, uuid)`` index refuses it; only then are the stored ids looked up).
    """
    cfg = settings()
    if not items:
        raise Invalid("A bulk request needs at least one report")
    if len(items) > cfg.BULK_MAX_ITEMS:
        raise TooLarge(f"At most {cfg.BULK_MAX_ITEMS} reports per request; split the list")
    now = stored_now()
    owners = _Owners(caller)
    results = [None] * len(items)
    docs, doc_index, first_by_uuid, repeats = [], [], {}, []
    for index, item in enumerate(items):
        try:
            doc = _new_doc(load_input(item), caller, owners, BATCH, None, now)
        except DomainError as error:
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
    refused = []  # uuids already stored: answered with the stored report's id, not stored again
    for start in range(0, len(docs), size):
        refused += _store_batch(docs[start:start + size], caller.aid, now)
    known = _stored_ids(caller.aid, refused)
    for position, doc in enumerate(docs):
        index = doc_index[position]
        uuid = doc["uuid"]
        if uuid is not None and uuid in known:
            first_by_uuid[uuid] = known[uuid]
            results[index] = ({"index": index, "id": str(known[uuid])} if known[uuid] else
                              _item_error(index, Conflict(BEING_DELETED)))
        else:
            results[index] = {"index": index, "id": str(doc["_id"])}
    for index, uuid in repeats:
        stored_id = first_by_uuid.get(uuid)
        results[index] = {"index": index, "id": str(stored_id)} if stored_id else _item_error(
            index, Conflict(BEING_DELETED))
    return BulkResult(results)


FEW_UUIDS = 100


def _stored_ids(aid, uuids):
    """``{uuid: stored report id or None (deleted meanwhile)}``. Many uuids (a retried bulk) are
    matched in one pass over the group's reports that have one: SecantusDB answers ``$in`` with a
    collection scan per query whose cost grows with the list, MongoDB with the partial index."""
    if not uuids:
        return {}
    wanted = set(uuids)
    query = {"aid": aid, "uuid": {"$in": uuids} if len(wanted) <= FEW_UUIDS else {"$type": "string"}}
    found = {d["uuid"]: d["_id"] for d in get_db().score_reports.find(query, {"uuid": 1}) if d["uuid"] in wanted}
    return {uuid: found.get(uuid) for uuid in wanted}


def _store_batch(docs, aid, now):
    """Stores one batch: its document first, then its reports, then its job. Returns the uuids refused
    as already stored (their reports are not stored again)."""
    batch_id = new_token()
    for doc in docs:
        doc["batch"] = batch_id
    batch_lane.insert_batches([batch_lane.batch_doc(batch_id, aid, len(docs), now)])
    refused = [docs[p]["uuid"] for p in insert_new(get_db().score_reports, docs)]
    if refused:
        batch_lane.shrink_batch(batch_id, len(refused))
    if len(refused) < len(docs):
        batch_lane.enqueue_batch(batch_id, aid)
    return refused


# --- reading ----------------------------------------------------------------------------------

def _scoped(list_query, caller):
    """The list's filter, confined to the caller's account group whatever the route parsed."""
    return {**list_query.filter, "aid": caller.aid}


def list_reports(list_query, caller):
    """A page of the group's reports (``list_query``: a ``maiascore.http.strapi.ListQuery``), owners set."""
    sort = list(list_query.sort)
    if not any(key == "_id" for key, _ in sort):
        sort.append(("_id", sort[0][1] if sort else -1))
    docs = list(get_db().score_reports.find(_scoped(list_query, caller), HIDDEN)
                .sort(sort).skip(list_query.skip).limit(list_query.limit))
    return with_owners(docs, caller)


def count_reports(list_query, caller):
    return get_db().score_reports.count_documents(_scoped(list_query, caller))


def _report_id(raw):
    """A malformed id is simply not found (ids leak nothing)."""
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        raise NotFound("Report not found")


def find_report(report_id, caller, projection=None):
    doc = find_in_group(get_db().score_reports, _report_id(report_id), caller.aid, projection)
    if doc is None:
        raise NotFound("Report not found")
    return doc


# --- changing ---------------------------------------------------------------------------------

def _check_may_change(doc, caller):
    if not (caller.is_admin or doc.get("users_permissions_user") == caller.id):
        raise Forbidden("Forbidden: only the report's owner or an Account Admin may change it")


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
        update.update(requeue_fields(now))
    update.update(updated_at=now, updated_by=caller.id)
    counted = outcomes.counted_change(doc, update, requeue)  # monitoring: a scored report's outcome changes
    try:
        updated = counted and counted.write(get_db().score_reports, {"_id": doc["_id"], "aid": caller.aid}, update)
        updated = updated or get_db().score_reports.find_one_and_update({"_id": doc["_id"], "aid": caller.aid},
                                                                        {"$set": update},
                                                                        return_document=ReturnDocument.AFTER)
    except DuplicateKeyError:
        raise Conflict("Another report of this account group already has this uuid")
    if updated is None:
        raise NotFound("Report not found")
    if requeue:
        request_drain(caller.aid)
    return updated


def rescore_report(report_id, caller):
    """Scores the report again with the group's current model."""
    doc = find_report(report_id, caller, {"users_permissions_user": 1})
    _check_may_change(doc, caller)
    updated = get_db().score_reports.find_one_and_update(
        {"_id": doc["_id"], "aid": caller.aid},
        {"$set": {**requeue_fields(utcnow()), "updated_by": caller.id}},
        return_document=ReturnDocument.AFTER)
    if updated is None:
        raise NotFound("Report not found")
    request_drain(caller.aid)
    return updated


def delete_report(report_id, caller):
    doc = find_report(report_id, caller, {"users_permissions_user": 1})
    _check_may_change(doc, caller)
    deleted = get_db().score_reports.find_one_and_delete({"_id": doc["_id"], "aid": caller.aid})
    if deleted is None:
        raise NotFound("Report not found")
    return deleted
