"""Webhook connectors (where: a target URL, its credentials and headers) and webhook operations
(what: an alert webhook a rule names, sent through the one connector assigned to it), as
ThousandEyes v7 integrations model them.

Every target is checked by ``targets.check`` before it is saved. Each connector signs what it
sends with a secret of its own, shown once when the connector is created (or set by the
client); credentials are stored for delivery and answered masked.
"""
import re
import secrets
import uuid
from urllib.parse import urlsplit, urlunsplit

from config import settings
from maiascore.alerts import states, targets
from maiascore.alerts.rules import shown
from maiascore.clock import stored_now
from maiascore.connections import get_db
from maiascore.errors import Conflict, Invalid, NotFound

CONNECTORS = "alert_connectors"
OPERATIONS = "alert_webhook_operations"
MASK = "********"
AUTH_TYPES = {"basic": ("username", "password"), "bearer-token": ("token",), "other-token": ("token",)}
SECRET_FIELDS = ("password", "token")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
RESERVED_HEADERS = {"host", "content-length", "content-type", "transfer-encoding", "connection", "authorization",
                    "user-agent", "expect", "te", "upgrade", "proxy-authorization"}
MAX_HEADERS = 20
PATH = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:/%?]*$")


def _fail(field, message):
    raise Invalid(message, errors=[{"code": "INVALID_VALUE", "field": field, "message": message}])


def _name(value, field="name"):
    if not isinstance(value, str) or not value.strip():
        _fail(field, f"{field} is required")
    if len(value) > 255:
        _fail(field, f"{field} is longer than 255 characters")
    return value


def _headers(raw, field="headers"):
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_HEADERS:
        _fail(field, f"{field} must be a list of at most {MAX_HEADERS} {{name, value}}")
    out = []
    for header in raw:
        name, value = (header or {}).get("name"), (header or {}).get("value")
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            _fail(field, f"header name {name!r} is not a valid HTTP header name")
        if name.lower() in RESERVED_HEADERS or name.lower().startswith("x-maiascore-"):
            _fail(field, f"header {name!r} is set by MaiaScore and cannot be overridden")
        if not isinstance(value, str) or len(value) > 1024 or any(c in value for c in "\r\n\0"):
            _fail(field, f"header {name!r} needs a value of at most 1024 characters on one line")
        out.append({"name": name, "value": value})
    return out


def _authentication(raw, current=None):
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in AUTH_TYPES:
        _fail("authentication", "authentication.type must be one of " + ", ".join(AUTH_TYPES))
    out = {"type": raw["type"]}
    for key in AUTH_TYPES[raw["type"]]:
        value = raw.get(key)
        if key in SECRET_FIELDS and value == MASK and current and current.get("type") == raw["type"]:
            value = current.get(key)  # a masked value read back and sent again keeps the stored one
        if not isinstance(value, str) or not value or len(value) > 1024:
            _fail(f"authentication.{key}", f"authentication.{key} is required (at most 1024 characters)")
        out[key] = value
    return out


def _secret(extension, required=False):
    value = (extension or {}).get("signingSecret")
    if value is None:
        return secrets.token_urlsafe(32) if required else None
    if not isinstance(value, str) or not 16 <= len(value) <= 256:
        _fail("maiascore.signingSecret", "maiascore.signingSecret must be 16 to 256 characters")
    return value


def _bound(collection, aid, what):
    limit = settings().WEBHOOK_CONNECTORS_PER_GROUP
    if get_db()[collection].count_documents({"aid": aid}) >= limit:
        raise Conflict(f"this account group has WEBHOOK_CONNECTORS_PER_GROUP = {limit} {what} already; delete one "
                       "first")


# --- connectors ----------------------------------------------------------------------------


def list_connectors(aid):
    return list(get_db()[CONNECTORS].find({"aid": aid}).sort("created_at", 1))


def get_connector(aid, connector_id):
    doc = get_db()[CONNECTORS].find_one({"aid": aid, "_id": str(connector_id)})
    if doc is None:
        raise NotFound(f"Connector {shown(connector_id)} not found")
    return doc


def _connector_fields(body, current=None):
    if body.get("type") not in (None, "generic"):
        _fail("type", "type must be 'generic'")
    target = body.get("target")
    targets.check(target)  # refused here, before anything connects
    return {"type": "generic", "name": _name(body.get("name")), "target": target.strip(),
            "authentication": _authentication(body.get("authentication"), (current or {}).get("authentication")),
            "headers": _headers(body.get("headers"))}


def create_connector(aid, user_id, body):
    fields = _connector_fields(body)
    _bound(CONNECTORS, aid, "connectors")
    now = stored_now()
    doc = {"_id": uuid.uuid4().hex, "aid": aid, **fields, "secret": _secret(body.get("maiascore"), required=True),
           "createdBy": user_id, "created_at": now, "modified_at": now}
    get_db()[CONNECTORS].insert_one(doc)
    return doc


def update_connector(aid, connector_id, body):
    doc = get_connector(aid, connector_id)
    fields = _connector_fields(body, doc)
    secret = _secret(body.get("maiascore"))
    if secret:
        fields["secret"] = secret
    fields["modified_at"] = stored_now()
    get_db()[CONNECTORS].update_one({"_id": doc["_id"]}, {"$set": fields})
    return get_connector(aid, connector_id), secret


