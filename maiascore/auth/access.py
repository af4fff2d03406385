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
from maiascore.accounts.permissions import permissions_of
from maiascore.accounts.service import membership
from maiascore.auth.service import too_many_unauthorized, user_from_authorization
from maiascore.connections import get_redis, redis_key
from maiascore.errors import Forbidden, Invalid, RateLimited
from maiascore.http.errors import abort

SECURITY = [{"bearerAuth": []}, {"basicAuth": []}]
STRAPI_NO_CREDENTIALS = "Forbidden: this operation requires authentication"


def _is_thousandeyes():
    """ThousandEyes families answer 401 to a request without credentials; Strapi routes answer 403."""
    return request.path.startswith(("/v6", "/v7"))


def _resolve_aid(user):
    raw = request.args.get("aid")
    if raw is not None and raw != "":
        try:
            aid = int(raw)
        except ValueError:
            raise Invalid("aid must be an integer account group id")
        if membership(user, aid) is None:
            raise Invalid(f"User is not assigned to account group {aid}")
        return aid
    if user.get("defaultAid") is not None and membership(user, user["defaultAid"]):
        return user["defaultAid"]
    if user.get("memberships"):
        return user["memberships"][0]["aid"]
    raise Forbidden("This user belongs to no account group")


def _count_request(aid):
    """Fixed one-minute window per account group, starting at its first request."""
    limit = settings().RATE_LIMIT_PER_MINUTE
    key = redis_key("ratelimit", aid)
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 60, nx=True)
        pipe.ttl(key)
        used, _, ttl = pipe.execute()
    except redis.exceptions.RedisError:
        return  # fail open: the limit protects us, losing it for seconds harms nobody
    ttl = ttl if ttl and ttl > 0 else 60
    g.rate_limit = (limit, max(limit - used, 0), int(time.time()) + ttl)
    if used > limit:
        raise RateLimited(f"Rate limit of {limit} requests a minute exceeded for account group {aid}",
                          retry_after=ttl)


def user_from_request(req):
    """The user the request's credentials name, ``None`` without credentials."""
    return user_from_authorization(req.headers.get("Authorization", ""), req.remote_addr)


def authorize(permissions):
    if too_many_unauthorized(request.remote_addr):
        raise RateLimited("Too many unauthorized requests from this address; retry in a minute", retry_after=60)
    user = user_from_request(request)
    if user is None:
        if _is_thousandeyes():
            # The one answer that needs a header a domain error does not carry.
            abort(401, "Authentication required: HTTP Basic email:token or a Bearer token",
                  headers={"WWW-Authenticate": 'Basic realm="maiascore"'})
        raise Forbidden(STRAPI_NO_CREDENTIALS)
    aid = _resolve_aid(user)
    g.user = user
    g.aid = aid
    g.role_id = membership(user, aid)["roleId"]
    g.permissions = permissions_of(g.role_id)
    _count_request(aid)
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
