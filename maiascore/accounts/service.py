"""Users, account groups and memberships: the tenant model every resource hangs off.

Emails and usernames are unique across every account group (a login names one account, whatever
the group), yet a refusal never says which one is taken nor where: creating a user whose email or
username exists anywhere answers the same ``USED_IDENTIFIER`` 409 for every cause, and each group
may try only ``USER_CREATIONS_PER_HOUR_PER_GROUP`` creations an hour, so a tenant cannot tell
who else uses the service by probing. Usernames hold no ``@``: an email and a username can never
be the same string, so one account can never take another's email as its login.
"""
import re

from pymongo.errors import DuplicateKeyError

from config import settings
from maiascore.accounts.passwords import hash_password
from maiascore.accounts.permissions import (ACCOUNT_ADMIN, MANAGE_USERS, ROLE_IDS, permissions_of, role_id_for,
                                            role_name)
from maiascore.accounts.revocation import credentials_changed
from maiascore.clock import utcnow
from maiascore.connections import get_db, next_sequence
from maiascore.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unprocessable
from maiascore.events import GROUP_CREATED
from maiascore.throttle import bump

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_PATTERN = r"^[A-Za-z0-9_.+-]{3,64}$"
USERNAME_RE = re.compile(USERNAME_PATTERN)
USERNAME_RULE = "3 to 64 letters, digits or _.+- (no @: a username cannot be an email)"
USED_IDENTIFIER = "This email or username cannot be used"
LAST_ADMIN = ("An account group needs at least one Account Admin who is not blocked: "
              "make another member Account Admin first")
ADMIN = ROLE_IDS[ACCOUNT_ADMIN]
OPERATOR = "operator"  # the actor of the maiascore CLI, which holds the database's keys anyway
CREDENTIALS = ("username", "email", "password", "blocked")
CREDENTIALS_RULE = ("Forbidden: a user's name, email, password, blocked state and deletion change only by "
                    "themselves, the operator, or an Account Admin of every account group the user belongs to; "
                    "an admin of one group changes only the user's role or membership in that group")


def create_account_group(name):
    db = get_db()
    aid = next_sequence("account_groups", db)
    doc = {"_id": aid, "name": name, "created_at": utcnow()}
    db.account_groups.insert_one(doc)
    GROUP_CREATED.send(aid=aid)
    return doc


def find_account_group_by_name(name):
    return get_db().account_groups.find_one({"name": name})


def ensure_account_group(name):
    return find_account_group_by_name(name) or create_account_group(name)


def account_groups_by_id(aids):
    return {doc["_id"]: doc for doc in get_db().account_groups.find({"_id": {"$in": list(aids)}})}


def account_groups_of(user, current_aid):
    """The groups ``user`` belongs to, flagging the one in context and their default (v6 shape)."""
    groups = account_groups_by_id(m["aid"] for m in user["memberships"])
    return [{"accountGroupName": groups.get(m["aid"], {}).get("name"), "aid": m["aid"],
             "current": int(m["aid"] == current_aid), "default": int(m["aid"] == user.get("defaultAid"))}
            for m in user["memberships"]]


def normalise_email(email):
    return (email or "").strip().lower()


def validate_new_user(username, email, password):
    errors = {}
    if not EMAIL_RE.match(normalise_email(email)):
        errors["email"] = ["Not a valid email address."]
    if not USERNAME_RE.match(username or ""):
        errors["username"] = [USERNAME_RULE]
    if not isinstance(password, str) or len(password) < 8:
        errors["password"] = ["At least 8 characters."]
    if errors:
        raise Unprocessable("Request validation failed", errors=errors)


