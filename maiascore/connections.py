"""The process's MongoDB and Redis clients, created lazily and once per process.

Clients are keyed by pid because gunicorn and RQ fork: a pymongo client must never
cross a fork.
"""
import os
import threading
from datetime import datetime, timezone

import redis
from pymongo import MongoClient, ReturnDocument
from pymongo.errors import BulkWriteError

from config import settings

_lock = threading.Lock()
_mongo = {}
_redis = {}


def mongo_client(uri=None, timeout_ms=None):
    cfg = settings()
    uri = uri or cfg.MONGO_URI
    key = (os.getpid(), uri)
    client = _mongo.get(key)
    if client is None:
        with _lock:
            client = _mongo.get(key)
            if client is None:
                client = MongoClient(uri, tz_aware=True, connect=False,
                                     serverSelectionTimeoutMS=timeout_ms or cfg.MONGO_TIMEOUT_MS,
                                     connectTimeoutMS=timeout_ms or cfg.MONGO_TIMEOUT_MS)
                _mongo[key] = client
    return client


def get_db():
    cfg = settings()
    return mongo_client(cfg.MONGO_URI)[cfg.MONGO_DB_NAME]


def get_redis():
    url = settings().REDIS_URL
    key = (os.getpid(), url)
    conn = _redis.get(key)
    if conn is None:
        conn = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5,
                                    health_check_interval=15)
        _redis[key] = conn
    return conn


def find_in_group(collection, doc_id, aid, projection=None):
    """The document ``doc_id`` if it belongs to account group ``aid``, else None; ``projection``: the
    fields to include (``aid`` comes too: the comparison needs it).

    Read by ``_id`` alone and the group compared here: a point lookup on every engine
    (the embedded server would plan ``{_id, aid}`` as an index scan).
    """
    doc = collection.find_one({"_id": doc_id}, None if projection is None else {**projection, "aid": 1})
    return doc if doc is not None and doc.get("aid") == aid else None


DUPLICATE_KEY = 11000


def insert_new(collection, docs):
    """``insert_many`` of documents some of which may be stored already (same ``_id`` or another unique
    key): the positions of those refused as duplicates. Any other error is raised."""
    if not docs:
        return set()
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors) or exc.details.get("writeConcernErrors"):
            raise
        return {e["index"] for e in errors}
    return set()


_scripts = {}


def run_script(source, keys, args):
    """A Lua script on this process's Redis: one EVALSHA, the script hashed and loaded once per client."""
    client = get_redis()
    key = (id(client), source)
    script = _scripts.get(key)
    if script is None:
        script = _scripts[key] = client.register_script(source)
    return script(keys=keys, args=list(args))


def redis_key(*parts):
    """A Redis key (or channel) of this deployment: ``REDIS_PREFIX:part:part``."""
    return ":".join((settings().REDIS_PREFIX, *map(str, parts)))


def next_sequence(name, db=None):
    """Monotonic integers (user ids, account group ids, model versions) shared by all processes."""
    db = db if db is not None else get_db()
    doc = db.counters.find_one_and_update({"_id": name}, {"$inc": {"value": 1}}, upsert=True,
                                          return_document=ReturnDocument.AFTER)
    return doc["value"]


def utcnow():
    return datetime.now(timezone.utc)
