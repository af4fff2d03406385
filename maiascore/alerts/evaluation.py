"""One evaluation of a group's rules at one tick: measure, record the round, start or clear alerts,
and write the notifications the change calls for.

Safe to run twice for the same tick: a round is stored under ``ruleId:tick``; an alert is
started by claiming the rule's ``activeAlertId`` (one claim wins) under the id
``ruleId-tick``; notifications have ids of their own (``alertId:event:target``) and are
written once; an alert is marked notified only after its notifications are written.
"""
import json
import logging
import time
from datetime import datetime, timedelta, timezone

from maiascore import costs
from maiascore.alerts import metrics, states
from maiascore.alerts.connectors import CONNECTORS, OPERATIONS
from maiascore.alerts.rules import RULES
from maiascore.clock import stored_now
from maiascore.connections import get_db

log = logging.getLogger("maiascore.alerts")
ROUNDS = "alert_rounds"
ALERTS = "alerts"
DELIVERIES = "alert_deliveries"
NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


def tick_time(tick, cadence):
    return datetime.fromtimestamp(tick * cadence, timezone.utc)


def evaluate_group(aid, tick, cadence):
    """Evaluates every rule of ``aid``; returns the notification channels with new work and the
    ids of the rules that failed (logged and recorded on the rule)."""
    channels, failed = set(), []
    for rule in list(get_db()[RULES].find({"aid": aid})):
        try:
            channels |= evaluate_rule(rule, tick, cadence)
        except Exception as exc:
            log.exception("alert rule %s of group %s failed to evaluate at tick %s", rule["_id"], aid, tick)
            get_db()[RULES].update_one({"_id": rule["_id"]}, {"$set": {"lastError": type(exc).__name__,
                                                                       "lastErrorAt": stored_now()}})
            failed.append(rule["_id"])
    return channels, failed


def _version(rule):
    modified = rule.get("modified_at")
    return modified.replace(tzinfo=timezone.utc).timestamp() if modified else 0


def evaluate_rule(rule, tick, cadence):
    db = get_db()
    condition = rule["condition"]
    metric = metrics.by_key(condition["key"])
    end = tick_time(tick, cadence)
    start = end - timedelta(seconds=condition["windowSeconds"])
    began = time.monotonic()
    try:
        with costs.bounded_reads(heavy=True):  # past HEAVY_QUERY_MAX_TIME_MS: failed, logged and retried
            measured = metric.compute(rule["aid"], condition, start, end)
    finally:
        costs.spend(rule["aid"], time.monotonic() - began)  # rules count against the group's read budget
    violated = (measured.value is not None and measured.count >= condition.get("minimumCount", 1)
                and states.COMPARISONS[condition["comparison"]](measured.value, condition["threshold"]))
    version = _version(rule)
    db[ROUNDS].update_one({"_id": f"{rule['_id']}:{tick}"},
                          {"$set": {"aid": rule["aid"], "ruleId": rule["_id"], "tick": tick, "at": end,
                                    "value": measured.value, "count": measured.count, "violated": violated,
                                    "version": version}}, upsert=True)
    out_of, required = rule["roundsViolatingOutOf"], rule["roundsViolatingRequired"]
    recent = list(db[ROUNDS].find({"ruleId": rule["_id"], "version": version,
                                   "tick": {"$gt": tick - out_of, "$lte": tick}}, {"violated": 1}))
    holds = sum(1 for r in recent if r["violated"]) >= required
    db[RULES].update_one({"_id": rule["_id"]}, {"$set": {"lastTick": tick, "lastValue": measured.value,
                                                         "lastCount": measured.count, "lastEvaluatedAt": stored_now()},
                                                "$unset": {"lastError": ""}})
    current = db[RULES].find_one({"_id": rule["_id"]}, {"activeAlertId": 1}) or {}
    active = current.get("activeAlertId")
    if holds:
        if not active:
            claimed = f"{rule['_id']}-{tick}"
            db[RULES].update_one({"_id": rule["_id"], "activeAlertId": None}, {"$set": {"activeAlertId": claimed}})
            active = (db[RULES].find_one({"_id": rule["_id"]}, {"activeAlertId": 1}) or {}).get("activeAlertId")
            if not active:
                return set()
        return _raise(rule, active, end, measured, violated, metric)
    if active:
        return _clear(rule, active, end, measured, metric)
    return set()


