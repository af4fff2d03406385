"""Users, account groups and memberships: the tenant model every resource hangs off."""
import re

from pymongo.errors import DuplicateKeyError

from maiascore.accounts.permissions import ACCOUNT_ADMIN, ROLE_IDS, permissions_of, role_id_for, role_name
from maiascore.auth.passwords import hash_password
from maiascore.clock import utcnow
from maiascore.connections import get_db, next_sequence
from maiascore.errors import Conflict, Invalid, NotFound, Unprocessable
from maiascore.events import GROUP_CREATED

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@+-]{3,64}$")


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
        errors["username"] = ["3 to 64 letters, digits or _.@+-"]
    if not isinstance(password, str) or len(password) < 8:
        errors["password"] = ["At least 8 characters."]
    if errors:
        raise Unprocessable("Request validation failed", errors=errors)


def create_user(username, email, password, memberships, confirmed=True, blocked=False):
    """``memberships`` is a list of ``{aid, roleId}``; the first one is the default group."""
    db = get_db()
    email = normalise_email(email)
    if db.users.find_one({"$or": [{"email": email}, {"username": username}]}, {"_id": 1}):
        raise Conflict("A user with this email or username already exists")
    doc = {
        "_id": next_sequence("users", db),
        "username": username,
        "email": email,
        "provider": "local",
        "password": hash_password(password),
        "confirmed": confirmed,
        "blocked": blocked,
        "memberships": memberships,
        "defaultAid": memberships[0]["aid"] if memberships else None,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    try:
        db.users.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("A user with this email or username already exists")
    return doc


def find_user(user_id):
    return get_db().users.find_one({"_id": user_id})


def find_user_by_identifier(identifier):
    identifier = (identifier or "").strip()
    if not identifier:
        return None
    return get_db().users.find_one({"$or": [{"email": normalise_email(identifier)}, {"username": identifier}]})


def membership(user, aid):
    for entry in user.get("memberships", []):
        if entry["aid"] == aid:
            return entry
    return None


def role_in(user, aid):
    entry = membership(user, aid)
    return entry["roleId"] if entry else None


def public_user(user, aid=None):
    """The only shape a user ever leaves the service in: no hash, no token, no code."""
    if user is None:
        return None
    aid = aid if aid is not None else user.get("defaultAid")
    return {
        "id": user["_id"],
        "username": user["username"],
        "email": user["email"],
        "provider": user.get("provider", "local"),
        "confirmed": bool(user.get("confirmed", True)),
        "blocked": bool(user.get("blocked", False)),
        "role": role_name(role_in(user, aid)) or None,
    }


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
    return create_user(username, email, password, [{"aid": aid, "roleId": role_id}])


def update_user_in_group(user, aid, changes):
    """Group admins may change a member's role in their group, block state, name or password."""
    db = get_db()
    update = {"updated_at": utcnow()}
    if "role" in changes:
        role_id = role_id_for(changes["role"])
        if role_id is None:
            raise Invalid(f"Unknown role {changes['role']!r}; roles are {', '.join(ROLE_IDS)}")
        memberships = [dict(m, roleId=role_id) if m["aid"] == aid else m for m in user["memberships"]]
        update["memberships"] = memberships
    if "blocked" in changes:
        update["blocked"] = bool(changes["blocked"])
    if "name" in changes:
        update["username"] = changes["name"]
    if "password" in changes:
        if len(changes["password"] or "") < 8:
            raise Unprocessable("Request validation failed", errors={"password": ["At least 8 characters."]})
        update["password"] = hash_password(changes["password"])
    try:
        db.users.update_one({"_id": user["_id"]}, {"$set": update})
    except DuplicateKeyError:
        raise Conflict("A user with this username already exists")
    return db.users.find_one({"_id": user["_id"]})


def remove_user_from_group(user, aid):
    """Removing the last membership deletes the user and their API tokens."""
    db = get_db()
    remaining = [m for m in user["memberships"] if m["aid"] != aid]
    if remaining:
        default = user.get("defaultAid") if user.get("defaultAid") != aid else remaining[0]["aid"]
        db.users.update_one({"_id": user["_id"]}, {"$set": {"memberships": remaining, "defaultAid": default}})
    else:
        db.users.delete_one({"_id": user["_id"]})
        db.api_tokens.delete_many({"user": user["_id"]})


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
