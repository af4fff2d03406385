"""Alert rules: what a v7 body may say, how it is stored, and the group's bounds.

A rule watches one metric of the registry (``metrics.py``) over a window, compares it with a
threshold, and raises an alert when ``roundsViolatingRequired`` of the last
``roundsViolatingOutOf`` evaluations violate. MaiaScore's words travel in the body's
``maiascore`` extension; the readable ``expression`` (``((failureRate >= 5%))``) says the
same and may be sent instead.
"""
import re

from config import settings
from maiascore.alerts import metrics, states
from maiascore.clock import stored_now
from maiascore.connections import get_db, next_sequence
from maiascore.errors import Conflict, Invalid, NotFound

RULES = "alert_rules"
EXPRESSION = re.compile(r"^\s*\(*\s*([A-Za-z][A-Za-z0-9_]{0,63})\s*(>=|<=|==|!=|>|<)\s*"
                        r"(-?[0-9]{1,15}(?:\.[0-9]{1,15})?)\s*(%|s)?\s*\)*\s*$")
DEFAULT_WINDOW_SECONDS = 300
MAX_ROUNDS = 10
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
# ThousandEyes fields MaiaScore has no use for, kept as sent so the SDK reads back what it wrote.
KEPT = {"direction": str, "isDefault": bool, "alertGroupType": str, "roundsViolatingMode": str,
        "sensitivityLevel": str, "minimumSources": int, "minimumSourcesPct": int, "includeCoveredPrefixes": bool}


def shown(value):
    """An id as an answer may name it: one of ours, or a placeholder."""
    text = str(value)
    return text if re.match(states.ID_SHAPE, text) else "(not an id this API gives)"


def _item(field, message):
    return {"code": "INVALID_VALUE", "field": field, "message": message}


def _fail(field, message):
    raise Invalid(message, errors=[_item(field, message)])


def _number(value, field):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(field, f"{field} must be a number, not {value!r}")
    if value != value or value in (float("inf"), float("-inf")):
        _fail(field, f"{field} must be a finite number")
    return float(value)


def _whole(value, field, low, high, default=None):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, f"{field} must be a whole number, not {value!r}")
    if not low <= value <= high:
        _fail(field, f"{field} must be between {low} and {high}")
    return value


def _text(value, field, limit, required=False):
    if value is None or value == "":
        if required:
            _fail(field, f"{field} is required")
        return ""
    if not isinstance(value, str):
        _fail(field, f"{field} must be text")
    if len(value) > limit:
        _fail(field, f"{field} is longer than {limit} characters")
    return value


def parse_expression(text):
    """``((key op number[%]))`` as (key, comparison, threshold, unit)."""
    if not isinstance(text, str) or len(text) > 256:
        _fail("expression", "expression must be text such as ((failureRate >= 5%))")
    match = EXPRESSION.match(text)
    if not match:
        _fail("expression", f"expression {text!r} is not one condition such as ((failureRate >= 5%)); MaiaScore "
                            "rules compare one metric with one threshold")
    key, comparison, threshold, unit = match.groups()
    return key, comparison, float(threshold), unit or ""


def expression_of(metric, comparison, threshold):
    unit = "%" if metric.unit == "%" else ""
    return f"(({metric.key} {comparison} {threshold:g}{unit}))"


def _condition(body, extension):
    """The metric, comparison and threshold: the extension's words win over the expression's."""
    parsed = parse_expression(body["expression"]) if body.get("expression") else None
    if extension.get("dataSource") or extension.get("metric"):
        metric = metrics.by_name(_text(extension.get("dataSource"), "maiascore.dataSource", 64, True),
                                 _text(extension.get("metric"), "maiascore.metric", 64, True))
    elif parsed:
        metric = metrics.by_key(parsed[0])
    else:
        _fail("expression", "expression is required, e.g. ((failureRate >= 5%)), unless maiascore names "
                            "dataSource, metric, comparison and threshold")
    if parsed and parsed[3] and parsed[3] != metric.unit:
        _fail("expression", f"{metric.key} is measured in {metric.unit or 'plain numbers'}, not {parsed[3]}")
    comparison = extension.get("comparison", parsed[1] if parsed else None)
    if comparison not in states.COMPARISONS:
        _fail("maiascore.comparison", "comparison must be one of " + ", ".join(states.COMPARISONS))
    threshold = extension.get("threshold", parsed[2] if parsed else None)
    if threshold is None:
        _fail("maiascore.threshold", "threshold is required")
    return metric, comparison, _number(threshold, "maiascore.threshold")