def create_user(username, email, password, memberships, confirmed=True, blocked=False):
    """``memberships`` is a list of ``{aid, roleId}``; the first one is the default group."""
    db = get_db()
    email = normalise_email(email)
    if db.users.find_one({"$or": [{"email": email}, {"username": username}]}, {"_id": 1}):
        raise Conflict(USED_IDENTIFIER)
    doc = {
        "_id": next_sequence("users", db),
        "username": username,
        "email": email,
        "provider": "local",
        "password": hash_password(password),
        "confirmed": confirmed,
        "blocked": blocked,
        "memberships": memberships,
        "credentialEpoch": 0,
        "defaultAid": memberships[0]["aid"] if memberships else None,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    try:
        db.users.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict(USED_IDENTIFIER)
    return doc


def find_user(user_id):
    return get_db().users.find_one({"_id": user_id})


def find_user_by_identifier(identifier):
    """Exactly one account or none: an identifier with ``@`` is an email, and the account holding
    that email wins over an older account whose username is that string (made before usernames
    refused ``@``); an identifier without ``@`` can only be a username."""
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    users = get_db().users
    if "@" in identifier:
        return users.find_one({"email": normalise_email(identifier)}) or users.find_one({"username": identifier})
    return users.find_one({"username": identifier})


def membership(user, aid):
    for entry in user.get("memberships", []):
        if entry["aid"] == aid:
            return entry
    return None


def role_in(user, aid):
    entry = membership(user, aid)
    return entry["roleId"] if entry else None


def v6_user(user):
    groups = account_groups_by_id(m["aid"] for m in user.get("memberships", []))
    return {
        "uid": user["_id"],
        "name": user["username"],
        "email": user["email"],
        "blocked": bool(user.get("blocked", False)),
        "dateRegistered": user["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
        "accountGroupRoles": [
            {
                "accountGroup": {"aid": m["aid"], "accountGroupName": groups.get(m["aid"], {}).get("name")},
                "roles": [{"roleId": m["roleId"], "name": role_name(m["roleId"])}],
            }
            for m in user.get("memberships", [])
        ],
    }


def users_in_group(aid):
    return list(get_db().users.find({"memberships.aid": aid}).sort("_id", 1))


def list_users(list_query):
    """A Strapi list of users; the route builds ``list_query`` on the caller's group."""
    cursor = get_db().users.find(list_query.filter).sort(list_query.sort).skip(list_query.skip)
    return list(cursor.limit(list_query.limit))


def count_users(list_query):
    return get_db().users.count_documents(list_query.filter)


def admit_user_creation(scope):
    """Counts one attempt to create a user for ``scope`` (``aid:3``, ``ip:1.2.3.4``); refuses past the
    hourly budget, whether the attempts succeed or not, so probing for taken emails stays slow."""
    limit = settings().USER_CREATIONS_PER_HOUR_PER_GROUP
    if bump(f"user-create:{scope}", window=3600) > limit:
        raise RateLimited(f"At most {limit} user creations an hour; try again later", retry_after=3600)


def end_sessions(user_id):
    """Ends every login of a user at once: bumps the credential epoch every JWT carries (checked on
    each request) and deletes their API tokens and password reset codes."""
    db = get_db()
    db.users.update_one({"_id": user_id}, {"$inc": {"credentialEpoch": 1}, "$set": {"updated_at": utcnow()}})
    db.api_tokens.delete_many({"user": user_id})
    db.password_resets.delete_many({"user": user_id})
    credentials_changed(user_id)


def set_password(user_id, password):
    """A new password ends every existing login (JWTs and API tokens)."""
    get_db().users.update_one({"_id": user_id}, {"$set": {"password": hash_password(password)}})
    end_sessions(user_id)
    return find_user(user_id)


def _is_active_admin(user, aid):
    return role_in(user, aid) == ADMIN and not user.get("blocked")


def _active_admins(aid):
    return get_db().users.count_documents({"memberships": {"$elemMatch": {"aid": aid, "roleId": ADMIN}},
                                           "blocked": {"$ne": True}})


def user_in_group(user_id, aid):
    user = get_db().users.find_one({"_id": user_id, "memberships.aid": aid})
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


def add_user_to_group(username, email, password, aid, role):
    role_id = role_id_for(role)
    if role_id is None:
        raise Invalid(f"Unknown role {role!r}; roles are {', '.join(ROLE_IDS)}")
    validate_new_user(username, email, password)
    admit_user_creation(f"aid:{aid}")
    return create_user(username, email, password, [{"aid": aid, "roleId": role_id}])


def may_change_credentials(actor, user):
    """A user's credentials are theirs: only they, the operator or an admin of every group they
    belong to change them, so one group's admin cannot take over a member another group relies on."""
    if actor is OPERATOR or actor["_id"] == user["_id"]:
        return True
    return all(has_permission(actor, m["aid"], MANAGE_USERS) for m in user.get("memberships", []))


def _role_id(value):
    role_id = role_id_for(value)
    if role_id is None:
        raise Invalid(f"Unknown role {value!r}; roles are {', '.join(ROLE_IDS)}")
    return role_id


def _with_role(memberships, aid, role_id):
    """The memberships with ``role_id`` in ``aid``, added when the user is not in that group yet."""
    if any(m["aid"] == aid for m in memberships):
        return [dict(m, roleId=role_id) if m["aid"] == aid else m for m in memberships]
    return memberships + [{"aid": aid, "roleId": role_id}]


def _group_roles(actor, entries):
    """``accountGroupRoles`` entries as ``{aid: roleId}``, each in a group the actor administers."""
    roles = {}
    for entry in entries:
        aid = entry["accountGroupId"]
        if actor is not OPERATOR and not has_permission(actor, aid, MANAGE_USERS):
            raise Forbidden(f"Only an Account Admin of account group {aid} may change a user's role there")
        if not account_groups_by_id([aid]):
            raise NotFound(f"No account group with aid {aid}")
        if len(entry["roleIds"]) != 1:
            raise Invalid("accountGroupRoles: exactly one roleId per account group")
        roles[aid] = _role_id(entry["roleIds"][0])
    return roles


def _admins_lost(before, after):
    """The groups where ``before`` was an active admin and ``after`` is not."""
    return [m["aid"] for m in before.get("memberships", [])
            if _is_active_admin(before, m["aid"]) and not _is_active_admin(after, m["aid"])]


def _last_admin(aid):
    return Conflict(f"{LAST_ADMIN} (account group {aid})")


def update_user_in_group(user, aid, changes, actor):
    """Changes a user seen from group ``aid``: their role there (``role``), their roles in groups the
    actor administers (``accountGroupRoles``), and, if ``may_change_credentials``, their name,
    password or blocked state.

    A change that would leave any group without an Account Admin who is not blocked answers 409;
    a new password or a block ends the user's existing logins at once. A rename counts against the
    group's creation budget, as probing for a taken name by renaming is as good as by creating."""
    db = get_db()
    update = {"updated_at": utcnow()}
    memberships = user["memberships"]
    if "role" in changes:
        memberships = _with_role(memberships, aid, _role_id(changes["role"]))
    for group, role_id in _group_roles(actor, changes.get("accountGroupRoles", [])).items():
        memberships = _with_role(memberships, group, role_id)
    if memberships != user["memberships"]:
        update["memberships"] = memberships
    if "blocked" in changes:
        if not isinstance(changes["blocked"], bool):
            raise Unprocessable("Request validation failed", errors={"blocked": ["Not a valid boolean."]})
        if changes["blocked"] != bool(user.get("blocked")):
            update["blocked"] = changes["blocked"]
    if "name" in changes:
        if not isinstance(changes["name"], str) or not USERNAME_RE.match(changes["name"]):
            raise Unprocessable("Request validation failed", errors={"name": [USERNAME_RULE]})
        if changes["name"] != user["username"]:
            update["username"] = changes["name"]
    if "password" in changes:
        if not isinstance(changes["password"], str) or len(changes["password"]) < 8:
            raise Unprocessable("Request validation failed", errors={"password": ["At least 8 characters."]})
        update["password"] = changes["password"]
    if any(key in update for key in CREDENTIALS) and not may_change_credentials(actor, user):
        raise Forbidden(CREDENTIALS_RULE)
    if "username" in update:
        admit_user_creation(f"aid:{aid}")
    if "password" in update:
        update["password"] = hash_password(update["password"])
    lost = _admins_lost(user, dict(user, **update))
    for group in lost:
        if _active_admins(group) <= 1:
            raise _last_admin(group)
    try:
        db.users.update_one({"_id": user["_id"]}, {"$set": update})
    except DuplicateKeyError:
        raise Conflict(USED_IDENTIFIER)
    credentials_changed(user["_id"])  # role, name or block: cached logins re-read the user
    emptied = [group for group in lost if _active_admins(group) == 0]
    if emptied:
        # Another admin left at the same time, past the same check: undo ours, so one stays.
        db.users.update_one({"_id": user["_id"]}, {"$set": {key: user.get(key) for key in update}})
        raise _last_admin(emptied[0])
    if "password" in update or update.get("blocked"):
        end_sessions(user["_id"])
    return db.users.find_one({"_id": user["_id"]})


def remove_user_from_group(user, aid):
    """Ends the user's logins; removing the last membership deletes the user and their API tokens.
    Removing the group's last Account Admin who is not blocked answers 409."""
    db = get_db()
    was_admin = _is_active_admin(user, aid)
    if was_admin and _active_admins(aid) <= 1:
        raise Conflict(LAST_ADMIN)
    remaining = [m for m in user["memberships"] if m["aid"] != aid]
    default = user.get("defaultAid") if user.get("defaultAid") != aid else (remaining[0]["aid"] if remaining else None)
    db.users.update_one({"_id": user["_id"]}, {"$set": {"memberships": remaining, "defaultAid": default}})
    if was_admin and _active_admins(aid) == 0:
        db.users.update_one({"_id": user["_id"]}, {"$set": {"memberships": user["memberships"],
                                                            "defaultAid": user.get("defaultAid")}})
        raise Conflict(LAST_ADMIN)
    if remaining:
        end_sessions(user["_id"])
    else:
        db.users.delete_one({"_id": user["_id"]})
        db.api_tokens.delete_many({"user": user["_id"]})
        db.password_resets.delete_many({"user": user["_id"]})
        credentials_changed(user["_id"])


def ensure_admin(email, password, group_name="Default"):
    """Idempotent bootstrap used by ``make run``: the Default group and its admin."""
    group = ensure_account_group(group_name)
    existing = find_user_by_identifier(email)
    if existing:
        return existing, group, False
    username = normalise_email(email).split("@")[0] or "admin"
    if get_db().users.find_one({"username": username}):
        username = f"{username}{group['_id']}"
    user = create_user(username, email, password, [{"aid": group["_id"], "roleId": ROLE_IDS[ACCOUNT_ADMIN]}])
    return user, group, True


def has_permission(user, aid, permission):
    return permission in permissions_of(role_in(user, aid))
