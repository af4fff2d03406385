"""Fixed-window counters in Redis for the throttles of authentication and user management.

Redis trouble fails open (counts read as 0): a throttle protects the service, and losing it
for a few seconds harms nobody, while failing closed would lock every user out.
"""
import redis.exceptions

from maiascore.connections import get_redis, redis_key


def key(name):
    """The Redis key of a throttle counter."""
    return redis_key("throttle", name)


def bump(name, window=60):
    """Counts one event in the window that starts at the name's first event; returns the count."""
    counter = key(name)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(counter)
        pipe.expire(counter, window, nx=True)
        return pipe.execute()[0]
    except redis.exceptions.RedisError:
        return 0


def count(name):
    try:
        return int(get_redis().get(key(name)) or 0)
    except redis.exceptions.RedisError:
        return 0


def once(name, window):
    """True the first time ``name`` is claimed within ``window`` seconds; Redis trouble says True."""
    try:
        return bool(get_redis().set(key(name), 1, nx=True, ex=window))
    except redis.exceptions.RedisError:
        return True
