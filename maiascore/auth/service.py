"""Credentials: password logins, JWTs and API tokens, and who a request is."""
import base64
import hashlib
import secrets

from bson import ObjectId
from bson.errors import InvalidId
from flask_jwt_extended import create_access_token, decode_token
from jwt.exceptions import PyJWTError
from flask_jwt_extended.exceptions import JWTExtendedException

import redis.exceptions

from config import settings
from maiascore.accounts.service import find_user, find_user_by_identifier, normalise_email
from maiascore.auth.passwords import burn_verification_time, verify_password
from maiascore.connections import get_db, get_redis, utcnow
from maiascore.http.errors import abort

TOKEN_PREFIX = "mst_"


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
        abort(429, "Too many failed logins; try again in a minute", headers={"Retry-After": "60"})
    user = find_user_by_identifier(identifier)
    if user is None:
        burn_verification_time(password)
    if user is None or not verify_password(user["password"], password):
        for key in keys:
            _bump(key)
        abort(400, "Invalid identifier or password")
    if user.get("blocked"):
        abort(401, "This account is blocked")
    return user, issue_jwt(user)


def issue_jwt(user):
    from datetime import timedelta

    return create_access_token(identity=str(user["_id"]),
                               expires_delta=timedelta(seconds=settings().JWT_EXPIRES_SECONDS))


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
        abort(404, "Token not found")
    doc = get_db().api_tokens.find_one_and_delete({"_id": oid, "user": user["_id"]})
    if doc is None:
        abort(404, "Token not found")
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
    try:
        claims = decode_token(token)
    except (PyJWTError, JWTExtendedException, ValueError, KeyError):
        return None
    try:
        return find_user(int(claims["sub"]))
    except (TypeError, ValueError):
        return None


def user_from_request(request):
    """The authenticated user, ``None`` without credentials; 401 for bad ones."""
    header = request.headers.get("Authorization", "")
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
        _bump(f"unauthorized:ip:{request.remote_addr}")
        abort(401, "Invalid, expired or revoked credentials")
    if user.get("blocked"):
        abort(401, "This account is blocked")
    return user


def too_many_unauthorized(request):
    return _count(f"unauthorized:ip:{request.remote_addr}") >= settings().UNAUTHORIZED_PER_MINUTE
