"""Credentials: password logins, JWTs and API tokens, and who a set of credentials is.

JWTs are made and checked with PyJWT so this module runs without Flask (CLI, tests);
the claims are the ones flask-jwt-extended writes (``sub``, ``exp``, ``iat``, ``nbf``,
``jti``, ``type``, ``fresh``), signed HS256 with ``JWT_SECRET_KEY``, so tokens issued
before and after stay interchangeable. One claim is ours: ``epoch``, the user's
``credentialEpoch`` when the token was issued. A new password, a block or leaving a group
bumps the epoch, and every request compares the claim with the user document it loads
anyway, so revocation is immediate in every process at no extra round trip (a token without
the claim counts as epoch 0: tokens from before the switch keep working until a change).

Each web process caches header -> user for ``AUTH_CACHE_SECONDS`` (``fresh_login``,
``cached_login``), so a request with known credentials reads no database; revocation stays
immediate through the per-user marker of ``maiascore.accounts.revocation``, which the guard compares
in the round trip it makes to Redis anyway for the rate limit.
"""
import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import jwt
import redis.exceptions
from bson import ObjectId
from bson.errors import InvalidId

from config import settings
from maiascore.accounts.passwords import burn_verification_time, verify_password
from maiascore.accounts.permissions import ACCOUNT_ADMIN, REGULAR_USER, ROLE_IDS
from maiascore.accounts.revocation import credentials_changed, read_marker
from maiascore.accounts.service import (admit_user_creation, create_account_group, create_user, find_user,
                                        USED_IDENTIFIER, find_user_by_identifier, normalise_email)
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated
from maiascore.throttle import bump as _bump, count as _count

TOKEN_PREFIX = "mst_"
JWT_ALGORITHM = "HS256"  # flask-jwt-extended's default, which the app never changed
BAD_CREDENTIALS = "Invalid, expired or revoked credentials"
TOO_MANY_UNAUTHORIZED = "Too many unauthorized requests from this address; retry in a minute"
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often per token
LOGIN_CACHE_ENTRIES = 10000  # per process; past it the oldest login is dropped


def admit_credential_attempt(source_ip):
    """Every password login, forgot- and reset-password request counts against its address, valid or
    not: each costs an Argon2 hash or a mail, so a flood of valid logins must not starve the service."""
    limit = settings().LOGINS_PER_MINUTE_PER_ADDRESS
    if _bump(f"auth-attempts:ip:{source_ip}") > limit:
        raise RateLimited(f"More than {limit} login attempts a minute from this address; try again in a minute",
                          retry_after=60)


def _failure_limits(identifier, source_ip):
    """Failed-login counters and their ceilings. An (identifier, address) pair and an address are
    stopped after ``LOGIN_FAILURES_PER_MINUTE``; an identifier alone only after the much higher
    ``LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER``, so one address guessing a known login cannot lock
    its owner out everywhere else."""
    cfg = settings()
    identifier = normalise_email(identifier)
    return [(f"login-fail:pair:{identifier}|{source_ip}", cfg.LOGIN_FAILURES_PER_MINUTE,
             "Too many failed logins for this identifier from this address"),
            (f"login-fail:ip:{source_ip}", cfg.LOGIN_FAILURES_PER_MINUTE, "Too many failed logins from this address"),
            (f"login-fail:id:{identifier}", cfg.LOGIN_FAILURES_PER_MINUTE_PER_IDENTIFIER,
             "Too many failed logins for this identifier")]


def login(identifier, password, source_ip):
    admit_credential_attempt(source_ip)
    limits = _failure_limits(identifier, source_ip)
    for key, limit, message in limits:
        if _count(key) >= limit:
            raise RateLimited(f"{message}; try again in a minute", retry_after=60)
    user = find_user_by_identifier(identifier)
    if user is None:
        burn_verification_time(password)
    if user is None or not verify_password(user["password"], password):
        for key, _, _ in limits:
            _bump(key)
        raise Invalid("Invalid identifier or password")
    if user.get("blocked"):
        raise Unauthenticated("This account is blocked")
    return user, issue_jwt(user)