def _notifications(raw):
    if raw is None:
        return {}, 0
    if not isinstance(raw, dict):
        _fail("notifications", "notifications must be an object with email and webhook")
    for other in ("thirdParty", "customWebhook"):
        if raw.get(other):
            _fail(f"notifications.{other}", f"notifications.{other} is not supported; use webhook (a webhook "
                                            "operation's id) or email")
    out, count = {}, 0
    email = raw.get("email")
    if email:
        if not isinstance(email, dict):
            _fail("notifications.email", "notifications.email must be {recipients, message}")
        recipients = email.get("recipients") or []
        if not isinstance(recipients, list):
            _fail("notifications.email.recipients", "recipients must be a list of email addresses")
        for address in recipients:
            if not isinstance(address, str) or not EMAIL.match(address):
                _fail("notifications.email.recipients", f"{address!r} is not an email address")
        recipients = list(dict.fromkeys(recipients))
        count += len(recipients)
        if recipients:
            out["email"] = {"recipients": recipients,
                            "message": _text(email.get("message"), "notifications.email.message", 2000)}
    hooks = raw.get("webhook") or []
    if not isinstance(hooks, list):
        _fail("notifications.webhook", "notifications.webhook must be a list of {integrationId}")
    ids = []
    for hook in hooks:
        if not isinstance(hook, dict) or not isinstance(hook.get("integrationId"), str) or not hook["integrationId"]:
            _fail("notifications.webhook", "each webhook notification needs integrationId: a webhook operation's id")
        ids.append(hook["integrationId"][:64])
    ids = list(dict.fromkeys(ids))
    count += len(ids)
    if ids:
        out["webhook"] = ids
    return out, count


