"""The per-user credentials marker that lets every web process cache logins yet revoke them at once.

Each process keeps ``Authorization`` header -> user for ``AUTH_CACHE_SECONDS``
(``maiascore.auth.service``). A cached login is trusted only while the user's marker in Redis
still holds the value it held when the user document was read; the guard reads the marker in
the same round trip as the rate limit, so a cache hit costs no database read. Any change to a
user's credentials, role, block state or memberships sets a new random marker (random, not a
counter: a Redis that lost its data can never bring an old value back).

Order makes it safe: a change writes MongoDB first and the marker second, a login reads the
marker first and MongoDB second. If Redis refuses the new marker, processes may trust what they
cached for at most ``AUTH_CACHE_SECONDS`` more.
"""
import logging
import secrets

import redis.exceptions

from config import settings
from maiascore.connections import get_redis, redis_key

log = logging.getLogger("maiascore.auth")


def marker_key(user_id):
    return redis_key("credentials", user_id)


def read_marker(user_id):
    """The marker's value (None when unset); raises RedisError."""
    return get_redis().get(marker_key(user_id))


def credentials_changed(user_id):
    """Every process stops trusting its cached logins of the user at their next request."""
    # Kept well past any cache entry's life: an expired marker reads None again, and an entry cached
    # under None before the change must be gone by then.
    lifetime = max(3600, 10 * settings().AUTH_CACHE_SECONDS)
    try:
        get_redis().set(marker_key(user_id), secrets.token_hex(8), ex=lifetime)
    except redis.exceptions.RedisError as exc:
        log.warning("could not publish a credentials change of user %s (%s); cached logins may last %s s",
                    user_id, type(exc).__name__, settings().AUTH_CACHE_SECONDS)