def register(username, email, password, into_aid=None, source_ip=None):
    """An admin adding someone (``into_aid``: their group) makes a Regular User there; otherwise open
    registration, when ``ALLOW_REGISTRATION`` is on, makes a new group the user administers.
    Attempts count against the group's (open registration: the address's) creation budget."""
    if into_aid is not None:
        admit_user_creation(f"aid:{into_aid}")
        memberships = [{"aid": into_aid, "roleId": ROLE_IDS[REGULAR_USER]}]
    elif settings().ALLOW_REGISTRATION:
        admit_user_creation(f"ip:{source_ip}")
        if find_user_by_identifier(email) or find_user_by_identifier(username):
            raise Conflict(USED_IDENTIFIER)  # before making a group nobody would ever use
        group = create_account_group(f"{username}'s group")
        memberships = [{"aid": group["_id"], "roleId": ROLE_IDS[ACCOUNT_ADMIN]}]
    else:
        raise Forbidden("Registration is closed; ask an account admin to add you")
    return create_user(username, email, password, memberships)


def issue_jwt(user):
    """An access token for ``user``, valid ``JWT_EXPIRES_SECONDS``."""
    cfg = settings()
    now = utcnow()
    claims = {"fresh": False, "iat": now, "jti": str(uuid.uuid4()), "type": "access", "sub": str(user["_id"]),
              "nbf": now, "exp": now + timedelta(seconds=cfg.JWT_EXPIRES_SECONDS),
              "epoch": int(user.get("credentialEpoch", 0))}
    return jwt.encode(claims, cfg.JWT_SECRET_KEY, algorithm=JWT_ALGORITHM)


def _token_hash(secret):
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_api_token(user, name):
    """The secret is shown once; only its SHA-256 is stored (it has 256 bits of entropy)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    doc = {
        "_id": ObjectId(),
        "user": user["_id"],
        "name": name or "token",
        "hash": _token_hash(secret),
        "hint": secret[-4:],
        "created_at": utcnow(),
        "last_used_at": None,
    }
    get_db().api_tokens.insert_one(doc)
    return doc, secret


def list_api_tokens(user):
    return list(get_db().api_tokens.find({"user": user["_id"]}).sort("created_at", 1))


def revoke_api_token(user, token_id):
    try:
        oid = ObjectId(token_id)
    except (InvalidId, TypeError):
        raise NotFound("Token not found")
    doc = get_db().api_tokens.find_one_and_delete({"_id": oid, "user": user["_id"]})
    if doc is None:
        raise NotFound("Token not found")
    credentials_changed(user["_id"])  # processes that cached this token drop it at its next use
    return doc


def _note_token_use(doc):
    """Writes ``last_used_at`` at most once per ``TOKEN_USE_RESOLUTION`` per token: the document was
    read anyway, so a recent stamp costs nothing, and the filter keeps processes from racing."""
    now = utcnow()
    last = doc.get("last_used_at")
    cutoff = now - TOKEN_USE_RESOLUTION
    if last is not None and last > cutoff:
        return
    get_db().api_tokens.update_one({"_id": doc["_id"], "$or": [{"last_used_at": None},
                                                                {"last_used_at": {"$lte": cutoff}}]},
                                   {"$set": {"last_used_at": now}})


def _user_for_api_token(secret):
    doc = get_db().api_tokens.find_one({"hash": _token_hash(secret)})
    if doc is None:
        return None
    user = find_user(doc["user"])
    if user is not None:
        _note_token_use(doc)
    return user


def _jwt_claims(token):
    """Checks signature, ``exp``, ``nbf`` and ``iat`` as flask-jwt-extended's ``decode_token`` does."""
    try:
        claims = jwt.decode(token, settings().JWT_SECRET_KEY, algorithms=[JWT_ALGORITHM],
                            options={"require": ["sub"]})
        return claims, int(claims["sub"])
    except (jwt.PyJWTError, TypeError, ValueError):
        return None, None


def _user_for_jwt(token):
    """``(user, exp)``; ``(None, None)`` for a bad token or one issued before a credentials change."""
    claims, user_id = _jwt_claims(token)
    if claims is None:
        return None, None
    user = find_user(user_id)
    epoch = claims.get("epoch", 0)
    if user is None or isinstance(epoch, bool) or epoch != user.get("credentialEpoch", 0):
        return None, None  # the password changed, the user was blocked or left a group since: log in again
    return user, claims.get("exp")


