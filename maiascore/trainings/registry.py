"""The model registry: each succeeded training's model, and which one scores for its group.

Binaries live in the GridFS bucket ``models`` in XGBoost's own format (UBJSON, as
``Booster.save_raw("ubj")`` writes it); ``binaryPath`` names them as
``gridfs://models/<file id>``. At most one model per training (unique index on
``(aid, training)``), so a training job run twice still yields one model.
"""
import logging
import secrets
import time

import redis.exceptions
from gridfs import GridFSBucket
from gridfs.errors import NoFile
from pymongo.errors import DuplicateKeyError

from maiascore.clock import stored_now
from maiascore.connections import get_db, get_redis, next_sequence, redis_key
from maiascore.events import MODEL_ACTIVATED

log = logging.getLogger("maiascore.registry")
BUCKET = "models"
ACTIVE_CACHE_SECONDS = 5.0  # how long an activation whose Redis mark could not be moved may go unseen
_MARK_TTL = 86400
_active = {}  # aid -> (activation mark, monotonic read time, models doc): active_model for the scoring jobs


def _bucket():
    return GridFSBucket(get_db(), BUCKET)


def active_model(aid):
    """The models doc that scores the group's references, or None before its first success."""
    return get_db().models.find_one({"aid": aid, "active": True}, sort=[("activated_at", -1), ("_id", -1)])


def _mark_key(aid):
    return redis_key("active-model", aid)


def active_model_for_scoring(aid):
    """``active_model`` for the scoring jobs, which look it up before every read of reports: read from
    MongoDB again only when the group's activation mark in Redis moved (``activate`` moves it) or the
    cached read is ACTIVE_CACHE_SECONDS old, so an activation is used from the next read on."""
    key = _mark_key(aid)
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(key, secrets.token_hex(8), nx=True, ex=_MARK_TTL)
        pipe.get(key)
        mark = pipe.execute()[1]
    except redis.exceptions.RedisError:
        return active_model(aid)
    cached = _active.get(aid)
    if cached is not None and cached[0] == mark and time.monotonic() - cached[1] < ACTIVE_CACHE_SECONDS:
        return cached[2]
    doc = active_model(aid)
    if doc is None:
        _active.pop(aid, None)  # nothing cached: a first model is seen at once however it was registered
    else:
        _active[aid] = (mark, time.monotonic(), doc)
    return doc


def _move_mark(aid):
    try:
        get_redis().set(_mark_key(aid), secrets.token_hex(8), ex=_MARK_TTL)
    except redis.exceptions.RedisError:
        log.warning("could not mark the activation for group %s: scoring sees it within %s s", aid,
                    ACTIVE_CACHE_SECONDS)


def open_model_binary(model_doc):
    """The model's binary as a GridFS file: its ``length`` is known before it is read."""
    return _bucket().open_download_stream(model_doc["gridfs_id"])


def load_model_bytes(model_doc):
    return open_model_binary(model_doc).read()


def model_for_training(aid, training_id):
    return get_db().models.find_one({"aid": aid, "training": str(training_id)})


def list_models(aid, skip=0, limit=100):
    return list(get_db().models.find({"aid": aid}, {"schema": 0}).sort([("created_at", -1), ("_id", -1)])
                .skip(skip).limit(limit))


def new_version(aid):
    return str(next_sequence(f"model_version:{aid}"))


def store_model(aid, training_id, version, booster_bytes, schema, metrics):
    """Registers a trained model once; a second call for the same training returns the first."""
    existing = model_for_training(aid, training_id)
    if existing is not None:
        return existing
    bucket = _bucket()
    gridfs_id = bucket.upload_from_stream(
        f"model-{aid}-v{version}.ubj", booster_bytes,
        metadata={"aid": aid, "training": str(training_id), "version": version, "format": "xgboost-ubj"})
    doc = {
        "aid": aid,
        "version": version,
        "training": str(training_id),
        "active": False,
        "schema": schema,
        "metrics": metrics,
        "gridfs_id": gridfs_id,
        "binaryPath": f"gridfs://{BUCKET}/{gridfs_id}",
        "created_at": stored_now(),
        "activated_at": None,
    }
    try:
        get_db().models.insert_one(doc)
    except DuplicateKeyError:
        bucket.delete(gridfs_id)
        return model_for_training(aid, training_id)
    return doc


def discard_model(model_doc):
    """Drops a model whose training was canceled while it was being stored."""
    get_db().models.delete_one({"_id": model_doc["_id"], "active": False})
    try:
        _bucket().delete(model_doc["gridfs_id"])
    except NoFile:
        pass


def is_better(aid, metrics, mode):
    """``activate`` of the training's meta: always, never, or if its held-out AUC beats the active model's.

    With no active model, anything but ``never`` activates: a group's first success scores at once.
    """
    if mode == "never":
        return False
    current = active_model(aid)
    if mode == "always" or current is None:
        return True
    new_auc, old_auc = metrics.get("auc"), (current.get("metrics") or {}).get("auc")
    if new_auc is None:
        return False
    return old_auc is None or new_auc > old_auc


def activate(aid, training_id):
    """Makes the training's model the active one; returns the models doc, or None if there is none.

    The new model is flagged first, then every model activated before it is unflagged,
    so there is never a moment without an active model, and of two concurrent
    activations the later one wins on every path.
    """
    db = get_db()
    model = model_for_training(aid, training_id)
    if model is None:
        return None
    now = stored_now()
    db.models.update_one({"_id": model["_id"]}, {"$set": {"active": True, "activated_at": now}})
    db.models.update_many({"aid": aid, "active": True, "_id": {"$ne": model["_id"]},
                           "$or": [{"activated_at": {"$lt": now}}, {"activated_at": None},
                                   {"activated_at": now, "_id": {"$lt": model["_id"]}}]},
                          {"$set": {"active": False}})
    model.update(active=True, activated_at=now)
    _move_mark(aid)
    try:
        MODEL_ACTIVATED.send(aid=aid, version=model["version"])
    except Exception:  # the handlers' own sweeps catch up later; activation itself has happened
        log.exception("a handler of the activation of model %s of group %s failed", model["version"], aid)
    return model
