"""Credentials: password logins, JWTs and API tokens, and who a set of credentials is.

JWTs are made and checked with PyJWT so this module runs without Flask (CLI, tests);
the claims are the ones flask-jwt-extended writes (``sub``, ``exp``, ``iat``, ``nbf``,
``jti``, ``type``, ``fresh``), signed HS256 with ``JWT_SECRET_KEY``, so tokens issued
before and after stay interchangeable.
"""
import base64
import hashlib
import secrets
import uuid
from datetime import timedelta

import jwt
import redis.exceptions
from bson import ObjectId
from bson.errors import InvalidId

from config import settings
from maiascore.accounts.permissions import ACCOUNT_ADMIN, REGULAR_USER, ROLE_IDS
from maiascore.accounts.service import (create_account_group, create_user, find_user, find_user_by_identifier,
                                        normalise_email)
from maiascore.auth.passwords import burn_verification_time, verify_password
from maiascore.clock import utcnow
from maiascore.connections import get_db, get_redis
from maiascore.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthenticated

TOKEN_PREFIX = "mst_"
JWT_ALGORITHM = "HS256"  # flask-jwt-extended's default, which the app never changed
BAD_CREDENTIALS = "Invalid, expired or revoked credentials"


def _bump(key, window=60):
    """Counts an event in a one-minute window; Redis trouble must not lock everybody out."""
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, window, nx=True)
        return pipe.execute()[0]
    except redis.exceptions.RedisError:
        return 0


def _count(key):
    try:
        return int(get_redis().get(key) or 0)
    except redis.exceptions.RedisError:
        return 0


def login(identifier, password, source_ip):
    limit = settings().LOGIN_FAILURES_PER_MINUTE
    keys = [f"login-fail:id:{normalise_email(identifier)}", f"login-fail:ip:{source_ip}"]
    if any(_count(key) >= limit for key in keys):
        raise RateLimited("Too many failed logins; try again in a minute", retry_after=60)
    user = find_user_by_identifier(identifier)
    if user is None:
        burn_verification_time(password)
    if user is None or not verify_password(user["password"], password):
        for key in keys:
            _bump(key)
        raise Invalid("Invalid identifier or password")
    if user.get("blocked"):
        raise Unauthenticated("This account is blocked")
    return user, issue_jwt(user)


def register(username, email, password, into_aid=None):
    """An admin adding someone (``into_aid``: their group) makes a Regular User there; otherwise open
    registration, when ``ALLOW_REGISTRATION`` is on, makes a new group the user administers."""
    if into_aid is not None:
        memberships = [{"aid": into_aid, "roleId": ROLE_IDS[REGULAR_USER]}]
    elif settings().ALLOW_REGISTRATION:
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
              "nbf": now, "exp": now + timedelta(seconds=cfg.JWT_EXPIRES_SECONDS)}
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
    return doc


def public_token(doc):
    return {"id": str(doc["_id"]), "name": doc["name"], "hint": "…" + doc["hint"],
            "created_at": doc["created_at"], "last_used_at": doc.get("last_used_at")}


def _user_for_api_token(secret):
    doc = get_db().api_tokens.find_one({"hash": _token_hash(secret)})
    if doc is None:
        return None
    return find_user(doc["user"])


def _user_for_jwt(token):
    """Checks signature, ``exp``, ``nbf`` and ``iat`` as flask-jwt-extended's ``decode_token`` does."""
    try:
        claims = jwt.decode(token, settings().JWT_SECRET_KEY, algorithms=[JWT_ALGORITHM],
                            options={"require": ["sub"]})
        return find_user(int(claims["sub"]))
    except (jwt.PyJWTError, TypeError, ValueError):
        return None


def user_from_authorization(header, source_ip):
    """The user an ``Authorization`` header names, ``None`` without one; Unauthenticated for bad ones
    (each counted against ``source_ip``)."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    user = None
    if scheme.lower() == "bearer" and value:
        user = _user_for_api_token(value) if value.startswith(TOKEN_PREFIX) else _user_for_jwt(value)
    elif scheme.lower() == "basic" and value:
        try:
            email, _, secret = base64.b64decode(value, validate=True).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            email, secret = "", ""
        candidate = _user_for_api_token(secret) if secret.startswith(TOKEN_PREFIX) else None
        if candidate and candidate["email"] == normalise_email(email):
            user = candidate
    if user is None:
        _bump(f"unauthorized:ip:{source_ip}")
        raise Unauthenticated(BAD_CREDENTIALS)
    if user.get("blocked"):
        raise Unauthenticated("This account is blocked")
    return user


def too_many_unauthorized(source_ip):
    return _count(f"unauthorized:ip:{source_ip}") >= settings().UNAUTHORIZED_PER_MINUTE