def delete_connector(aid, connector_id):
    doc = get_connector(aid, connector_id)
    get_db()[OPERATIONS].update_many({"aid": aid, "connectorId": doc["_id"]}, {"$set": {"connectorId": None}})
    get_db()[CONNECTORS].delete_one({"_id": doc["_id"]})


def connector_operations(aid, connector_id):
    doc = get_connector(aid, connector_id)
    assigned = get_db()[OPERATIONS].find({"aid": aid, "connectorId": doc["_id"]}).sort("created_at", 1)
    return [op["_id"] for op in assigned]


def set_connector_operations(aid, connector_id, operation_ids):
    doc = get_connector(aid, connector_id)
    ids = _ids(operation_ids, "operation ids")
    for op_id in ids:
        get_operation(aid, op_id)
    get_db()[OPERATIONS].update_many({"aid": aid, "connectorId": doc["_id"], "_id": {"$nin": ids}},
                                     {"$set": {"connectorId": None}})
    if ids:
        get_db()[OPERATIONS].update_many({"aid": aid, "_id": {"$in": ids}}, {"$set": {"connectorId": doc["_id"]}})
    return connector_operations(aid, connector_id)


def _ids(raw, what):
    if not isinstance(raw, list) or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in raw):
        raise Invalid(f"the body must be a list of {what}")
    if len(raw) > settings().WEBHOOK_CONNECTORS_PER_GROUP:
        raise Invalid(f"at most WEBHOOK_CONNECTORS_PER_GROUP = {settings().WEBHOOK_CONNECTORS_PER_GROUP} {what}")
    return list(dict.fromkeys(raw))


# --- webhook operations --------------------------------------------------------------------


def list_operations(aid):
    return list(get_db()[OPERATIONS].find({"aid": aid}).sort("created_at", 1))


def operation_ids(aid):
    return {doc["_id"] for doc in get_db()[OPERATIONS].find({"aid": aid}, {"_id": 1})}


def get_operation(aid, operation_id):
    doc = get_db()[OPERATIONS].find_one({"aid": aid, "_id": str(operation_id)})
    if doc is None:
        raise NotFound(f"Webhook operation {shown(operation_id)} not found")
    return doc


def _operation_fields(body):
    if body.get("category") not in (None, "alerts"):
        _fail("category", "category must be 'alerts': MaiaScore sends alert notifications only")
    if body.get("type") not in (None, "webhook"):
        _fail("type", "type must be 'webhook'")
    path = body.get("path") or ""
    if path and (not isinstance(path, str) or len(path) > 1024 or not PATH.match(path)):
        _fail("path", "path must start with / and hold URL path characters only")
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        _fail("enabled", "enabled must be true or false")
    fields = {"name": _name(body.get("name")), "enabled": enabled, "category": "alerts", "type": "webhook",
              "path": path, "headers": _headers(body.get("headers"))}
    for key in ("payload", "queryParams"):
        value = body.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > settings().ALERT_MAX_BODY_BYTES):
            _fail(key, f"{key} must be text of at most ALERT_MAX_BODY_BYTES = {settings().ALERT_MAX_BODY_BYTES}")
        fields[key] = value
    return fields


def create_operation(aid, user_id, body):
    fields = _operation_fields(body)
    _bound(OPERATIONS, aid, "webhook operations")
    now = stored_now()
    doc = {"_id": uuid.uuid4().hex, "aid": aid, **fields, "status": states.OP_PENDING, "connectorId": None,
           "createdBy": user_id, "created_at": now, "modified_at": now}
    get_db()[OPERATIONS].insert_one(doc)
    return doc


def update_operation(aid, operation_id, body):
    doc = get_operation(aid, operation_id)
    fields = _operation_fields(body)
    fields["modified_at"] = stored_now()
    get_db()[OPERATIONS].update_one({"_id": doc["_id"]}, {"$set": fields})
    return get_operation(aid, operation_id)


def delete_operation(aid, operation_id, used_by):
    doc = get_operation(aid, operation_id)
    if used_by:
        raise Conflict(f"webhook operation {operation_id} is used by alert rule {used_by[0]['_id']}; remove it "
                       "from the rule's notifications first")
    get_db()[OPERATIONS].delete_one({"_id": doc["_id"]})


def operation_connectors(aid, operation_id):
    doc = get_operation(aid, operation_id)
    return [doc["connectorId"]] if doc.get("connectorId") else []


def set_operation_connectors(aid, operation_id, connector_ids):
    doc = get_operation(aid, operation_id)
    ids = _ids(connector_ids, "connector ids")
    if len(ids) > 1:
        raise Invalid("a webhook operation is sent through one connector: send a list of at most one id")
    for connector_id in ids:
        get_connector(aid, connector_id)
    get_db()[OPERATIONS].update_one({"_id": doc["_id"]}, {"$set": {"connectorId": ids[0] if ids else None}})
    return ids


def url_of(connector, operation):
    """The connector's target with the operation's path appended below it (same scheme, host and port)."""
    parts = urlsplit(connector["target"])
    path = operation.get("path") or ""
    if not path:
        return connector["target"]
    extra_path, _, extra_query = path.partition("?")
    joined = parts.path.rstrip("/") + extra_path
    query = "&".join(q for q in (parts.query, extra_query) if q)
    return urlunsplit((parts.scheme, parts.netloc, joined, query, ""))