def _raise(rule, alert_id, end, measured, violated, metric):
    db = get_db()
    condition = rule["condition"]
    update = {
        "$setOnInsert": {"aid": rule["aid"], "ruleId": rule["_id"], "ruleName": rule["ruleName"],
                         "severity": rule["severity"], "alertType": rule.get("alertType") or "api",
                         "expression": rule["expression"], "key": condition["key"], "unit": metric.unit,
                         "dataSource": condition["dataSource"], "metric": condition["metric"],
                         "comparison": condition["comparison"], "threshold": condition["threshold"],
                         "windowSeconds": condition["windowSeconds"], "state": states.TRIGGER,
                         "startDate": end, "endDate": None, "startValue": measured.value,
                         "startCount": measured.count, "triggerNotified": False, "clearNotified": False,
                         "dashboardId": condition.get("dashboardId"), "widgetId": condition.get("widgetId")},
        "$set": {"lastValue": measured.value, "lastCount": measured.count, "lastAt": end}}
    if violated:
        update["$addToSet"] = {"violatingTicks": end}
    db[ALERTS].update_one({"_id": alert_id}, update, upsert=True)
    alert = db[ALERTS].find_one({"_id": alert_id})
    if alert is None or alert["state"] != states.TRIGGER or alert.get("triggerNotified"):
        return set()
    channels = _notify(rule, alert, states.EVENT_TRIGGER)
    db[ALERTS].update_one({"_id": alert_id}, {"$set": {"triggerNotified": True}})
    return channels


def _clear(rule, alert_id, end, measured, metric):
    db = get_db()
    db[ALERTS].update_one({"_id": alert_id, "state": states.TRIGGER},
                          {"$set": {"state": states.CLEAR, "endDate": end, "endValue": measured.value,
                                    "endCount": measured.count, "lastValue": measured.value, "lastAt": end}})
    alert = db[ALERTS].find_one({"_id": alert_id})
    channels = set()
    if alert is not None and rule.get("notifyOnClear") and not alert.get("clearNotified"):
        channels = _notify(rule, alert, states.EVENT_CLEAR)
        db[ALERTS].update_one({"_id": alert_id}, {"$set": {"clearNotified": True}})
    db[RULES].update_one({"_id": rule["_id"], "activeAlertId": alert_id}, {"$set": {"activeAlertId": None}})
    return channels


def _iso(moment):
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload_of(alert, event, delivery_id):
    """The JSON every channel of one notification carries; fixed when written, so retries send the same bytes."""
    ended = event == states.EVENT_CLEAR
    return json.dumps({
        "eventType": event, "deliveryId": delivery_id, "aid": str(alert["aid"]),
        "alert": {"alertId": alert["_id"], "ruleId": alert["ruleId"], "ruleName": alert["ruleName"],
                  "state": states.CLEAR if ended else states.TRIGGER, "severity": alert["severity"],
                  "expression": alert["expression"], "dataSource": alert["dataSource"], "metric": alert["metric"],
                  "startDate": _iso(alert["startDate"]), "endDate": _iso(alert.get("endDate")) if ended else None,
                  "value": alert.get("endValue") if ended else alert.get("startValue"),
                  "count": alert.get("endCount") if ended else alert.get("startCount"),
                  "comparison": alert["comparison"], "threshold": alert["threshold"], "unit": alert.get("unit", ""),
                  "windowSeconds": alert["windowSeconds"]},
    }, separators=(",", ":"), sort_keys=True)


def _write(delivery):
    get_db()[DELIVERIES].update_one({"_id": delivery["_id"]}, {"$setOnInsert": delivery}, upsert=True)


def _notify(rule, alert, event):
    """Writes one notification per webhook operation (through its connector) and one per email list."""
    db = get_db()
    now = stored_now()
    channels = set()
    notifications = rule.get("notifications") or {}
    base = {"aid": rule["aid"], "alertId": alert["_id"], "ruleId": rule["_id"], "event": event,
            "status": states.PENDING, "attempts": [], "dueAt": now, "leaseUntil": NEVER, "created_at": now}
    for operation_id in notifications.get("webhook") or ():
        operation = db[OPERATIONS].find_one({"aid": rule["aid"], "_id": operation_id})
        if not operation or not operation.get("enabled", True) or not operation.get("connectorId"):
            log.warning("alert %s: webhook operation %s is missing, disabled or has no connector", alert["_id"],
                        operation_id)
            continue
        if db[CONNECTORS].find_one({"aid": rule["aid"], "_id": operation["connectorId"]}, {"_id": 1}) is None:
            continue
        delivery_id = f"{alert['_id']}:{event}:{operation_id}"
        _write({**base, "_id": delivery_id, "kind": "webhook", "channel": operation["connectorId"],
                "operationId": operation_id, "connectorId": operation["connectorId"],
                "payload": payload_of(alert, event, delivery_id)})
        channels.add(operation["connectorId"])
    email = notifications.get("email")
    if email and email.get("recipients"):
        delivery_id = f"{alert['_id']}:{event}:email"
        _write({**base, "_id": delivery_id, "kind": "email", "channel": f"email-{rule['aid']}",
                "recipients": email["recipients"], "message": email.get("message") or "",
                "payload": payload_of(alert, event, delivery_id)})
        channels.add(f"email-{rule['aid']}")
    return channels
