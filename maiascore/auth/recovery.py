"""Password recovery as Strapi v3's users-permissions plugin speaks it: forgot-password mails a code,
reset-password trades the code and a new password for a JWT.

The answer to forgot-password never depends on the email (known, unknown, blocked or mail trouble
all answer ``{ok: true}``), nor does the work behind it: the request queues a job on the ``mail``
queue, and the job looks the email up and sends the code. A code has 256 random bits, is stored only as its SHA-256, serves once
(taken with an atomic find-and-delete), expires after ``PASSWORD_RESET_EXPIRES_SECONDS``, and a new
one replaces the user's earlier ones. A reset ends every existing login of the user.
"""
import hashlib
import logging
import secrets
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from config import settings
from maiascore.accounts.service import find_user, normalise_email, set_password
from maiascore.auth import mail
from maiascore.auth.service import admit_credential_attempt, issue_jwt
from maiascore.clock import utcnow
from maiascore.connections import get_db
from maiascore.errors import Invalid, Unprocessable
from maiascore.queue import MAIL, enqueue
from maiascore.throttle import bump, once

log = logging.getLogger("maiascore.auth")

MAILS_PER_HOUR_PER_EMAIL = 5  # beyond this, forgot-password still answers ok but mails nothing
INCORRECT_CODE = "Incorrect code provided"
PASSWORDS_DIFFER = "Passwords do not match"


def _code_hash(code):
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def forgot_password(email, source_ip):
    """Queues the reset mail; the request does the same work whether or not ``email`` has an account
    (count the address, queue one job), so neither its answer nor its timing tells which emails exist."""
    admit_credential_attempt(source_ip)
    enqueue(MAIL, send_reset_code, normalise_email(email), uuid.uuid4().hex)


def send_reset_code(email, request_id):
    """Job: mails a reset code to the account holding ``email``, if there is one. ``request_id`` makes
    it run once: a second run of the same request would replace the code the first mail carries."""
    if not once(f"reset-mail:request:{request_id}", window=3600):
        return
    user = get_db().users.find_one({"email": email})
    if user is None or user.get("blocked"):
        return
    if bump(f"reset-mail:user:{user['_id']}", window=3600) > MAILS_PER_HOUR_PER_EMAIL:
        return
    cfg = settings()
    code = secrets.token_hex(32)
    db = get_db()
    db.password_resets.delete_many({"$or": [{"user": user["_id"]}, {"expires_at": {"$lte": utcnow()}}]})
    db.password_resets.insert_one({"_id": _code_hash(code), "user": user["_id"], "created_at": utcnow(),
                                   "expires_at": utcnow() + timedelta(seconds=cfg.PASSWORD_RESET_EXPIRES_SECONDS)})
    try:
        mail.send(mail.compose(user["email"], "Reset your MaiaScore password", _reset_text(user, code)))
    except OSError as exc:
        log.warning("password reset mail for user %s not sent: %s", user["_id"], type(exc).__name__)


def _reset_text(user, code):
    cfg = settings()
    minutes = max(cfg.PASSWORD_RESET_EXPIRES_SECONDS // 60, 1)
    where = (f"Open {cfg.PASSWORD_RESET_URL}?{urlencode({'code': code})}" if cfg.PASSWORD_RESET_URL
             else "Send it with your new password to POST /auth/reset-password")
    return (f"Hello {user['username']},\n\n"
            "Someone, hopefully you, asked to reset the password of your MaiaScore account.\n"
            f"Your reset code, valid {minutes} minutes and only once:\n\n{code}\n\n{where}.\n\n"
            "If you did not ask for this, ignore this message: your password stays as it is.\n")


def reset_password(code, password, confirmation, source_ip):
    """The user and a fresh JWT; the code is spent even when the account turns out blocked."""
    admit_credential_attempt(source_ip)
    if password != confirmation:
        raise Invalid(PASSWORDS_DIFFER)
    if len(password) < 8:
        raise Unprocessable("Request validation failed", errors={"password": ["At least 8 characters."]})
    entry = get_db().password_resets.find_one_and_delete({"_id": _code_hash(code), "expires_at": {"$gt": utcnow()}})
    user = find_user(entry["user"]) if entry else None
    if user is None or user.get("blocked"):
        raise Invalid(INCORRECT_CODE)
    user = set_password(user["_id"], password)
    return user, issue_jwt(user)