def clean(body):
    """The stored form of a v7 rule body; 400 naming the first field that is wrong."""
    cfg = settings()
    extension = body.get("maiascore") or {}
    if not isinstance(extension, dict):
        _fail("maiascore", "maiascore must be an object")
    metric, comparison, threshold = _condition(body, extension)
    condition = {"key": metric.key, "dataSource": metric.data_source, "metric": metric.metric,
                 "comparison": comparison, "threshold": threshold}
    if extension.get("measure") is not None:
        if not metric.measured:
            _fail("maiascore.measure", f"{metric.key} is a count or a rate and takes no measure")
        condition["measure"] = extension["measure"]
    if extension.get("filters"):
        condition["filters"] = extension["filters"]
    if metric.clean:
        condition = metric.clean(condition)
    elif condition.get("filters"):
        _fail("maiascore.filters", f"{metric.key} takes no filters")
    condition["windowSeconds"] = _whole(extension.get("windowSeconds"), "maiascore.windowSeconds", 1,
                                        cfg.ALERT_MAX_WINDOW_SECONDS, DEFAULT_WINDOW_SECONDS)
    condition["minimumCount"] = _whole(extension.get("minimumCount"), "maiascore.minimumCount", 0, 10 ** 9, 1)
    for key in ("dashboardId", "widgetId"):
        if extension.get(key) not in (None, ""):
            condition[key] = _text(str(extension[key]), f"maiascore.{key}", 64)
    out_of = _whole(body.get("roundsViolatingOutOf"), "roundsViolatingOutOf", 1, MAX_ROUNDS, 1)
    required = _whole(body.get("roundsViolatingRequired"), "roundsViolatingRequired", 1, MAX_ROUNDS, out_of)
    if required > out_of:
        _fail("roundsViolatingRequired", "roundsViolatingRequired cannot exceed roundsViolatingOutOf")
    severity = body.get("severity") or states.DEFAULT_SEVERITY
    if not isinstance(severity, str) or severity.lower() not in states.SEVERITIES:
        _fail("severity", "severity must be one of " + ", ".join(states.SEVERITIES))
    notify_on_clear = body.get("notifyOnClear", False)
    if not isinstance(notify_on_clear, bool):
        _fail("notifyOnClear", "notifyOnClear must be true or false")
    notifications, count = _notifications(body.get("notifications"))
    if count > cfg.ALERT_NOTIFICATIONS_PER_RULE:
        _fail("notifications", f"a rule notifies at most ALERT_NOTIFICATIONS_PER_RULE = "
                               f"{cfg.ALERT_NOTIFICATIONS_PER_RULE} webhooks and email recipients; this one "
                               f"names {count}")
    kept = {key: body[key] for key, kind in KEPT.items()
            if isinstance(body.get(key), kind) and not (kind is int and isinstance(body[key], bool))}
    alert_type = body.get("alertType") or "api"
    return {"ruleName": _text(body.get("ruleName"), "ruleName", 255, True),
            "description": _text(body.get("description"), "description", 4000),
            "alertType": _text(alert_type, "alertType", 64), "severity": severity.lower(),
            "notifyOnClear": notify_on_clear, "roundsViolatingOutOf": out_of, "roundsViolatingRequired": required,
            "expression": expression_of(metric, comparison, threshold), "condition": condition,
            "notifications": notifications, "kept": kept}


def _check_integrations(aid, fields, operation_ids):
    missing = [i for i in (fields["notifications"].get("webhook") or ()) if i not in operation_ids]
    if missing:
        _fail("notifications.webhook", f"webhook operation {shown(missing[0])} not found; create it with POST "
                                       "/v7/operations/webhooks")


def list_rules(aid, dashboard_id=None):
    query = {"aid": aid}
    if dashboard_id:
        query["condition.dashboardId"] = str(dashboard_id)
    return list(get_db()[RULES].find(query).sort("seq", 1))


def get_rule(aid, rule_id):
    doc = get_db()[RULES].find_one({"aid": aid, "_id": str(rule_id)})
    if doc is None:
        raise NotFound(f"Alert rule {shown(rule_id)} not found")
    return doc


def create_rule(aid, user_id, body, operation_ids):
    fields = clean(body)
    _check_integrations(aid, fields, operation_ids)
    limit = settings().ALERT_RULES_PER_GROUP
    if get_db()[RULES].count_documents({"aid": aid}) >= limit:
        raise Conflict(f"this account group has ALERT_RULES_PER_GROUP = {limit} alert rules already; delete one "
                       "first")
    seq = next_sequence("alert_rules")
    now = stored_now()
    doc = {"_id": str(seq), "seq": seq, "aid": aid, **fields, "createdBy": user_id, "modifiedBy": user_id,
           "created_at": now, "modified_at": now, "activeAlertId": None, "lastTick": None}
    get_db()[RULES].insert_one(doc)
    return doc


def update_rule(aid, rule_id, user_id, body, operation_ids):
    doc = get_rule(aid, rule_id)
    fields = clean(body)
    _check_integrations(aid, fields, operation_ids)
    get_db()[RULES].update_one({"_id": doc["_id"]}, {"$set": {**fields, "modifiedBy": user_id,
                                                              "modified_at": stored_now()}})
    return get_rule(aid, rule_id)


def delete_rule(aid, rule_id):
    doc = get_rule(aid, rule_id)
    get_db()[RULES].delete_one({"_id": doc["_id"]})
    return doc


def rules_using(aid, operation_id):
    return list(get_db()[RULES].find({"aid": aid, "notifications.webhook": operation_id}, {"_id": 1}))
