"""Who may call what: authentication, account-group context, rate limit and permission.

Auth's HTTP-facing guard, applied to every protected view with ``@requires(...)``; the
same decorator documents the security schemes and the 401/403 answers in the OpenAPI
document. It reads the request and fills ``flask.g``; the decisions are the services'.
"""
import time
from copy import deepcopy
from functools import wraps

import redis.exceptions
from flask import g, request

from config import settings
from maiascore import throttle
from maiascore.accounts.permissions import permissions_of
from maiascore.accounts.revocation import marker_key
from maiascore.accounts.service import membership
from maiascore.auth.service import (TOO_MANY_UNAUTHORIZED, cached_login, fresh_login, forget_login,
                                    too_many_unauthorized, unauthorized_key)
from maiascore.connections import run_script
from maiascore.costs import rate_key
from maiascore.errors import Forbidden, Invalid, RateLimited
from maiascore.http.errors import abort
from maiascore.http.fields import query_integer

SECURITY = [{"bearerAuth": []}, {"basicAuth": []}]
STRAPI_NO_CREDENTIALS = "Forbidden: this operation requires authentication"


def _is_thousandeyes():
    """ThousandEyes families answer 401 to a request without credentials; Strapi routes answer 403."""
    return request.path.startswith(("/v6", "/v7"))


def _resolve_aid(user):
    raw = request.args.get("aid")
    if raw is not None and raw != "":
        try:
            aid = query_integer(raw)
        except ValueError:
            raise Invalid("aid must be an integer account group id in ASCII digits")
        if membership(user, aid) is None:
            raise Invalid(f"User is not assigned to account group {aid}")
        return aid
    if user.get("defaultAid") is not None and membership(user, user["defaultAid"]):
        return user["defaultAid"]
    if user.get("memberships"):
        return user["memberships"][0]["aid"]
    raise Forbidden("This user belongs to no account group")


# KEYS: the group's counter, then for a cached login its user's marker and its address's unauthorized count.
# ARGV: window seconds. Returns {used, ttl, marker, unauthorized}.
_COUNT = """
local used = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
if #KEYS == 1 then return {used, ttl} end
return {used, ttl, redis.call('GET', KEYS[2]), redis.call('GET', KEYS[3])}
"""


def _count_request(aid, login, source_ip):
    """Fixed one-minute window per account group, starting at its first request. In the same round
    trip, for a login from this process's cache: the user's credentials marker and the address's
    unauthorized count, which a fresh login checked before reading the database. Returns whether a
    cached login is still trusted."""
    limit = settings().RATE_LIMIT_PER_MINUTE
    keys = [rate_key(aid)]
    if login.cached:
        keys += [marker_key(login.user["_id"]), throttle.key(unauthorized_key(source_ip))]
    try:
        replies = run_script(_COUNT, keys, [60])
    except redis.exceptions.RedisError:
        return False  # fail open on the limit; but trust no cached login that Redis cannot confirm
    used, ttl, marker, unauthorized = (list(replies) + [None, None])[:4]
    trusted = True
    if login.cached:
        if int(unauthorized or 0) >= settings().UNAUTHORIZED_PER_MINUTE:
            raise RateLimited(TOO_MANY_UNAUTHORIZED, retry_after=60)
        trusted = marker == login.marker
    ttl = ttl if ttl and ttl > 0 else 60
    g.rate_limit = (limit, max(limit - used, 0), int(time.time()) + ttl)
    if used > limit:
        raise RateLimited(f"Rate limit of {limit} requests a minute exceeded for account group {aid}",
                          retry_after=ttl)
    return trusted


def _login(header, source_ip):
    """The caller's login: from this process's cache when it holds one, else from the database."""
    login = cached_login(header)
    if login is not None:
        return login
    if too_many_unauthorized(source_ip):
        raise RateLimited(TOO_MANY_UNAUTHORIZED, retry_after=60)
    return fresh_login(header, source_ip)


def _enter(login):
    g.user = login.user
    g.aid = _resolve_aid(login.user)
    g.role_id = membership(login.user, g.aid)["roleId"]
    g.permissions = permissions_of(g.role_id)


def authorize(permissions):
    header = request.headers.get("Authorization", "")
    login = _login(header, request.remote_addr)
    if login is None:
        if _is_thousandeyes():
            # The one answer that needs a header a domain error does not carry.
            abort(401, "Authentication required: HTTP Basic email:token or a Bearer token",
                  headers={"WWW-Authenticate": 'Basic realm="maiascore"'})
        raise Forbidden(STRAPI_NO_CREDENTIALS)
    _enter(login)
    if not _count_request(g.aid, login, request.remote_addr) and login.cached:
        # The user's credentials, role or groups changed since it was cached (or Redis could not say):
        # decide on the database's word. The request was counted against the group it named.
        forget_login(header)
        _enter(fresh_login(header, request.remote_addr))
    missing = [p for p in permissions if p not in g.permissions]
    if missing:
        raise Forbidden(f"Forbidden: this operation requires the permission {missing[0]!r}")


def can(permission):
    return permission in getattr(g, "permissions", ())


def requires(*permissions):
    """Authenticate, set the account-group context, count the request, check permissions."""

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            authorize(permissions)
            return func(*args, **kwargs)

        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = SECURITY
        responses = manual.setdefault("responses", {})
        responses.setdefault(401, {"description": "Invalid, expired or revoked credentials",
                                   "content": {"application/json": {"schema": "Error"}}})
        responses.setdefault(403, {"description": "Missing credentials (Strapi routes) or permission",
                                   "content": {"application/json": {"schema": "Error"}}})
        responses.setdefault(429, {"description": "Rate limit exceeded",
                                   "content": {"application/json": {"schema": "Error"}}})
        wrapper._apidoc = apidoc
        return wrapper

    return decorator


def rate_limit_headers(response):
    """After every request: the account group's rate-limit budget, once the request was counted."""
    limits = getattr(g, "rate_limit", None)
    if limits:
        limit, remaining, reset = limits
        response.headers["X-Organization-Rate-Limit-Limit"] = str(limit)
        response.headers["X-Organization-Rate-Limit-Remaining"] = str(remaining)
        response.headers["X-Organization-Rate-Limit-Reset"] = str(reset)
    return response