def _parse_authorization(header):
    """``(kind, secret, email)``: kind is "jwt", "token" or None (unusable)."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return ("token", value, None) if value.startswith(TOKEN_PREFIX) else ("jwt", value, None)
    if scheme.lower() == "basic" and value:
        try:
            email, _, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None, None
        if secret.startswith(TOKEN_PREFIX):
            return "token", secret, normalise_email(email)
    return None, None, None


def _authenticate(header):
    """``(user, not_after)``: the user the header names and when its credential expires (epoch
    seconds, None for API tokens); ``(None, None)`` when it names nobody."""
    kind, secret, email = _parse_authorization(header)
    if kind == "jwt":
        return _user_for_jwt(secret)
    if kind == "token":
        user = _user_for_api_token(secret)
        if user is not None and (email is None or user["email"] == email):
            return user, None
    return None, None


def _checked(user, source_ip):
    if user is None:
        _bump(unauthorized_key(source_ip))
        raise Unauthenticated(BAD_CREDENTIALS)
    if user.get("blocked"):
        raise Unauthenticated("This account is blocked")
    return user


def user_from_authorization(header, source_ip):
    """The user an ``Authorization`` header names, ``None`` without one; Unauthenticated for bad ones
    (each counted against ``source_ip``)."""
    if not header:
        return None
    return _checked(_authenticate(header)[0], source_ip)


# --- the per-process login cache ------------------------------------------------------------------

@dataclass(frozen=True)
class Login:
    """An authenticated user; ``cached`` logins are trusted only while the user's credentials marker
    (``maiascore.accounts.revocation``) still equals ``marker``."""

    user: dict
    marker: Optional[bytes]
    cached: bool


_logins = {}  # (database, Authorization header) -> (user, marker, loaded at (monotonic), not_after)


def cached_login(header):
    """The login this process cached for ``header`` within ``AUTH_CACHE_SECONDS``, else None."""
    cfg = settings()
    if not header or cfg.AUTH_CACHE_SECONDS <= 0:
        return None
    key = (cfg.MONGO_DB_NAME, header)
    entry = _logins.get(key)
    if entry is None:
        return None
    user, marker, loaded_at, not_after = entry
    if time.monotonic() - loaded_at >= cfg.AUTH_CACHE_SECONDS or (not_after is not None and time.time() >= not_after):
        _logins.pop(key, None)
        return None
    return Login(dict(user), marker, True)


def forget_login(header):
    _logins.pop((settings().MONGO_DB_NAME, header), None)


def _claimed_user_id(header):
    """Whom the header claims to be, before the user document is read (None: nobody)."""
    kind, secret, _ = _parse_authorization(header)
    if kind == "jwt":
        return _jwt_claims(secret)[1]
    if kind == "token":
        doc = get_db().api_tokens.find_one({"hash": _token_hash(secret)}, {"user": 1})
        return doc["user"] if doc else None
    return None


def fresh_login(header, source_ip):
    """Authenticates from the database and caches the result; None without credentials.

    The marker is read before the documents that decide (token, user): a change landing in between
    leaves a cached marker that no longer matches, never a stale login under a current marker."""
    if not header:
        return None
    cfg = settings()
    marker, cacheable = None, False
    if cfg.AUTH_CACHE_SECONDS > 0:
        user_id = _claimed_user_id(header)
        if user_id is not None:
            try:
                marker, cacheable = read_marker(user_id), True
            except redis.exceptions.RedisError:
                pass  # unknown marker: serve from the database, cache nothing
    user, not_after = _authenticate(header)
    user = _checked(user, source_ip)
    if cacheable:
        if len(_logins) >= LOGIN_CACHE_ENTRIES:
            _logins.pop(next(iter(_logins), None), None)  # the oldest entry
        _logins[(cfg.MONGO_DB_NAME, header)] = (user, marker, time.monotonic(), not_after)
    return Login(dict(user), marker, False)


def unauthorized_key(source_ip):
    return f"unauthorized:ip:{source_ip}"


def too_many_unauthorized(source_ip):
    return _count(unauthorized_key(source_ip)) >= settings().UNAUTHORIZED_PER_MINUTE
