"""Widget data kept a few seconds (``WIDGET_CACHE_SECONDS``) per widget definition, window and bin, so a
dashboard that many viewers (or one loop) refresh costs one aggregation per widget and window."""
import hashlib
import json

import bson
import redis.exceptions
from bson.errors import BSONError

from config import settings
from maiascore.connections import get_redis, redis_key


def _key(aid, widget, window):
    digest = hashlib.sha256(json.dumps([widget, window], sort_keys=True, default=str).encode()).hexdigest()
    return redis_key("widgetdata", aid, digest[:32])


def cached(aid, widget, window, compute):
    """``compute()``, or what it gave for the same widget and window within WIDGET_CACHE_SECONDS."""
    seconds = settings().WIDGET_CACHE_SECONDS
    if seconds <= 0:
        return compute()
    key = _key(aid, widget, window)
    try:
        raw = get_redis().get(key)
    except redis.exceptions.RedisError:
        raw = None
    if raw is not None:
        return bson.decode(raw)["v"]
    value = compute()
    try:
        get_redis().set(key, bson.encode({"v": value}), ex=seconds)
    except (redis.exceptions.RedisError, BSONError):
        pass  # uncached: computed again next time
    return value
